"""WildRGB-D import: an RGB-D video around a toy object written in the dataset's layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crossview.errors import BadInputError
from crossview.scene.store import read_scene
from crossview.sources.adapters import import_dataset
from crossview.sources.toy import ToyCamera
from tests.sources.adapter_world import BALLS, assert_valid, generate_and_verify, toy_world

FRAMES = 6


def _orbit() -> list[ToyCamera]:
    """A handheld camera circling the table, nearer and farther (apparent size changes)."""
    cams = []
    for i in range(FRAMES):
        a = 2 * np.pi * i / FRAMES
        r = 0.45 if i % 2 else 0.85
        cams.append(ToyCamera(f"f{i:05d}", (r * np.cos(a), r * np.sin(a), 0.45), f=80))
    return cams


def write_video(scene_dir: Path) -> dict:
    """One WildRGB-D scene folder (rgb/, depth/, masks/, metadata, cam_poses.txt)."""
    world = toy_world(cameras=_orbit())
    for sub in ("rgb", "depth", "masks"):
        (scene_dir / sub).mkdir(parents=True)
    lines = []
    for i, v in enumerate(world.views):
        Image.fromarray(v.image).save(scene_dir / "rgb" / f"{i:05d}.png")
        depth_mm = np.round(v.depth_m * 1000).astype(np.uint16)
        Image.fromarray(depth_mm).save(scene_dir / "depth" / f"{i:05d}.png")
        Image.fromarray((v.mask(1) * 255).astype(np.uint8)).save(
            scene_dir / "masks" / f"{i:05d}.png"
        )
        lines.append(" ".join([str(i), *(repr(float(x)) for x in v.camera.cam_to_world.ravel())]))
    (scene_dir / "cam_poses.txt").write_text("\n".join(lines) + "\n")
    K = world.views[0].camera.K
    meta = {
        "K": K.T.reshape(-1).tolist(),
        "w": world.views[0].camera.width,
        "h": world.views[0].camera.height,
    }
    (scene_dir / "metadata").write_text(json.dumps(meta))
    return {v.camera.name: v for v in world.views}


def write_category(root: Path, category: str, types: dict[str, str]) -> dict:
    truth = {}
    for name in types:
        truth = write_video(root / category / "scenes" / name)
    (root / category / "types.json").write_text(json.dumps(types))
    return truth


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("wildrgbd")
    truth = write_category(root / "data", "ball", {"scenes_000": "single", "scenes_001": "hand"})
    report = import_dataset("wildrgbd", root / "data", root / "store", progress=False)
    return root, truth, report


def test_import_writes_a_valid_store_and_skips_hand_videos(imported) -> None:
    root, _, report = imported
    assert report.written == ["ball_scenes_000"], report
    assert "hand-object video" in report.skipped["ball_scenes_001"]
    assert "include_hand=true" in report.skipped["ball_scenes_001"]
    assert_valid(root / "store")


def test_round_trip_intrinsics_poses_depth_and_object(imported) -> None:
    root, truth, _ = imported
    scene = read_scene(root / "store" / "ball_scenes_000")
    assert scene.source == "wildrgbd" and len(scene.views) == FRAMES
    for name, gt in truth.items():
        v = scene.view(name, 0)
        np.testing.assert_allclose(v.camera.K, gt.camera.K, atol=1e-12)
        np.testing.assert_allclose(v.camera.cam_to_world, gt.camera.cam_to_world, atol=1e-9)
        assert np.abs(v.depth_m - gt.depth_m).max() <= 0.0005 + 1e-6
        assert v.track_ids == [1] and (v.mask(1) == gt.mask(1)).all()
    inst = scene.instances[1]
    assert inst.category == "ball" and inst.attributes == {"video_type": "single"}
    assert np.linalg.norm(inst.poses[0, :3, 3] - BALLS[0].centers[0]) < BALLS[0].radius


def test_questions_from_the_import_are_answered_by_the_oracle(imported) -> None:
    root, _, _ = imported
    n = generate_and_verify(root / "store", root / "ds", ["Q10"])
    assert n >= 3


def test_options_max_views_and_include_hand(tmp_path: Path) -> None:
    write_category(tmp_path / "data", "ball", {"scenes_000": "single", "scenes_001": "hand"})
    report = import_dataset(
        "wildrgbd",
        tmp_path / "data" / "ball",
        tmp_path / "store",
        progress=False,
        options={"max_views": "3", "include_hand": "true"},
    )
    assert sorted(report.written) == ["ball_scenes_000", "ball_scenes_001"]
    scene = read_scene(tmp_path / "store" / "ball_scenes_001")
    assert [v.camera.name for v in scene.views] == ["f00000", "f00002", "f00005"]
    with pytest.raises(BadInputError, match=r"unknown option 'frames'.*max_views"):
        import_dataset("wildrgbd", tmp_path / "data", tmp_path / "s2", options={"frames": 2})


def test_partial_dataset_imports_the_rest(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_category(data, "ball", {"scenes_000": "single", "scenes_001": "single"})
    s0 = data / "ball" / "scenes" / "scenes_000"
    poses = (s0 / "cam_poses.txt").read_text().splitlines()
    poses[1] = poses[1].rsplit(" ", 3)[0]  # a corrupt line (too few numbers)
    (s0 / "cam_poses.txt").write_text("\n".join(poses) + "\n")
    (s0 / "rgb" / "00003.png").unlink()  # a frame with a pose but no image
    (data / "ball" / "scenes" / "scenes_001" / "metadata").unlink()
    report = import_dataset("wildrgbd", data, tmp_path / "store", progress=False)
    assert report.written == ["ball_scenes_000"]
    assert "metadata" in report.skipped["ball_scenes_001"]
    assert "file is missing" in report.skipped["ball_scenes_001"]
    texts = "\n".join(r for _, _, r in report.dropped_views)
    assert "cam_poses.txt: line 2: expected a frame id and 16 numbers" in texts
    assert "00003.png: image file is missing" in texts
    assert_valid(tmp_path / "store")
    scene = read_scene(tmp_path / "store" / "ball_scenes_000")
    assert [v.camera.name for v in scene.views] == ["f00000", "f00002", "f00004", "f00005"]
