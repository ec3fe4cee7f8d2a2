"""The package's layers: a lower layer never imports an upper one (lazy imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import crossview

ROOT = Path(crossview.__file__).parent

# package -> the crossview packages it may import (besides itself)
PRIMITIVES = {"errors", "files", "progress", "executors"}
ALLOWED = {
    "errors": set(),
    "files": {"errors"},
    "progress": {"errors"},
    "executors": {"errors", "progress"},
    "geometry": {"errors", "files"},
    "dataset": {"errors", "files"},
    "scene": PRIMITIVES | {"geometry"},
    "render": PRIMITIVES | {"geometry", "scene"},
    "sources": PRIMITIVES | {"geometry", "scene", "render"},
    "tasks": PRIMITIVES | {"geometry", "scene", "render"},
}


def _imports(path: Path, module: str) -> set[str]:
    """Top-level crossview packages imported anywhere in the file, relative imports resolved."""
    found = set()
    parts = module.split(".")
    package = parts if path.name == "__init__.py" else parts[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names = [".".join(base + ([node.module] if node.module else []))]
            else:
                names = [node.module or ""]
        for name in names:
            bits = name.split(".")
            if bits[0] == "crossview" and len(bits) > 1:
                found.add(bits[1])
    return found


def test_lower_layers_never_import_upper_ones() -> None:
    seen = set()
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        top = rel.parts[0]
        seen.add(top)
        if top not in ALLOWED:
            continue
        module = ".".join(("crossview", *rel.parts))
        for target in sorted(_imports(path, module) - {top} - ALLOWED[top]):
            bad.append(f"{path.relative_to(ROOT)} imports crossview.{target}")
    assert not bad, "\n".join(bad)
    assert set(ALLOWED) <= seen  # the table names real packages


def test_the_layer_check_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    f = tmp_path / "runner.py"
    f.write_text(
        "from ..engine import pipeline\n"
        "def run():\n    from crossview.eval import harness\n    import crossview.model\n",
        encoding="utf-8",
    )
    assert _imports(f, "crossview.sources.sim.runner") == {"sources", "eval", "model"}
    # ..engine from crossview.sources.sim.runner is crossview.sources.engine
