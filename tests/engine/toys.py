"""Hand-built and random toy scenes (exact ray-cast spheres) for engine and task tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crossview.scene import Scene, write_scene
from crossview.sources.toy import ToyCamera, ball, render_toy_scene

RGB = {
    "red": (220, 30, 30),
    "blue": (30, 60, 220),
    "green": (30, 190, 60),
    "yellow": (230, 210, 40),
    "purple": (140, 40, 200),
    "orange": (240, 140, 20),
    "cyan": (20, 200, 220),
}

CAMERAS = [
    ToyCamera("fix_left", (0.8, -0.6, 0.5)),
    ToyCamera("fix_right", (-0.8, -0.6, 0.5)),
    ToyCamera("fix_center", (0.0, -0.9, 0.3)),
    ToyCamera("top", (0.0, -0.05, 1.1), f=140.0),
]

# The hand-built scene: ball -> (colour, radius, centre at t0, centre at t1)
HAND = {
    1: ("red", 0.05, (0.0, 0.0), (0.0, 0.0)),
    2: ("blue", 0.04, (0.13, 0.02), (0.13, 0.02)),
    3: ("green", 0.05, (-0.22, 0.18), (-0.22, 0.18)),
    4: ("yellow", 0.045, (0.24, 0.22), (0.10, 0.30)),  # the only ball that moves
    5: ("purple", 0.05, (-0.15, -0.22), (-0.15, -0.22)),
    6: ("orange", 0.03, (0.0, -0.20), (0.0, -0.20)),  # small, hidden behind 7 from fix_center
    7: ("cyan", 0.09, (0.0, -0.45), (0.0, -0.45)),  # big, right in front of fix_center
    8: ("red", 0.04, (0.13, 0.10), (0.13, 0.10)),  # touches ball 2 (centres 0.08 apart)
    9: ("green", 0.035, (0.09, -0.27), (0.09, -0.27)),  # partly behind 7 from fix_center
    10: ("blue", 0.04, (-0.09, -0.12), (-0.09, -0.12)),  # partly behind 7 from fix_center
}


def hand_scene(scene_id: str = "hand_000", width: int = 160, height: int = 120) -> Scene:
    balls = [ball(t, c, RGB[c], r, p0, p1) for t, (c, r, p0, p1) in HAND.items()]
    return render_toy_scene(scene_id, balls, CAMERAS, width, height, rig_id="rig_hand")


# random toy scenes add a camera facing fix_center across the table, so each sees the other
RIG = [*CAMERAS, ToyCamera("fix_back", (0.0, 0.9, 0.3))]
# ... and, for camera-level questions, a far overview camera that sees four of the others
RIG_OVERVIEW = [*RIG, ToyCamera("overview", (0.0, 2.2, 1.6), f=90.0)]


def random_scene(
    scene_id: str,
    rng: np.random.Generator,
    rig_id: str | None = None,
    width: int = 128,
    height: int = 96,
    n: int = 6,
    rig: list[ToyCamera] | None = None,
) -> Scene:
    """Non-overlapping balls at random on the table; the first two move between timesteps."""
    names = list(RGB)
    balls, placed = [], []
    while len(balls) < n:
        r = float(rng.uniform(0.03, 0.06))
        p0 = rng.uniform(-0.25, 0.25, 2)
        p1 = p0 + (rng.uniform(-0.12, 0.12, 2) if len(balls) < 2 else 0.0)
        if any(
            np.linalg.norm(p0 - q0) < r + qr + 0.005 or np.linalg.norm(p1 - q1) < r + qr + 0.005
            for q0, q1, qr in placed
        ):
            continue
        placed.append((p0, p1, r))
        c = names[int(rng.integers(len(names)))]
        balls.append(ball(len(balls) + 1, c, RGB[c], r, p0, p1))
    return render_toy_scene(scene_id, balls, rig or RIG, width, height, rig_id=rig_id)


def toy_store(
    root: Path,
    n_scenes: int,
    seed: int = 0,
    per_rig: int = 2,
    cameras: list[ToyCamera] | None = None,
) -> Path:
    """A store of ``n_scenes`` random toy scenes, ``per_rig`` of them sharing a rig id."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n_scenes):
        scene = random_scene(f"toy_{i:03d}", rng, rig_id=f"rig_{i // per_rig:03d}", rig=cameras)
        write_scene(scene, root)
    return root
