"""``crossview audit``: a typer-annotated function (cli.py registers it); the audit loads lazily."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def run_audit(dataset: Path, *, alpha: float = 0.05, split: str | None = None) -> bool:
    """Audit ``dataset``, write ``audit.json`` and the card's audit section, print the result.

    Returns True when no shortcut beats chance.
    """
    from crossview.engine.audit import audit_dataset, flagged_lines, write_audit
    from crossview.progress import progress_callback

    with progress_callback("auditing") as update:
        report = audit_dataset(dataset, alpha=alpha, split=split, progress=update)
    path = write_audit(dataset, report)
    if report.clean:
        typer.echo(f"audit: no shortcut beats chance ({report.tests} tests) -> {path}")
    else:
        typer.echo(f"audit: {len(report.flagged)} shortcut(s) beat chance -> {path}")
        for line in flagged_lines(report):
            typer.echo(f"  {line}")
    for why, n in sorted(report.skipped.items()):
        typer.echo(f"  skipped {n} items: {why}")
    return report.clean


def audit_cmd(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder (with questions.jsonl).")],
    alpha: Annotated[
        float, typer.Option(help="Family-wise error rate of the flags (Bonferroni).")
    ] = 0.05,
    split: Annotated[str | None, typer.Option(help="Audit only this split.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print audit.json too.")] = False,
) -> None:
    """Run blind solvers (text only, answer prior, camera role, metadata, one image, mark
    position and order, pixel difference) per type; exit 1 if any beats chance."""
    clean = run_audit(dataset, alpha=alpha, split=split)
    if as_json:
        typer.echo(json.dumps(json.loads((dataset / "audit.json").read_text()), indent=1))
    if not clean:
        raise typer.Exit(1)
