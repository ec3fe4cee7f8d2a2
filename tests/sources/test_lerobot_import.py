"""``crossview import lerobot``: a LeRobot dataset (v2.1 layout) becomes uncalibrated scenes
with the task, states and actions; XVR's episode filters; the metadata-based XVR types are
generated from it and the geometric ones skip it, counted."""

from __future__ import annotations

import json

import numpy as np
import pytest

from crossview.errors import BadInputError
from crossview.scene.store import iter_scenes
from crossview.scene.validate import validate_paths
from crossview.sources.adapters.runner import import_dataset
from tests.sources.lerobot_fixtures import CAMERAS, frame, write_v21

pytest.importorskip("av")
pytest.importorskip("pyarrow")

EPISODES = [
    {"length": 250, "task": "fold the towel", "motion": 0.01},  # slow: some pairs too close
    {"length": 150, "task": "fold the towel", "motion": 0.1},  # 15 s: too short
    {"length": 250, "task": "wipe the table", "motion": 0.0},  # no action: bottom 20%
    {"length": 250, "task": "put the cup in the sink", "motion": 0.2},
]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_v21(tmp_path_factory.mktemp("lerobot") / "aloha_demo", EPISODES)


@pytest.fixture(scope="module")
def store(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("store") / "S"
    report = import_dataset("lerobot", dataset, out, progress=False)
    return out, report


def test_episodes_are_filtered_as_xvr_does(store):
    out, report = store
    assert sorted(report.written) == ["aloha_demo_ep000000", "aloha_demo_ep000003"]
    assert report.skipped == {
        "aloha_demo_ep000001": "15.0 s long, shorter than min_seconds=20",
        "aloha_demo_ep000002": report.skipped["aloha_demo_ep000002"],
    }
    assert "bottom 20% of the dataset" in report.skipped["aloha_demo_ep000002"]
    assert validate_paths([out]).valid


def test_scenes_hold_the_sampled_frames_task_and_robot_state(store):
    out, _ = store
    scenes = {s.scene_id: s for s in iter_scenes(out)}
    s = scenes["aloha_demo_ep000003"]
    assert s.language == "put the cup in the sink"
    assert s.source == "lerobot" and s.rig_id == "aloha_demo"
    assert not s.calibrated and not s.instances
    assert s.camera_names == list(CAMERAS)
    assert [v.camera.role for v in s.views_at(0)] == ["", "wrist", "wrist"]
    frames = [0, 83, 166, 249]  # 4 timesteps spread over 250 frames
    assert [m["frame_index"] for m in s.timestep_meta] == frames
    assert s.timestamps == pytest.approx([f / 10 for f in frames])
    for t, f in enumerate(frames):
        assert s.timestep_meta[t]["state"] == pytest.approx([f / 10 * 0.2, 0.0, 0.3], abs=1e-6)
        for c, cam in enumerate(CAMERAS):
            np.testing.assert_array_equal(s.view(cam, t).image, frame(c, f))  # lossless video
    # the 80th percentile of the episodes' largest 1-second displacement: 0, .01, .1, .2
    assert s.provenance["motion_threshold"] == pytest.approx(0.14, abs=1e-6)  # float32 states
    assert s.provenance["calibration"] == "absent"
    assert s.provenance["lerobot"]["codebase_version"] == "v2.1"
    manifest = json.loads((out / "aloha_demo_ep000003" / "scene.json").read_text())
    assert manifest["schema_version"] == 2 and manifest["cameras"][0]["calibrated"] is False
    assert manifest["views"][0]["cam_to_world"] is None


def test_metadata_types_are_generated_and_geometric_ones_skip_counted(store, tmp_path):
    from crossview.engine.config import GenerateConfig
    from crossview.engine.pipeline import generate

    out, _ = store
    data = tmp_path / "D"
    generate(out, data, GenerateConfig(family="xvr", per_task=6, seed=0))
    manifest = json.loads((data / "manifest.json").read_text())
    counts = manifest["counts"]["by_type"]
    for t in ("temporal_verification", "cross_scenario_localization"):
        assert counts.get(t, 0) > 0, (t, manifest["dropped"].get(t))
    assert counts.get("language_conditioned_localization", 0) > 0
    # episode 0 moves 0.01 per second: frames 8.3 s apart move 0.083 < the threshold 0.14
    assert manifest["dropped"]["temporal_verification"]["robot_moved_too_little"] > 0
    for t in ("point_correspondence", "viewpoint_localization", "directional_view_localization"):
        assert counts.get(t, 0) == 0
        assert manifest["dropped"][t] == {"scene_lacks_calibration": 2}
    rows = [json.loads(x) for x in (data / "questions.jsonl").read_text().splitlines()]
    lang = [r for r in rows if r["question_type"] == "language_conditioned_localization"]
    assert all("wrist" in r["question"] or "gripper" in r["question"] for r in lang)
    from crossview.engine.oracle import verify_dataset

    oracle = verify_dataset(data, out)
    assert oracle.total == len(rows) and oracle.correct == oracle.total, oracle.failures[:3]


def test_partial_and_malformed_datasets(dataset, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(dataset, broken)
    video = broken / "videos/chunk-000/observation.images.cam_high/episode_000003.mp4"
    video.unlink()
    report = import_dataset("lerobot", broken, tmp_path / "S1", progress=False)
    assert report.written == ["broken_ep000000"]  # the others: filtered, or the missing video
    assert "episode_000003.mp4" in report.skipped["broken_ep000003"]
    assert "video file is missing" in report.skipped["broken_ep000003"]
    info = json.loads((broken / "meta/info.json").read_text())
    info["codebase_version"] = "v1.6"
    (broken / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(BadInputError, match=r"info\.json.*codebase_version"):
        import_dataset("lerobot", broken, tmp_path / "S2", progress=False)
    (broken / "meta/info.json").unlink()
    with pytest.raises(BadInputError, match=r"not a LeRobot dataset"):
        import_dataset("lerobot", broken, tmp_path / "S3", progress=False)


def test_image_features_in_the_frame_table(tmp_path):
    ds = write_v21(tmp_path / "imgs", EPISODES[3:], images_in_parquet=True)
    report = import_dataset(
        "lerobot", ds, tmp_path / "S", options={"motion_quantile": 0.0}, progress=False
    )
    assert report.written == ["imgs_ep000000"], report.skipped
    (s,) = list(iter_scenes(tmp_path / "S"))
    for t, f in enumerate([0, 83, 166, 249]):
        for c, cam in enumerate(CAMERAS):
            np.testing.assert_array_equal(s.view(cam, t).image, frame(c, f))


def test_too_few_cameras_and_the_cli(tmp_path, capsys):
    from crossview.cli import main

    two = write_v21(tmp_path / "two_cams", EPISODES[:1], cameras=CAMERAS[:2])
    code = main(["import", "lerobot", str(two), "--out", str(tmp_path / "S")])
    assert code == 2  # nothing importable
    err = capsys.readouterr().err
    assert "2 camera(s), fewer than min_cameras=3" in err
    code = main(
        ["import", "lerobot", str(two), "--out", str(tmp_path / "S"), "--option", "min_cameras=2"]
    )
    assert code == 0
    assert main(["import", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "lerobot\n  layout: A LeRobotDataset folder" in listed
    assert "option min_seconds=20.0" in listed
