"""Every validation error kind comes from a fixture with exactly that defect."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from crossview.cli import main
from crossview.scene import PROBLEM_KINDS, validate_paths
from crossview.scene.store import save_depth

SCENE = "toy_000"


def _edit_manifest(store: Path, edit: Callable[[dict], None]) -> None:
    path = store / SCENE / "scene.json"
    m = json.loads(path.read_text())
    edit(m)
    path.write_text(json.dumps(m))


def _edit_masks(store: Path, view: str, edit: Callable[[dict], None]) -> None:
    path = store / SCENE / "masks" / f"{view}.json"
    m = json.loads(path.read_text())
    edit(m)
    path.write_text(json.dumps(m))


def _set(path: list, value) -> Callable[[dict], None]:
    def edit(m: dict) -> None:
        obj = m
        for key in path[:-1]:
            obj = obj[key]
        obj[path[-1]] = value

    return edit


def _uncalibrated_keeping_k(m: dict) -> None:
    m["cameras"][1]["calibrated"] = False  # its K stays
    for v in m["views"]:
        if v["camera"] == m["cameras"][1]["name"]:
            v["cam_to_world"] = None
            v.pop("K", None)


def _uncalibrated_keeping_a_pose(m: dict) -> None:
    m["cameras"][1].update(calibrated=False, K=None)
    for v in m["views"]:
        if v["camera"] == m["cameras"][1]["name"]:
            v.pop("K", None)
            if v["timestep"] > 0:
                v["cam_to_world"] = None  # only wrist_t000 keeps its pose


def _nan_state(m: dict) -> None:
    m["schema_version"] = 2
    m["timestep_meta"] = [{"state": [0.0, 1.0]} for _ in m["timestamps"]]
    m["timestep_meta"][1]["state"] = [0.0, float("nan")]


def _rotated_pose(m: dict) -> None:
    R = np.array(m["views"][1]["cam_to_world"])
    R[:3, 0] *= 1.5  # a column that is no longer unit length
    m["views"][1]["cam_to_world"] = R.tolist()


def _reflected_pose(m: dict) -> None:
    R = np.array(m["views"][1]["cam_to_world"])
    R[:3, 2] *= -1  # orthonormal but det = -1 (a reflection)
    m["views"][1]["cam_to_world"] = R.tolist()


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _wrong_size_image(store: Path) -> None:
    from PIL import Image

    Image.new("RGB", (41, 30)).save(store / SCENE / "images" / "wrist_t001.png")


def _neg_depth(store: Path) -> None:
    d = np.ones((30, 40), np.float32)
    d[3, 4] = -0.5
    save_depth(store / SCENE / "depth" / "fix_left_t000.npz", d)


def _duplicate_track(m: dict) -> None:
    m["objects"].append(dict(m["objects"][0]))


def _empty_mask(m: dict) -> None:
    from crossview.geometry import rle_encode

    m["objects"][0]["visible"] = rle_encode(np.zeros((30, 40), bool))


def _negative_beyond(m: dict) -> None:
    m["has_beyond"] = True
    m["objects"][0]["beyond"] = -3


def _mask_size(m: dict) -> None:
    from crossview.geometry import rle_encode

    m["objects"][1]["visible"] = rle_encode(np.ones((31, 40), bool))


# defect name -> (how to make it, expected kind, expected file suffix, record part, field)
DEFECTS: dict[str, tuple[Callable[[Path], None], str, str, str, str]] = {
    "image missing": (
        lambda s: (s / SCENE / "images" / "wrist_t000.png").unlink(),
        "image_missing",
        "images/wrist_t000.png",
        "view wrist_t000",
        "image",
    ),
    "image unreadable": (
        lambda s: (s / SCENE / "images" / "wrist_t000.png").write_bytes(b"not a png at all"),
        "image_unreadable",
        "images/wrist_t000.png",
        "view wrist_t000",
        "image",
    ),
    "image truncated": (
        lambda s: _truncate(s / SCENE / "images" / "fix_left_t001.png"),
        "image_truncated",
        "images/fix_left_t001.png",
        "view fix_left_t001",
        "image",
    ),
    "image size": (
        _wrong_size_image,
        "image_size",
        "images/wrist_t001.png",
        "view wrist_t001",
        "image",
    ),
    "NaN in K": (
        lambda s: _edit_manifest(s, _set(["cameras", 0, "K", 0, 0], float("nan"))),
        "nonfinite",
        "scene.json",
        "camera fix_left",
        "K",
    ),
    "inf in pose": (
        lambda s: _edit_manifest(s, _set(["views", 1, "cam_to_world", 0, 3], float("inf"))),
        "nonfinite",
        "scene.json",
        "view wrist_t000",
        "cam_to_world",
    ),
    "rotation not orthonormal": (
        lambda s: _edit_manifest(s, _rotated_pose),
        "rotation",
        "scene.json",
        "view wrist_t000",
        "cam_to_world",
    ),
    "rotation det -1": (
        lambda s: _edit_manifest(s, _reflected_pose),
        "rotation",
        "scene.json",
        "view wrist_t000",
        "cam_to_world",
    ),
    "focal length": (
        lambda s: _edit_manifest(s, _set(["cameras", 1, "K", 1, 1], -30.0)),
        "focal_length",
        "scene.json",
        "camera wrist",
        "K",
    ),
    "mask size": (
        lambda s: _edit_masks(s, "fix_left_t000", _mask_size),
        "mask_size",
        "masks/fix_left_t000.json",
        "view fix_left_t000 track 2",
        "visible",
    ),
    "empty mask": (
        lambda s: _edit_masks(s, "wrist_t001", _empty_mask),
        "mask_empty",
        "masks/wrist_t001.json",
        "view wrist_t001 track 1",
        "visible",
    ),
    "negative beyond": (
        lambda s: _edit_masks(s, "wrist_t001", _negative_beyond),
        "mask_beyond",
        "masks/wrist_t001.json",
        "view wrist_t001 track 1",
        "beyond",
    ),
    "duplicate track": (
        lambda s: _edit_masks(s, "wrist_t000", _duplicate_track),
        "duplicate_track",
        "masks/wrist_t000.json",
        "view wrist_t000 track 1",
        "track_id",
    ),
    "negative depth": (
        _neg_depth,
        "depth_negative",
        "depth/fix_left_t000.npz",
        "view fix_left_t000",
        "depth",
    ),
    "uncalibrated camera with K": (
        lambda s: _edit_manifest(s, _uncalibrated_keeping_k),
        "calibration",
        "scene.json",
        "camera wrist",
        "K",
    ),
    "uncalibrated view with a pose": (
        lambda s: _edit_manifest(s, _uncalibrated_keeping_a_pose),
        "calibration",
        "scene.json",
        "view wrist_t000",
        "cam_to_world",
    ),
    "timestep_meta with NaN": (
        lambda s: _edit_manifest(s, _nan_state),
        "timestep_meta",
        "scene.json",
        "timestep_meta[1]",
        "state",
    ),
    "schema version": (
        lambda s: _edit_manifest(s, _set(["schema_version"], 7)),
        "schema_version",
        "scene.json",
        "",
        "schema_version",
    ),
    "manifest not JSON": (
        lambda s: (s / SCENE / "scene.json").write_text('{"scene_id": '),
        "manifest_json",
        "scene.json",
        "",
        "",
    ),
    "depth missing": (
        lambda s: (s / SCENE / "depth" / "wrist_t001.npz").unlink(),
        "depth_missing",
        "depth/wrist_t001.npz",
        "view wrist_t001",
        "depth",
    ),
    "depth truncated": (
        lambda s: _truncate(s / SCENE / "depth" / "wrist_t001.npz"),
        "depth_unreadable",
        "depth/wrist_t001.npz",
        "view wrist_t001",
        "depth",
    ),
    "masks missing": (
        lambda s: (s / SCENE / "masks" / "wrist_t001.json").unlink(),
        "masks_missing",
        "masks/wrist_t001.json",
        "view wrist_t001",
        "masks",
    ),
    "unknown track": (
        lambda s: _edit_masks(s, "wrist_t001", _set(["objects", 1, "track_id"], 7)),
        "unknown_track",
        "masks/wrist_t001.json",
        "view wrist_t001 track 7",
        "track_id",
    ),
    "duplicate view": (
        lambda s: _edit_manifest(s, _set(["views", 2, "timestep"], 0)),
        "duplicate_view",
        "scene.json",
        "view fix_left_t001",
        "",
    ),
    "depth size": (
        lambda s: save_depth(s / SCENE / "depth" / "wrist_t000.npz", np.ones((30, 41), np.float32)),
        "depth_size",
        "depth/wrist_t000.npz",
        "view wrist_t000",
        "depth",
    ),
    "width not positive": (
        lambda s: _edit_manifest(s, _set(["cameras", 1, "width"], 0)),
        "manifest_field",
        "scene.json",
        "camera wrist",
        "width",
    ),
    "masks not a list": (
        lambda s: _edit_masks(s, "wrist_t000", _set(["objects"], {})),
        "masks_json",
        "masks/wrist_t000.json",
        "view wrist_t000",
        "masks",
    ),
    "RLE without size": (
        lambda s: _edit_masks(s, "wrist_t000", _drop_size),
        "mask_unreadable",
        "masks/wrist_t000.json",
        "view wrist_t000 track 2",
        "amodal",
    ),
}


def _drop_size(m: dict) -> None:
    del m["objects"][1]["amodal"]["size"]


def test_clean_store_validates(store: Path) -> None:
    report = validate_paths([store])
    assert report.valid, [str(p) for p in report.problems]
    assert (report.scenes, report.views) == (2, 8)
    assert report.summary() == "checked 2 scene(s), 8 view(s): valid"


@pytest.mark.parametrize("name", list(DEFECTS))
def test_each_defect_is_reported_exactly(name: str, store: Path) -> None:
    make, kind, file_suffix, record, field = DEFECTS[name]
    make(store)
    report = validate_paths([store])
    assert [p.kind for p in report.problems] == [kind], [str(p) for p in report.problems]
    problem = report.problems[0]
    assert problem.file.endswith(file_suffix)
    assert problem.record == record and problem.field == field
    assert SCENE in problem.file  # the clean sibling scene raised nothing


def test_every_kind_has_a_fixture_or_is_structural() -> None:
    covered = {d[1] for d in DEFECTS.values()}
    structural = {"path_missing", "manifest_missing"}  # tested through the CLI below
    assert set(PROBLEM_KINDS) == covered | structural


def test_cli_exit_codes_and_json(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(store)]) == 0
    assert capsys.readouterr().out.strip().endswith("valid")

    DEFECTS["image truncated"][0](store)
    DEFECTS["NaN in K"][0](store)
    assert main(["validate", str(store), "--json"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] is False and out["counts"] == {"image_truncated": 1, "nonfinite": 1}
    assert out["scenes"] == 2

    assert main(["validate", str(store)]) == 2
    text = capsys.readouterr().out
    assert "fix_left_t001.png" in text and "2 problem(s)" in text


def test_cli_missing_path_and_not_a_store(tmp_path: Path, capsys) -> None:
    assert main(["validate", str(tmp_path / "nope")]) == 2
    assert "path_missing" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert main(["validate", str(tmp_path / "empty")]) == 2
    assert "manifest_missing" in capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from crossview import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"crossview {__version__}"
