"""``run_sim`` with the Ray executor writes the same scenes as the local one.

Run by tests/engine/test_ray.py in a child process (see there why).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crossview.sources.sim.config import SimConfig

pytestmark = pytest.mark.sim
mujoco = pytest.importorskip("mujoco")
ray = pytest.importorskip("ray")

from tests.ray_support import ray_instance  # noqa: E402, F401 - the module's Ray instance

CONFIG = SimConfig(cameras=3, objects=(3, 4), timesteps=2, width=96, height=72)
SEED = 9


def test_ray_simulates_the_same_scenes_as_local(tmp_path: Path) -> None:
    from crossview.sources.sim.runner import run_sim

    local = run_sim(tmp_path / "local", CONFIG, scenes=2, seed=SEED, progress=False)
    remote = run_sim(
        tmp_path / "ray", CONFIG, scenes=2, seed=SEED, workers=2, progress=False, executor="ray"
    )
    assert local.written == remote.written == [f"sim_{SEED}_00000", f"sim_{SEED}_00001"]
    for sid in local.written:
        a, b = tmp_path / "local" / sid, tmp_path / "ray" / sid
        assert (a / "scene.json").read_bytes() == (b / "scene.json").read_bytes()
        masks = sorted(p.name for p in (a / "masks").iterdir())
        assert masks and masks == sorted(p.name for p in (b / "masks").iterdir())
        for name in masks:
            assert (a / "masks" / name).read_bytes() == (b / "masks" / name).read_bytes(), name
    # a second run resumes: every scene is already in the store
    again = run_sim(tmp_path / "ray", CONFIG, scenes=2, seed=SEED, progress=False, executor="ray")
    assert again.written == [] and again.skipped == local.written
