"""A tiny synthetic scene, built in memory, and a store holding it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crossview.geometry import look_at
from crossview.scene import Camera, Instance, Scene, View, masks_from_arrays, write_scene

W, H = 40, 30


def _K(f: float) -> np.ndarray:
    return np.array([[f, 0, (W - 1) / 2], [0, f, (H - 1) / 2], [0, 0, 1.0]])


def make_scene(scene_id: str = "toy_000", seed: int = 0) -> Scene:
    """Two cameras x two timesteps, two boxes; random image and depth, rectangle masks."""
    rng = np.random.default_rng(seed)
    poses_cam = {
        "fix_left": look_at([1.0, -1.0, 1.0], [0, 0, 0]),
        "wrist": look_at([-0.5, -1.2, 0.8], [0, 0, 0.05]),
    }
    views = []
    for t in range(2):
        for name, c2w in poses_cam.items():
            cam = Camera(name, W, H, _K(30.0 + 5 * t), c2w.copy(), role="fixed")
            if name == "wrist":  # the wrist camera moves between timesteps
                cam.cam_to_world[:3, 3] += [0.05 * t, 0.0, 0.0]
                cam.role = "wrist"
            vis1 = np.zeros((H, W), bool)
            vis1[5:15, 4:20] = True
            amo2 = np.zeros((H, W), bool)
            amo2[10:25, 15:35] = True
            vis2 = amo2 & ~vis1
            amo1 = vis1.copy()
            depth = rng.uniform(0.5, 2.0, (H, W)).astype(np.float32)
            depth[0, :] = 0.0  # invalid depth is 0
            views.append(
                View(
                    cam,
                    timestep=t,
                    timestamp=0.25 * t,
                    image=rng.integers(0, 256, (H, W, 3), dtype=np.uint8),
                    depth_m=depth,
                    masks=masks_from_arrays({1: vis1, 2: vis2}, {1: amo1, 2: amo2}),
                )
            )
    poses = np.tile(np.eye(4), (2, 2, 1, 1))
    poses[0, :, :3, 3] = [[0.1, 0.0, 0.05], [0.12, 0.0, 0.05]]
    poses[1, :, :3, 3] = [[-0.1, 0.05, 0.04], [-0.1, 0.05, 0.04]]
    instances = {
        1: Instance(
            1, "cube", {"color": "red", "shape": "cube", "size": "small"}, [0.1] * 3, poses[0]
        ),
        2: Instance(
            2, "cylinder", {"color": "blue", "shape": "cylinder"}, [0.08, 0.08, 0.1], poses[1]
        ),
    }
    return Scene(
        scene_id=scene_id,
        source="toy",
        views=views,
        instances=instances,
        timestamps=[0.0, 0.25],
        contacts=[[(1, 2)], []],
        rig_id="rig_toy",
        provenance={"seed": seed, "note": "unit-test scene"},
    )


@pytest.fixture
def scene() -> Scene:
    return make_scene()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store with two clean scenes."""
    root = tmp_path / "store"
    root.mkdir()
    write_scene(make_scene("toy_000", 0), root)
    write_scene(make_scene("toy_001", 1), root)
    return root


@pytest.fixture
def scene_factory():
    return make_scene
