"""``crossview export``: a plain function with a typer-annotated signature (cli.py registers it).

Importing this module stays light: the exporters load when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

FORMATS_HELP = "llava, sharegpt, qwen, parquet, crossviewer, crosspoint or lerobot"


def export_cmd(
    dataset: Annotated[
        Path,
        typer.Argument(
            help="Dataset folder to export (from `crossview generate`), or a scene store for "
            "--format lerobot."
        ),
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
    fps: Annotated[
        int,
        typer.Option(help="--format lerobot: frames per second (timestamp = frame_index / fps)."),
    ] = 1,
    lossless: Annotated[
        bool,
        typer.Option(
            "--lossless",
            help="--format lerobot: lossless videos (libx264rgb, qp 0) instead of LeRobot's "
            "default AV1.",
        ),
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite", help="--format lerobot: replace a LeRobot dataset already at --out."
        ),
    ] = False,
) -> None:
    """Export a dataset for training (LLaVA, ShareGPT, Qwen-VL, Parquet) or other tools
    (CrossViewer JSONL, CrossPoint-Bench), or a scene store as a LeRobot dataset (v3.0)."""
    from rich.console import Console

    console = Console(stderr=True)
    if fmt == "lerobot":
        from crossview.sources.lerobot_export import export_lerobot

        res = export_lerobot(dataset, out, fps=fps, lossless=lossless, overwrite=overwrite)
        for reason, n in sorted(res.skipped.items()):
            console.print(f"[yellow]skipped {n} scene(s):[/yellow] {reason}", highlight=False)
        typer.echo(
            f"{res.episodes} episodes, {res.frames} frames, {len(res.cameras)} cameras -> {res.out}"
        )
        return

    from crossview.engine.exports import export

    report = export(dataset, fmt, out, protocol=protocol, split=split, include_open=include_open)
    for reason, n in sorted(report.skipped.items()):
        console.print(f"[yellow]skipped {n}:[/yellow] {reason}", highlight=False)
    files = ", ".join(str(p) for p in report.files)
    typer.echo(f"{report.written} items, {report.images} images -> {files}")
