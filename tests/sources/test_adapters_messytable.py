"""MessyTable import: labels and JPEG images in the dataset's layout, masks from GrabCut."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.spatial.transform import Rotation

from crossview.errors import BadInputError
from crossview.scene.store import read_scene
from crossview.sources.adapters import import_dataset
from tests.sources.adapter_world import (
    BALLS,
    assert_valid,
    box_of,
    generate_and_verify,
    toy_world,
)

SCENES = ("20190101-00001-01", "20190101-00002-01")


def write_messytable(root: Path, scenes=SCENES) -> dict:
    """Write the toy world as MessyTable scenes (labels/test.json, images/*.jpg)."""
    world = toy_world()
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    intrinsics, labels = {}, {}
    for name in scenes:
        cams = {}
        for k, v in enumerate(world.views, start=1):
            cam = str(k)
            intrinsics[cam] = v.camera.K.reshape(-1).tolist()
            c2w = v.camera.cam_to_world
            euler = Rotation.from_matrix(c2w[:3, :3]).as_euler("xyz")
            insts = {}
            for tid in v.track_ids:
                x0, y0, x1, y1 = box_of(v.mask(tid))
                insts[str(tid)] = {"pos": [x0, y0, x1 - 1, y1 - 1], "cls": 1, "subcls": tid}
            cams[cam] = {"extrinsics": [*c2w[:3, 3].tolist(), *euler.tolist()], "instances": insts}
            Image.fromarray(v.image).save(root / "images" / f"{name}-0{cam}.jpg", quality=95)
        labels[name] = {"cameras": cams}
    (root / "labels" / "test.json").write_text(
        json.dumps({"intrinsics": intrinsics, "scenes": labels})
    )
    return {v.camera.name: v for v in world.views}


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("messytable")
    truth = write_messytable(root / "data")
    report = import_dataset("messytable", root / "data", root / "store", progress=False)
    return root, truth, report


def test_import_writes_a_valid_store(imported) -> None:
    root, _, report = imported
    assert sorted(report.written) == sorted(SCENES), report
    assert not report.skipped and not report.dropped_views
    assert report.masks_kept >= 24
    assert_valid(root / "store")


def test_round_trip_cameras_and_tracks(imported) -> None:
    root, truth, _ = imported
    scene = read_scene(root / "store" / SCENES[0])
    assert scene.source == "messytable" and len(scene.views) == 4
    for k, (_name, gt) in enumerate(sorted(truth.items()), start=1):
        v = scene.view(f"cam{k}", 0)
        np.testing.assert_allclose(v.camera.K, gt.camera.K, atol=1e-9)
        np.testing.assert_allclose(v.camera.cam_to_world, gt.camera.cam_to_world, atol=1e-9)
        assert v.track_ids == gt.track_ids
        for tid in gt.track_ids:
            m, g = v.mask(tid), gt.mask(tid)
            assert (m & g).sum() / (m | g).sum() > 0.6, (k, tid)
            assert box_of(m) == box_of(g) or (m & ~g).sum() < 0.3 * g.sum()
    assert sorted(scene.instances) == [b.track_id for b in BALLS]
    assert scene.instances[2].attributes == {"subclass": "2"}
    assert all(i.poses is None for i in scene.instances.values())


def test_questions_from_the_import_are_answered_by_the_oracle(imported) -> None:
    root, _, _ = imported
    n = generate_and_verify(root / "store", root / "ds", ["Q1", "Q2", "Q3", "Q4", "Q5"])
    assert n >= 10


def test_partial_dataset_imports_the_rest(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_messytable(data, scenes=("s1", "s2", "s3"))
    (data / "images" / "s1-03.jpg").unlink()  # an image listed but absent
    labels = json.loads((data / "labels" / "test.json").read_text())
    labels["scenes"]["s2"]["cameras"]["2"]["extrinsics"] = [0, 0, 1]  # corrupt record
    del labels["intrinsics"]["4"]  # camera 4 has no intrinsics
    (data / "labels" / "test.json").write_text(json.dumps(labels))
    (data / "labels" / "val.json").write_text('{"scenes": {')  # a truncated label file
    report = import_dataset("messytable", data, tmp_path / "store", progress=False)
    assert sorted(report.written) == ["s1", "s2", "s3"]
    assert "not valid JSON" in report.skipped["labels_val"]
    texts = "\n".join(f"{s} {v}: {r}" for s, v, r in report.dropped_views)
    assert "s1 camera 3:" in texts and "image file is missing" in texts and "s1-03.jpg" in texts
    assert "scene s2 camera 2: extrinsics: must be 6 finite numbers" in texts
    assert "no intrinsics for camera 4" in texts
    assert_valid(tmp_path / "store")
    assert sorted(v.camera.name for v in read_scene(tmp_path / "store" / "s2").views) == [
        "cam1",
        "cam3",
    ]


def test_no_labels_folder(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="labels/ is missing"):
        import_dataset("messytable", tmp_path, tmp_path / "store", progress=False)


def test_without_mask_completion_boxes_give_no_masks(tmp_path: Path) -> None:
    write_messytable(tmp_path / "data", scenes=("s1",))
    report = import_dataset(
        "messytable",
        tmp_path / "data",
        tmp_path / "store",
        mask_completion="none",
        progress=False,
    )
    assert report.written == ["s1"] and report.masks_kept == 0
    assert report.masks_dropped == {"no_completion": 16}
    assert_valid(tmp_path / "store")
