"""``crossview export``: a plain function with a typer-annotated signature (cli.py registers it).

Importing this module stays light: the exporters load when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

FORMATS_HELP = "llava, sharegpt, qwen, parquet, crossviewer or crosspoint"


def export_cmd(
    dataset: Annotated[
        Path, typer.Argument(help="Dataset folder to export (from `crossview generate`).")
    ],
    fmt: Annotated[str, typer.Option("--format", help=f"Export format: {FORMATS_HELP}.")],
    out: Annotated[Path, typer.Option(help="Folder to write (created; images are linked in).")],
    protocol: Annotated[
        str,
        typer.Option(
            help="Text and images to export: auto (each item's overlay, else marker, else "
            "region), overlay, marker or region."
        ),
    ] = "auto",
    split: Annotated[
        str | None, typer.Option(help="Only this split (train, val, test, test_ood).")
    ] = None,
    include_open: Annotated[
        bool, typer.Option("--open/--no-open", help="Include the open-ended variants.")
    ] = True,
) -> None:
    """Export a dataset for training (LLaVA, ShareGPT, Qwen-VL, Parquet) or other tools
    (CrossViewer JSONL, CrossPoint-Bench)."""
    from rich.console import Console

    from crossview.engine.exports import export

    report = export(dataset, fmt, out, protocol=protocol, split=split, include_open=include_open)
    console = Console(stderr=True)
    for reason, n in sorted(report.skipped.items()):
        console.print(f"[yellow]skipped {n}:[/yellow] {reason}", highlight=False)
    files = ", ".join(str(p) for p in report.files)
    typer.echo(f"{report.written} items, {report.images} images -> {files}")
