"""docs/cli.md is what the CLI prints: regenerate it with ``python scripts/cli_docs.py``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_docs_match_the_cli() -> None:
    spec = importlib.util.spec_from_file_location("cli_docs", ROOT / "scripts" / "cli_docs.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    want = mod.render()
    got = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert "## crossview compare" in want and "## crossview eval" in want
    assert got == want, "docs/cli.md is stale: run  python scripts/cli_docs.py"
