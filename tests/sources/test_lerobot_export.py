"""``crossview export STORE --format lerobot``: a simulated store written as a LeRobot v3.0
dataset, checked with pyarrow and PyAV only (not crossview's importer) against the scenes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from crossview.cli import main
from crossview.errors import BadInputError
from crossview.scene.store import list_scenes, read_scene, save_image
from crossview.sources import lerobot_layout as L
from crossview.sources.lerobot_export import export_lerobot
from crossview.sources.sim.config import SimConfig

pytestmark = pytest.mark.sim
mujoco = pytest.importorskip("mujoco")
av = pytest.importorskip("av")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

CONFIG = SimConfig(cameras=5, objects=(3, 6), timesteps=3, width=160, height=120)
SCENES, SEED = 2, 0
CAMERAS = ["fix_left", "fix_center", "fix_right", "top", "wrist"]
STATS = ["min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99"]
DEFAULTS = ["timestamp", "frame_index", "episode_index", "index", "task_index"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Two simulated scenes (5 cameras, 3 timesteps, 160x120), in scene-id order."""
    from crossview.sources.sim.runner import run_sim

    path = tmp_path_factory.mktemp("lerobot_export") / "store"
    run_sim(path, CONFIG, scenes=SCENES, seed=SEED, workers=1, progress=False)
    scenes = sorted((read_scene(d) for d in list_scenes(path)), key=lambda s: s.scene_id)
    return path, scenes


def _export(store_path: Path, out: Path, *extra: str, capsys=None) -> str:
    args = ["export", str(store_path), "--format", "lerobot", "--out", str(out), *extra]
    assert main(args) == 0
    return capsys.readouterr().out if capsys is not None else ""


@pytest.fixture(scope="module")
def lossless(store, tmp_path_factory):
    out = tmp_path_factory.mktemp("lerobot_lossless") / "ds"
    assert (
        main(["export", str(store[0]), "--format", "lerobot", "--out", str(out), "--lossless"]) == 0
    )
    return out


@pytest.fixture(scope="module")
def default_av1(store, tmp_path_factory):
    out = tmp_path_factory.mktemp("lerobot_av1") / "ds"
    assert main(["export", str(store[0]), "--format", "lerobot", "--out", str(out)]) == 0
    return out


def _info(out: Path) -> dict:
    return json.loads((out / "meta/info.json").read_text(encoding="utf-8"))


def _episodes(out: Path) -> list[dict]:
    return pq.read_table(out / "meta/episodes/chunk-000/file-000.parquet").to_pylist()


def _frames(out: Path) -> list[dict]:
    return pq.read_table(out / "data/chunk-000/file-000.parquet").to_pylist()


def _decode(path: Path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as c:
        return [
            (float(f.pts * f.time_base), f.to_ndarray(format="rgb24")) for f in c.decode(video=0)
        ]


def _push_action(scene, t: int) -> np.ndarray:
    for p in scene.provenance["pushes"]:
        if p["timestep"] == t + 1:
            return np.array([*p["start"], *p["end"]], dtype=np.float32)
    return np.zeros(6, dtype=np.float32)


def _feature_keys() -> list[str]:
    keys = [L.ACTION, L.STATE, "observation.timestamp_s"]
    keys += [f"observation.images.{c}" for c in CAMERAS]
    for c in CAMERAS:
        keys += [f"observation.cameras.{c}.intrinsics", f"observation.cameras.{c}.cam_to_world"]
    return keys + DEFAULTS


# ----------------------------------------------------------------------------- meta/info.json


def test_info_json_is_what_lerobot_writes(lossless, store):
    info = _info(lossless)
    assert list(info) == [
        "codebase_version", "robot_type", "total_episodes", "total_frames", "total_tasks",
        "chunks_size", "data_files_size_in_mb", "video_files_size_in_mb", "fps", "splits",
        "data_path", "video_path", "features",
    ]  # fmt: skip
    tasks = {t for ep in _episodes(lossless) for t in ep["tasks"]}
    assert info["codebase_version"] == "v3.0" and info["robot_type"] == "crossview_sim"
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (2, 6, len(tasks))
    assert (info["chunks_size"], info["data_files_size_in_mb"]) == (1000, 100)
    assert (info["video_files_size_in_mb"], info["fps"]) == (200, 1)
    assert info["splits"] == {"train": "0:2"}
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert (
        info["video_path"] == "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    )
    feats = info["features"]
    assert list(feats) == _feature_keys()
    assert feats["action"] == {
        "dtype": "float32",
        "shape": [6],
        "names": ["start_x", "start_y", "start_z", "end_x", "end_y", "end_z"],
    }
    assert feats["observation.state"] == {
        "dtype": "float32",
        "shape": [3],
        "names": ["x", "y", "z"],
    }
    assert feats["observation.timestamp_s"] == {"dtype": "float32", "shape": [1], "names": None}
    for c in CAMERAS:
        ft = feats[f"observation.images.{c}"]
        assert ft["dtype"] == "video" and ft["shape"] == [120, 160, 3]
        assert ft["names"] == ["height", "width", "channels"]
        assert ft["info"] == {
            "video.height": 120,
            "video.width": 160,
            "video.codec": "h264",
            "video.pix_fmt": "gbrp",  # libx264rgb's rgb24 as PyAV reads it back
            "video.is_depth_map": False,
            "video.fps": 1,
            "video.channels": 3,
            "has_audio": False,
        }
        k = feats[f"observation.cameras.{c}.intrinsics"]
        pose = feats[f"observation.cameras.{c}.cam_to_world"]
        assert (k["dtype"], k["shape"], pose["dtype"], pose["shape"]) == (
            "float64", [9], "float64", [16],
        )  # fmt: skip
    for key in DEFAULTS:
        want = "float32" if key == "timestamp" else "int64"
        assert feats[key] == {"dtype": want, "shape": [1], "names": None}


# ----------------------------------------------------------------------------- episodes table


def test_episodes_table_has_lerobots_columns_and_video_spans(lossless, store):
    _, scenes = store
    path = lossless / "meta/episodes/chunk-000/file-000.parquet"
    names = pq.read_schema(path).names
    want = ["episode_index", "tasks", "length", "data/chunk_index", "data/file_index"]
    want += ["dataset_from_index", "dataset_to_index"]
    for c in CAMERAS:
        key = f"observation.images.{c}"
        want += [f"videos/{key}/{x}" for x in ("chunk_index", "file_index")]
        want += [f"videos/{key}/{x}" for x in ("from_timestamp", "to_timestamp")]
    want += [f"stats/{f}/{s}" for f in _feature_keys() for s in STATS]
    want += ["meta/episodes/chunk_index", "meta/episodes/file_index"]
    want += ["crossview/scene_id", "crossview/rig_id"]
    assert names == want
    eps = _episodes(lossless)
    assert [e["episode_index"] for e in eps] == [0, 1]
    assert [e["crossview/scene_id"] for e in eps] == [s.scene_id for s in scenes]
    assert [e["crossview/rig_id"] for e in eps] == [s.rig_id for s in scenes]
    assert [e["length"] for e in eps] == [3, 3]
    assert [(e["dataset_from_index"], e["dataset_to_index"]) for e in eps] == [(0, 3), (3, 6)]
    assert all(len(e["tasks"]) == 1 for e in eps)
    for c in CAMERAS:
        key = f"observation.images.{c}"
        spans = [(e[f"videos/{key}/from_timestamp"], e[f"videos/{key}/to_timestamp"]) for e in eps]
        assert spans == [(0.0, 3.0), (3.0, 6.0)]
        assert {e[f"videos/{key}/chunk_index"] for e in eps} == {0}
        with av.open(str(lossless / f"videos/{key}/chunk-000/file-000.mp4")) as f:
            stream = f.streams.video[0]
            assert float(stream.duration * stream.time_base) == pytest.approx(6.0)
    schema = pq.read_schema(path)
    assert schema.field("tasks").type == pa.list_(pa.string())
    assert schema.field("stats/observation.state/mean").type == pa.list_(pa.float64())
    assert schema.field("stats/index/min").type == pa.list_(pa.int64())
    img = schema.field("stats/observation.images.top/mean").type
    assert img == pa.list_(pa.list_(pa.list_(pa.float64())))


def test_episode_stats_are_compute_episode_stats(lossless, store):
    _, scenes = store
    eps = _episodes(lossless)
    for e, scene in zip(eps, scenes):
        state = np.array([scene.view("wrist", t).camera.center for t in range(3)], np.float32)
        assert np.allclose(e["stats/observation.state/min"], state.min(axis=0))
        assert np.allclose(e["stats/observation.state/max"], state.max(axis=0))
        assert np.allclose(e["stats/observation.state/mean"], state.mean(axis=0))
        assert e["stats/observation.state/count"] == [3]
        assert e["stats/index/min"] == [e["dataset_from_index"]]
        assert e["stats/frame_index/max"] == [2]
        for c in ("top", "wrist"):
            px = np.stack([scene.view(c, t).image for t in range(3)]).reshape(-1, 3) / 255.0
            stats = {s: np.array(e[f"stats/observation.images.{c}/{s}"]) for s in STATS}
            assert all(stats[s].shape == (3, 1, 1) for s in STATS if s != "count")
            assert stats["count"].tolist() == [3]  # frames sampled
            assert np.allclose(stats["mean"].ravel(), px.mean(axis=0))
            assert np.allclose(stats["std"].ravel(), px.std(axis=0))  # not LeRobot's uint8 wrap
            assert np.allclose(stats["min"].ravel(), px.min(axis=0))
            assert np.all(np.diff([stats[q].ravel() for q in STATS[5:]], axis=0) >= 0)


def test_stats_json_aggregates_the_episodes(lossless, store):
    stats = json.loads((lossless / "meta/stats.json").read_text(encoding="utf-8"))
    assert set(stats) == set(_feature_keys())
    rows = _frames(lossless)
    state = np.array([r["observation.state"] for r in rows])
    assert stats["observation.state"]["count"] == [6]
    assert np.allclose(stats["observation.state"]["mean"], state.mean(axis=0))
    assert np.allclose(stats["observation.state"]["std"], state.std(axis=0), atol=1e-6)
    assert stats["index"]["min"] == [0] and stats["index"]["max"] == [5]
    assert np.array(stats["observation.images.wrist"]["mean"]).shape == (3, 1, 1)
    assert stats["observation.images.wrist"]["count"] == [6]


# ----------------------------------------------------------------------------- frames


def test_frame_rows_hold_index_time_task_state_action_and_calibration(lossless, store):
    _, scenes = store
    path = lossless / "data/chunk-000/file-000.parquet"
    schema = pq.read_schema(path)
    assert schema.names == [k for k in _feature_keys() if not k.startswith("observation.images.")]
    assert schema.field("observation.state").type == pa.list_(pa.float32(), 3)
    assert schema.field("action").type == pa.list_(pa.float32(), 6)
    assert schema.field("observation.timestamp_s").type == pa.float32()
    assert schema.field("observation.cameras.top.cam_to_world").type == pa.list_(pa.float64(), 16)
    assert schema.field("timestamp").type == pa.float32()
    assert schema.field("index").type == pa.int64()
    hf = json.loads(schema.metadata[b"huggingface"])["info"]["features"]
    assert hf["action"] == {
        "feature": {"dtype": "float32", "_type": "Value"}, "length": 6, "_type": "List"
    }  # fmt: skip
    assert hf["timestamp"] == {"dtype": "float32", "_type": "Value"}
    tasks = pq.read_table(lossless / "meta/tasks.parquet").to_pylist()
    task_of = {r["task_index"]: r["__index_level_0__"] for r in tasks}
    eps = _episodes(lossless)
    rows = _frames(lossless)
    assert [r["index"] for r in rows] == list(range(6))
    assert [r["episode_index"] for r in rows] == [0, 0, 0, 1, 1, 1]
    assert [r["frame_index"] for r in rows] == [0, 1, 2, 0, 1, 2]
    for r in rows:
        scene, t = scenes[r["episode_index"]], r["frame_index"]
        assert r["timestamp"] == np.float32(t / 1)
        assert r["observation.timestamp_s"] == np.float32(scene.timestamps[t])
        assert task_of[r["task_index"]] == eps[r["episode_index"]]["tasks"][0]
        wrist = scene.view("wrist", t).camera
        assert np.array_equal(r["observation.state"], wrist.center.astype(np.float32))
        assert np.array_equal(r["action"], _push_action(scene, t))
        for c in CAMERAS:
            cam = scene.view(c, t).camera
            assert r[f"observation.cameras.{c}.intrinsics"] == cam.K.reshape(9).tolist()
            assert (
                r[f"observation.cameras.{c}.cam_to_world"] == cam.cam_to_world.reshape(16).tolist()
            )
    assert all(np.array_equal(r["action"], np.zeros(6)) for r in rows if r["frame_index"] == 2)
    assert sum(np.any(r["action"]) for r in rows) == sum(
        len(s.provenance["pushes"]) for s in scenes
    )
    # the wrist camera moves between timesteps, so the state does
    assert not np.allclose(rows[0]["observation.state"], rows[1]["observation.state"])


def test_tasks_parquet_is_a_pandas_frame_indexed_by_task(lossless, store):
    _, scenes = store
    path = lossless / "meta/tasks.parquet"
    schema = pq.read_schema(path)
    assert schema.names == ["task_index", "__index_level_0__"]
    assert json.loads(schema.metadata[b"pandas"])["index_columns"] == ["__index_level_0__"]
    rows = pq.read_table(path).to_pylist()
    assert [r["task_index"] for r in rows] == list(range(len(rows)))
    eps = _episodes(lossless)
    assert [r["__index_level_0__"] for r in rows] == list(dict.fromkeys(e["tasks"][0] for e in eps))
    for e, scene in zip(eps, scenes):
        task = e["tasks"][0]
        pushes = scene.provenance["pushes"]
        assert task.startswith("push the ")
        parts = task.removeprefix("push the ").split(", then the ")
        assert len(parts) == len(pushes)
        for part, p in zip(parts, pushes):
            attrs = scene.instances[p["track_id"]].attributes
            assert part.endswith(attrs["shape"]) and attrs["color"] in part.split()


# ----------------------------------------------------------------------------- videos


def test_lossless_videos_decode_to_the_scenes_pixels(lossless, store):
    _, scenes = store
    eps = _episodes(lossless)
    for c in CAMERAS:
        key = f"observation.images.{c}"
        frames = _decode(lossless / f"videos/{key}/chunk-000/file-000.mp4")
        assert len(frames) == 6
        for e, scene in zip(eps, scenes):
            for t in range(3):
                at = e[f"videos/{key}/from_timestamp"] + t / 1
                shown = [img for ts, img in frames if abs(ts - at) < 1e-4]
                assert len(shown) == 1, (c, e["episode_index"], t)
                assert np.array_equal(shown[0], scene.view(c, t).image), (c, scene.scene_id, t)


def test_default_export_is_lerobots_av1_and_close_to_the_source(default_av1, store):
    _, scenes = store
    info = _info(default_av1)
    ft = info["features"]["observation.images.wrist"]
    assert ft["info"]["video.codec"] == "av1" and ft["info"]["video.pix_fmt"] == "yuv420p"
    assert ft["info"]["video.channels"] == 3
    for c in ("fix_left", "wrist"):
        frames = _decode(default_av1 / f"videos/observation.images.{c}/chunk-000/file-000.mp4")
        src = [s.view(c, t).image for s in scenes for t in range(3)]
        assert [ts for ts, _ in frames] == pytest.approx([0, 1, 2, 3, 4, 5])
        for i, (_, img) in enumerate(frames):
            assert img.shape == (120, 160, 3)
            errs = [np.abs(img.astype(int) - s).mean() for s in src]
            assert errs[i] < 8.0, (c, i, errs[i])
            if c == "wrist":  # the moving camera: each frame is nearest its own source
                assert int(np.argmin(errs)) == i


def test_cli_prints_a_summary(store, tmp_path, capsys):
    out = _export(store[0], tmp_path / "ds", "--lossless", capsys=capsys)
    assert out.strip() == f"2 episodes, 6 frames, 5 cameras -> {tmp_path / 'ds'}"


# ----------------------------------------------------------------------------- options, refusals


def test_fps_limit_and_overwrite(store, lossless, tmp_path):
    with pytest.raises(BadInputError, match="not empty"):
        export_lerobot(store[0], lossless, lossless=True, progress=False)
    assert main(["export", str(store[0]), "--format", "lerobot", "--out", str(lossless)]) == 2
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("x", encoding="utf-8")
    with pytest.raises(BadInputError, match="no LeRobot dataset"):
        export_lerobot(store[0], other, overwrite=True, progress=False)
    assert (other / "keep.txt").is_file()
    out = tmp_path / "ds"
    export_lerobot(store[0], out, lossless=True, progress=False)
    report = export_lerobot(
        store[0], out, fps=2, lossless=True, limit=1, overwrite=True, progress=False
    )
    assert (report.episodes, report.frames, report.cameras) == (1, 3, CAMERAS)
    info = _info(out)
    assert info["fps"] == 2 and info["total_episodes"] == 1
    assert info["features"]["observation.images.top"]["info"]["video.fps"] == 2
    assert [r["timestamp"] for r in _frames(out)] == [0.0, 0.5, 1.0]
    e = _episodes(out)[0]
    assert e["videos/observation.images.top/to_timestamp"] == pytest.approx(1.5)
    frames = _decode(out / "videos/observation.images.top/chunk-000/file-000.mp4")
    assert [ts for ts, _ in frames] == pytest.approx([0.0, 0.5, 1.0])
    with pytest.raises(BadInputError, match="fps"):
        export_lerobot(store[0], tmp_path / "fps0", fps=0, progress=False)


def _copy(store_path: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "store"
    shutil.copytree(store_path, dst)
    return dst


def test_a_camera_changing_size_is_refused_naming_scene_and_camera(store, tmp_path):
    src = _copy(store[0], tmp_path)
    scene = store[1][0]
    save_image(src / scene.scene_id / "images/top_t001.png", np.zeros((60, 80, 3), np.uint8))
    out = tmp_path / "ds"
    with pytest.raises(BadInputError, match=rf"scene {scene.scene_id}: camera top changes image"):
        export_lerobot(src, out, lossless=True, progress=False)
    assert not out.exists() and not list(tmp_path.glob(".ds.tmp*"))


def test_a_camera_missing_at_a_timestep_is_refused(store, tmp_path):
    src = _copy(store[0], tmp_path)
    scene = store[1][1]
    manifest = src / scene.scene_id / "scene.json"
    m = json.loads(manifest.read_text(encoding="utf-8"))
    m["views"] = [v for v in m["views"] if v["id"] != "wrist_t002"]
    manifest.write_text(json.dumps(m), encoding="utf-8")
    args = ["export", str(src), "--format", "lerobot", "--out", str(tmp_path / "ds")]
    assert main(args) == 2
    with pytest.raises(BadInputError, match=rf"scene {scene.scene_id}: camera wrist has no view"):
        export_lerobot(src, tmp_path / "ds", progress=False)


def test_a_scene_with_other_cameras_is_skipped_counted(store, tmp_path):
    src = _copy(store[0], tmp_path)
    scene = store[1][1]
    manifest = src / scene.scene_id / "scene.json"
    m = json.loads(manifest.read_text(encoding="utf-8"))
    for rec in [*m["cameras"], *m["views"]]:
        key = "name" if "name" in rec else "camera"
        if rec[key] == "top":
            rec[key] = "overhead"
    manifest.write_text(json.dumps(m), encoding="utf-8")
    report = export_lerobot(src, tmp_path / "ds", lossless=True, progress=False)
    assert (report.episodes, report.frames) == (1, 3)
    assert list(report.skipped.values()) == [1]
    assert "differ from the first episode" in next(iter(report.skipped))
    assert _info(tmp_path / "ds")["total_episodes"] == 1
