"""``crossview sim`` and ``crossview show``: plain functions with typer-annotated signatures.

cli.py registers them as subcommands. Importing this module does not import mujoco.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crossview.errors import BadInputError
from crossview.executors import ExecutorOption, WorkersOption
from crossview.sources.sim.config import DEFAULT_SCENES, SimConfig

_DEFAULT = SimConfig()


def parse_range(text: str, name: str = "objects") -> tuple[int, int]:
    """Parse ``MIN:MAX`` (or a single ``N``) into ``(min, max)``; BadInputError otherwise."""
    parts = text.strip().split(":")
    try:
        if len(parts) == 1:
            lo = hi = int(parts[0])
        elif len(parts) == 2:
            lo, hi = int(parts[0]), int(parts[1])
        else:
            raise ValueError
    except ValueError:
        raise BadInputError(
            f"expected MIN:MAX with integers, e.g. 3:8, got {text!r}", field=name
        ) from None
    if lo > hi:
        raise BadInputError(f"MIN must not exceed MAX, got {text!r}", field=name)
    return lo, hi


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``WxH`` (e.g. ``640x480``) into ``(width, height)``; BadInputError otherwise."""
    parts = text.lower().strip().split("x")
    try:
        if len(parts) != 2:
            raise ValueError
        w, h = int(parts[0]), int(parts[1])
    except ValueError:
        raise BadInputError(
            f"expected WxH with integers, e.g. 640x480, got {text!r}", field="size"
        ) from None
    return w, h


def sim(
    out: Annotated[Path, typer.Option(help="Scene store folder to write (created if missing).")],
    scenes: Annotated[int, typer.Option(help="Number of scenes to simulate.")] = DEFAULT_SCENES,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same scenes.")] = 0,
    cameras: Annotated[
        int, typer.Option(help="Cameras per scene, 3-6 (the last is the arm's wrist camera).")
    ] = _DEFAULT.cameras,
    objects: Annotated[
        str, typer.Option(help="Objects per scene as MIN:MAX, within 1-10.")
    ] = f"{_DEFAULT.objects[0]}:{_DEFAULT.objects[1]}",
    timesteps: Annotated[
        int, typer.Option(help="Timesteps per episode, >= 2.")
    ] = _DEFAULT.timesteps,
    size: Annotated[
        str, typer.Option(help="Image size WxH in pixels.")
    ] = f"{_DEFAULT.width}x{_DEFAULT.height}",
    workers: WorkersOption = None,
    executor: ExecutorOption = "local",
    overwrite: Annotated[
        bool, typer.Option(help="Re-simulate scenes already in the store instead of skipping.")
    ] = False,
) -> None:
    """Render procedural multi-camera tabletop scenes with MuJoCo into a scene store."""
    from rich.console import Console

    from crossview.sources.sim.runner import run_sim

    width, height = parse_size(size)
    config = SimConfig(
        cameras=cameras,
        objects=parse_range(objects),
        timesteps=timesteps,
        width=width,
        height=height,
    )
    n_workers = workers if workers is not None else (1 if executor == "local" else 0)
    summary = run_sim(
        out,
        config,
        scenes=scenes,
        seed=seed,
        workers=n_workers,
        overwrite=overwrite,
        executor=executor,
    )
    Console(stderr=True).print(
        f"wrote {len(summary.written)} scenes, kept {len(summary.skipped)} finished ones, "
        f"in {summary.seconds:.1f} s -> {summary.out}"
    )


def show(
    scene_path: Annotated[Path, typer.Argument(help="A scene folder (STORE/SCENE).")],
    out: Annotated[Path, typer.Option(help="Image file to write (PNG).")] = Path("sheet.png"),
    max_width: Annotated[int, typer.Option(help="Largest sheet width, pixels.")] = 1600,
) -> None:
    """Draw a contact sheet of every view of a scene, with its masks and track ids."""
    from PIL import Image

    from crossview.render.sheet import contact_sheet
    from crossview.scene.store import is_scene_dir, read_scene

    if not is_scene_dir(scene_path):
        raise BadInputError("not a scene folder (no scene.json)", file=scene_path)
    sheet = contact_sheet(read_scene(scene_path), max_width=max_width)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(out)
