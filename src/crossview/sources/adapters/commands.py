"""``crossview import``: a plain function with a typer-annotated signature (cli.py registers it).

Importing this module stays light: adapters, OpenCV and SAM 2 load when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crossview.errors import BadInputError


def _options(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise BadInputError(f"expected KEY=VALUE, got {item!r}", field="option")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def import_cmd(
    fmt: Annotated[
        str | None,
        typer.Argument(
            metavar="FORMAT",
            help="Dataset format: colmap, lerobot, messytable, wildrgbd (--list describes them).",
            show_default=False,
        ),
    ] = None,
    src: Annotated[
        Path | None,
        typer.Argument(help="Dataset folder in the format's published layout.", show_default=False),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Scene store to write (created if missing).")
    ] = None,
    list_formats: Annotated[
        bool,
        typer.Option("--list", help="List every importer, the layout it reads and its options."),
    ] = False,
    limit: Annotated[
        int | None, typer.Option(help="Import at most this many scenes (in scene-id order).")
    ] = None,
    mask_completion: Annotated[
        str,
        typer.Option(help="Masks for sources with boxes only: grabcut, sam2 or none."),
    ] = "grabcut",
    sam2_checkpoint: Annotated[
        Path | None,
        typer.Option(help="SAM 2 checkpoint file (needed with --mask-completion sam2)."),
    ] = None,
    sam2_config: Annotated[
        str, typer.Option(help="SAM 2 model config name matching the checkpoint.")
    ] = "configs/sam2.1/sam2.1_hiera_t.yaml",
    option: Annotated[
        list[str] | None,
        typer.Option(
            help="Adapter option KEY=VALUE, repeatable (e.g. max_views=12 for wildrgbd); "
            "docs/adapters.md lists them."
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Re-import scenes already in the store instead of skipping.")
    ] = False,
) -> None:
    """Convert a public multi-view dataset or a COLMAP capture into a scene store.

    Scenes that cannot be imported are skipped with the reason; the rest is imported. Exits 2
    when no scene could be imported.
    """
    from rich.console import Console

    from crossview.sources.adapters.runner import import_dataset
    from crossview.sources.masks import CompletionConfig

    if list_formats:
        typer.echo(describe_importers())
        return
    if fmt is None or src is None or out is None:
        raise BadInputError(
            "give FORMAT, the dataset folder and --out (or --list to see the formats)",
            field="format" if fmt is None else "src" if src is None else "out",
        )
    console = Console(stderr=True)
    report = import_dataset(
        fmt,
        src,
        out,
        limit=limit,
        mask_completion=mask_completion,
        sam2_checkpoint=sam2_checkpoint,
        overwrite=overwrite,
        options=_options(option or []),
        completion=CompletionConfig(sam2_config=sam2_config),
    )
    for sid, why in sorted(report.skipped.items()):
        console.print(f"[yellow]skipped scene {sid}:[/yellow] {why}", highlight=False)
    for sid, view, why in report.dropped_views:
        console.print(f"[yellow]dropped {sid} / {view}:[/yellow] {why}", highlight=False)
    typer.echo(report.summary())
    if not report.written and not report.existing:
        raise typer.Exit(2)


def describe_importers() -> str:
    """Every registered importer: its name, the layout its docstring describes, its options."""
    import inspect

    from crossview.sources.adapters.base import get_adapter, list_adapters

    blocks = []
    for name in list_adapters():
        cls = get_adapter(name)
        doc = " ".join(inspect.getdoc(cls).split()) if cls.__doc__ else ""
        lines = [name, f"  layout: {doc}"]
        for key, (typ, default, text) in getattr(cls, "OPTIONS", {}).items():
            lines.append(f"  option {key}={default!r} ({typ.__name__}): {text}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
