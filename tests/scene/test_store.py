"""Scene store: exact round trip, atomic and idempotent writes, lazy loading, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crossview.errors import BadInputError
from crossview.scene import Scene, list_scenes, read_scene, write_scene
from crossview.scene.model import Camera, View
from crossview.scene.store import _masks_to_json


def _assert_same_scene(a: Scene, b: Scene) -> None:
    assert a.scene_id == b.scene_id and a.source == b.source and a.rig_id == b.rig_id
    assert a.timestamps == b.timestamps
    assert a.contacts == b.contacts
    assert a.provenance == b.provenance
    assert [v.view_id for v in a.views] == [v.view_id for v in b.views]
    for va, vb in zip(a.views, b.views, strict=False):
        assert va.camera.name == vb.camera.name and va.camera.role == vb.camera.role
        assert (va.camera.width, va.camera.height) == (vb.camera.width, vb.camera.height)
        np.testing.assert_array_equal(va.camera.K, vb.camera.K)
        np.testing.assert_array_equal(va.camera.cam_to_world, vb.camera.cam_to_world)
        assert va.timestamp == vb.timestamp and va.timestep == vb.timestep
        np.testing.assert_array_equal(va.image, vb.image)
        np.testing.assert_array_equal(va.depth_m, vb.depth_m)
        assert va.track_ids == vb.track_ids
        for tid in va.track_ids:
            np.testing.assert_array_equal(va.mask(tid), vb.mask(tid))
            np.testing.assert_array_equal(va.amodal_mask(tid), vb.amodal_mask(tid))
    assert sorted(a.instances) == sorted(b.instances)
    for tid, ia in a.instances.items():
        ib = b.instances[tid]
        assert (ia.category, ia.attributes) == (ib.category, ib.attributes)
        np.testing.assert_array_equal(ia.extent_m, ib.extent_m)
        np.testing.assert_array_equal(ia.poses, ib.poses)


def test_round_trip_is_exact(scene: Scene, tmp_path: Path) -> None:
    folder = write_scene(scene, tmp_path)
    assert folder == tmp_path / scene.scene_id
    _assert_same_scene(scene, read_scene(folder))


def test_round_trip_of_a_read_scene_gives_the_same_bytes(scene: Scene, tmp_path: Path) -> None:
    first = write_scene(scene, tmp_path / "a")
    second = write_scene(read_scene(first), tmp_path / "b")
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel


def test_write_skips_finished_scene_unless_overwrite(scene_factory, tmp_path: Path) -> None:
    write_scene(scene_factory("s", seed=0), tmp_path)
    write_scene(scene_factory("s", seed=1), tmp_path)  # kept: the first one stays
    kept = read_scene(tmp_path / "s")
    np.testing.assert_array_equal(kept.views[0].image, scene_factory("s", 0).views[0].image)
    write_scene(scene_factory("s", seed=1), tmp_path, overwrite=True)
    replaced = read_scene(tmp_path / "s")
    np.testing.assert_array_equal(replaced.views[0].image, scene_factory("s", 1).views[0].image)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temp folder left"


def test_images_load_lazily_and_release(store: Path) -> None:
    s = read_scene(store / "toy_000")
    v = s.views[0]
    assert v._image._value is None  # nothing read yet
    assert v.image.shape == (30, 40, 3) and v.image.dtype == np.uint8
    v.release()
    assert v._image._value is None
    assert v.image.shape == (30, 40, 3)


def test_view_helpers(scene: Scene) -> None:
    v = scene.view("fix_left", 1)
    assert v.view_id == "fix_left_t001"
    assert v.visible_area(1) == 10 * 16
    assert v.visible_fraction(1) == 1.0
    assert 0 < v.visible_fraction(2) < 1.0
    assert v.visible_area(99) == 0 and not v.mask(99).any()
    assert scene.in_contact(2, 1, 0) is True and scene.in_contact(1, 2, 1) is False
    with pytest.raises(KeyError, match="fix_left_t000"):
        scene.view("nope", 0)
    assert scene.camera_names == ["fix_left", "wrist"]
    assert scene.instances[1].describe() == "small red cube"


def test_pixels_beyond_the_border_count_in_the_visible_fraction(tmp_path: Path) -> None:
    from crossview.scene.model import masks_from_arrays
    from crossview.scene.store import masks_from_json

    h, w = 30, 40
    vis, amo = np.zeros((h, w), bool), np.zeros((h, w), bool)
    amo[10:20, 0:10] = True  # touches the left border
    vis[10:20, 0:5] = True
    inside = np.zeros((h, w), bool)
    inside[5:8, 10:20] = True
    cam = Camera("c", w, h, np.array([[30.0, 0, 19.5], [0, 30.0, 14.5], [0, 0, 1]]), np.eye(4))

    unknown = View(cam, masks=masks_from_arrays({1: vis, 2: inside}, {1: amo, 2: inside}))
    assert unknown.visible_fraction(1) == 0.5 and not unknown.fraction_exact(1)
    assert unknown.fraction_exact(2)  # inside the image: exact without a measurement

    masks = masks_from_arrays({1: vis, 2: inside}, {1: amo, 2: inside}, {1: 100, 2: 0})
    measured = View(cam, masks=masks)
    assert measured.beyond_area(1) == 100
    assert measured.visible_fraction(1) == 50 / 200 and measured.fraction_exact(1)
    # the store keeps the counts
    back = masks_from_json(json.loads(json.dumps(_masks_to_json(masks, h, w))), "m.json")
    assert back.beyond == {1: 100, 2: 0}
    bad = _masks_to_json(masks, h, w)
    bad["objects"][0]["beyond"] = 1.5
    with pytest.raises(BadInputError, match="beyond") as err:
        masks_from_json(bad, "m.json")
    assert err.value.field == "beyond" and err.value.record == "objects[0]"


def test_list_scenes_sorted_and_skips_hidden(store: Path) -> None:
    (store / ".toy_999.tmp-1").mkdir()
    assert [p.name for p in list_scenes(store)] == ["toy_000", "toy_001"]
    assert list_scenes(store / "toy_001") == [store / "toy_001"]


def test_read_errors_name_file_and_field(store: Path) -> None:
    manifest = store / "toy_000" / "scene.json"
    m = json.loads(manifest.read_text())
    m["schema_version"] = 99
    manifest.write_text(json.dumps(m))
    with pytest.raises(BadInputError) as exc:
        read_scene(store / "toy_000")
    assert exc.value.field == "schema_version" and str(manifest) in str(exc.value)

    manifest.write_text("{not json")
    with pytest.raises(BadInputError, match="line 1"):
        read_scene(store / "toy_000")


def test_missing_image_error_names_the_file(store: Path) -> None:
    s = read_scene(store / "toy_001")
    path = store / "toy_001" / "images" / "wrist_t000.png"
    path.unlink()
    with pytest.raises(BadInputError, match=r"wrist_t000\.png"):
        _ = s.view("wrist", 0).image
