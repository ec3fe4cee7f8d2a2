"""The LeRobot round trip: ``crossview export STORE --format lerobot`` then ``crossview import
lerobot`` gives back the scenes (pixels, calibration, ids, rigs) and the same questions for
every type that both stores can make; the importer reads what the exporter (LeRobot's v3.0
layout) writes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from crossview.cli import main
from crossview.scene.store import iter_scenes
from crossview.sources.sim.config import SimConfig

pytestmark = pytest.mark.sim
pytest.importorskip("mujoco")
pytest.importorskip("av")
pytest.importorskip("pyarrow")

# types whose inputs (images, cameras, calibration, timestamps) the LeRobot export carries;
# temporal verification is generated from both but filtered differently (object motion in the
# simulator, the robot's state motion in a robot dataset), so it is compared by its oracle only
SAME = ("cross_scenario_localization", "language_conditioned_localization",
        "directional_view_localization")  # fmt: skip


def _questions(path) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for line in path.read_text().splitlines():
        r = json.loads(line)
        views = [(v["scene_id"], v.get("camera"), v.get("timestep")) for v in r["views"]]
        key = (r["question"], json.dumps(r.get("options")), r["answer"], json.dumps(views))
        out.setdefault(r["question_type"], []).append(key)
    return out


def test_export_then_import_gives_back_the_scenes_and_questions(tmp_path):
    from crossview.engine.oracle import verify_dataset
    from crossview.sources.sim.runner import run_sim

    sim = tmp_path / "S"
    cfg = SimConfig(cameras=5, objects=(3, 6), timesteps=3, width=160, height=120)
    run_sim(sim, cfg, scenes=4, seed=0, workers=1, progress=False)
    ds = tmp_path / "L"
    assert main(["export", str(sim), "--format", "lerobot", "--out", str(ds), "--lossless"]) == 0
    back = tmp_path / "S2"
    opts = ["min_seconds=0", "timesteps=3", "motion_quantile=0"]  # keyframe episodes: 3 frames
    args = ["import", "lerobot", str(ds), "--out", str(back)]
    assert main(args + [x for o in opts for x in ("--option", o)]) == 0
    a = {s.scene_id: s for s in iter_scenes(sim)}
    b = {s.scene_id: s for s in iter_scenes(back)}
    assert sorted(a) == sorted(b)  # the scene ids travel in the episodes table
    for sid, s in a.items():
        s2 = b[sid]
        assert s2.rig_id == s.rig_id and s2.calibrated and s2.source == "lerobot"
        assert s2.language and s2.language.startswith("push the ")
        assert s2.timestamps == pytest.approx(s.timestamps, abs=1e-5)
        for v in s.views:
            v2 = s2.view(v.camera.name, v.timestep)
            np.testing.assert_array_equal(v2.image, v.image)
            np.testing.assert_array_equal(v2.camera.K, v.camera.K)
            np.testing.assert_array_equal(v2.camera.cam_to_world, v.camera.cam_to_world)
        wrist = [s.view("wrist", t).camera.center for t in range(s.num_timesteps)]
        states = [m["state"] for m in s2.timestep_meta]
        np.testing.assert_allclose(np.array(states), np.array(wrist), atol=1e-6)  # float32
    got = {}
    for name, store in (("sim", sim), ("back", back)):
        out = tmp_path / f"D_{name}"
        code = main(
            ["generate", "--scenes", str(store), "--out", str(out), "--tasks",
             ",".join((*SAME, "temporal_verification")), "--per-task", "20",
             "--open-ended-fraction", "0"]
        )  # fmt: skip
        assert code == 0
        oracle = verify_dataset(out, store)
        assert oracle.total > 0 and oracle.correct == oracle.total, oracle.failures[:3]
        got[name] = _questions(out / "questions.jsonl")
    for t in SAME:
        assert got["sim"][t], t
        assert got["back"][t] == got["sim"][t], t
    assert got["back"]["temporal_verification"]
