"""A known toy world the adapter tests write out in each dataset's real layout.

Spheres on a table seen by a few cameras (crossview.sources.toy renders exact RGB, depth and
masks), plus helpers that check an imported store end to end (validate, generate, oracle).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crossview.engine.config import GenerateConfig
from crossview.engine.oracle import verify_dataset
from crossview.engine.pipeline import generate
from crossview.scene.model import Scene
from crossview.scene.validate import validate_paths
from crossview.sources.toy import ToyCamera, ball, render_toy_scene

W, H = 96, 72

BALLS = [
    ball(1, "red", (220, 40, 40), 0.05, (0.0, 0.0)),
    ball(2, "blue", (40, 60, 220), 0.05, (0.16, 0.05)),
    ball(3, "green", (40, 200, 60), 0.06, (-0.12, 0.12)),
    ball(4, "yellow", (230, 220, 40), 0.045, (0.06, -0.16)),
]

CAMERAS = [
    ToyCamera("cam1", (0.6, -0.5, 0.5), f=80),
    ToyCamera("cam2", (-0.6, -0.4, 0.5), f=80),
    ToyCamera("cam3", (0.05, 0.7, 0.6), f=80),
    ToyCamera("cam4", (0.7, 0.3, 0.45), f=80),
]


def toy_world(balls=BALLS, cameras=CAMERAS, width: int = W, height: int = H) -> Scene:
    """The reference scene (exact ground truth) the fixtures are made from."""
    return render_toy_scene("toy", balls, cameras, width=width, height=height)


def label_image(view) -> np.ndarray:
    """(H, W) uint16 instance-id image of a toy view (0 = background)."""
    out = np.zeros((view.camera.height, view.camera.width), np.uint16)
    for tid in view.track_ids:
        out[view.mask(tid)] = tid
    return out


def box_of(mask: np.ndarray) -> list[int]:
    """Tight ``x0, y0, x1, y1`` box (pixel edges, end exclusive) of a mask."""
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def assert_valid(store: Path) -> None:
    report = validate_paths([store])
    assert report.valid, [str(p) for p in report.problems[:5]]


def generate_and_verify(store: Path, out: Path, tasks: list[str], per_task: int = 6) -> int:
    """Generate questions of ``tasks`` from ``store``; assert the oracle scores 100%."""
    cfg = GenerateConfig(tasks=tasks, per_task=per_task, open_ended_fraction=0.3, seed=3)
    report = generate(store, out, cfg)
    oracle = verify_dataset(out, store)
    assert oracle.total == report.records
    assert oracle.total > 0, report.skipped_scenes
    assert oracle.correct == oracle.total, oracle.failures[:5]
    return oracle.total
