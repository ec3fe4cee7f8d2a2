"""Validation of a scene store: every problem, with the file, record and field it is in.

Validation never raises on a user's bad data: each defect becomes a :class:`Problem`, and the
checks go on with the rest of the store. ``crossview validate`` prints them and exits 2 when
there is any.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from crossview.errors import BadInputError
from crossview.scene.store import (
    MANIFEST,
    READABLE_VERSIONS,
    load_depth,
    load_image,
    read_json,
)

#: Every kind of problem the validator reports, with what it means.
PROBLEM_KINDS: dict[str, str] = {
    "path_missing": "a path given to validate does not exist",
    "manifest_missing": "a scene folder has no scene.json",
    "manifest_json": "scene.json is not valid JSON",
    "schema_version": "the manifest's schema_version is not one this crossview reads",
    "manifest_field": "a required manifest field is missing or has the wrong type or shape",
    "nonfinite": "NaN or inf in intrinsics K, a camera pose or an object pose",
    "focal_length": "a focal length in K is not positive",
    "rotation": "a pose's rotation is not orthonormal with det +1, or its last row is not 0 0 0 1",
    "duplicate_view": "two views share a camera and timestep",
    "image_missing": "a view's image file does not exist",
    "image_unreadable": "a view's image file cannot be decoded",
    "image_truncated": "a view's image file ends early",
    "image_size": "an image's size differs from its camera's width x height",
    "depth_missing": "a view's depth file does not exist",
    "depth_unreadable": "a view's depth file cannot be read",
    "depth_size": "a depth map's shape differs from its camera's height x width",
    "depth_negative": "a depth map has negative values (invalid depth is 0 or NaN)",
    "masks_missing": "a view's mask file does not exist",
    "masks_json": "a view's mask file is not valid JSON or has the wrong structure",
    "mask_unreadable": "an RLE cannot be decoded",
    "mask_size": "a mask's size differs from its camera's height x width",
    "mask_empty": "a visible mask has no pixels (objects not visible are left out instead)",
    "mask_beyond": "an object's amodal pixel count beyond the image border is not an integer >= 0",
    "duplicate_track": "one track id appears twice in one view's masks",
    "unknown_track": "a mask's track id is not among the scene's instances",
    "calibration": "an uncalibrated camera (calibrated: false) carries K or a pose, or a "
    "calibrated one lacks them",
    "timestep_meta": "timestep_meta is not one object per timestep with numeric state/action",
}


@dataclass
class Problem:
    """One defect: what kind, where (file, record, field) and a message."""

    kind: str
    file: str
    message: str
    record: str = ""
    field: str = ""

    def __str__(self) -> str:
        where = ": ".join(p for p in (self.file, self.record, self.field) if p)
        return f"{where}: [{self.kind}] {self.message}"


@dataclass
class ValidationReport:
    """The outcome of validating one or more paths."""

    scenes: int = 0
    views: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        """Problem count per kind, sorted by kind."""
        return dict(sorted(Counter(p.kind for p in self.problems).items()))

    def summary(self) -> str:
        """One line: what was checked and how many problems of which kinds."""
        head = f"checked {self.scenes} scene(s), {self.views} view(s): "
        if self.valid:
            return head + "valid"
        kinds = ", ".join(f"{k} {n}" for k, n in self.counts().items())
        return head + f"{len(self.problems)} problem(s) ({kinds})"

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "scenes": self.scenes,
            "views": self.views,
            "counts": self.counts(),
            "problems": [asdict(p) for p in self.problems],
        }


class _Checker:
    """Collects problems for one scene folder."""

    def __init__(self, scene_dir: Path, report: ValidationReport) -> None:
        self.dir = scene_dir
        self.manifest = scene_dir / MANIFEST
        self.report = report

    def add(
        self, kind: str, message: str, file: Path | None = None, record: str = "", field: str = ""
    ) -> None:
        self.report.problems.append(
            Problem(kind, str(file or self.manifest), message, str(record), str(field))
        )

    # -- matrices ---------------------------------------------------------------------------

    def matrix(
        self, value: Any, shape: tuple[int, int], record: str, name: str
    ) -> np.ndarray | None:
        try:
            arr = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.shape != shape:
            got = "not a numeric matrix" if arr is None else f"shape {arr.shape}"
            self.add("manifest_field", f"must be a {shape} matrix, got {got}", None, record, name)
            return None
        if not np.isfinite(arr).all():
            self.add("nonfinite", "contains NaN or inf", None, record, name)
            return None
        return arr

    def pose(self, value: Any, record: str, name: str) -> None:
        T = self.matrix(value, (4, 4), record, name)
        if T is None:
            return
        R = T[:3, :3]
        err = np.abs(R.T @ R - np.eye(3)).max()
        det = float(np.linalg.det(R))
        if err > 1e-5 or abs(det - 1.0) > 1e-5:
            self.add(
                "rotation",
                f"rotation not orthonormal with det +1 (|R^T R - I| = {err:.2e}, det = {det:.6f})",
                None,
                record,
                name,
            )
        if not np.allclose(T[3], [0, 0, 0, 1], atol=1e-9):
            self.add(
                "rotation", f"last row must be 0 0 0 1, got {T[3].tolist()}", None, record, name
            )

    # -- scene ------------------------------------------------------------------------------

    def run(self) -> None:
        try:
            m = read_json(self.manifest)
        except BadInputError as exc:
            kind = "manifest_missing" if "missing" in exc.message else "manifest_json"
            self.add(kind, exc.message)
            return
        self.report.scenes += 1
        if not isinstance(m, dict):
            self.add("manifest_field", "the manifest must be a JSON object")
            return
        if m.get("schema_version") not in READABLE_VERSIONS:
            self.add(
                "schema_version",
                f"unknown schema version {m.get('schema_version')!r} "
                f"(this crossview reads {list(READABLE_VERSIONS)})",
                field="schema_version",
            )
            return
        for key, typ in (("scene_id", str), ("cameras", list), ("views", list)):
            if not isinstance(m.get(key), typ):
                self.add("manifest_field", f"required, a {typ.__name__}", field=key)
        if not isinstance(m.get("cameras"), list) or not isinstance(m.get("views"), list):
            return
        timestamps = m.get("timestamps", [0.0])
        if not isinstance(timestamps, list) or not timestamps:
            self.add("manifest_field", "must be a non-empty list of seconds", field="timestamps")
            timestamps = [0.0]
        cameras = self.cameras(m["cameras"])
        tracks = self.instances(m.get("instances", []), len(timestamps))
        self.timestep_meta(m.get("timestep_meta"), len(timestamps))
        if "language" in m and not isinstance(m["language"], (str, type(None))):
            self.add("manifest_field", "must be a string or null", field="language")
        seen: set[tuple[str, int]] = set()
        for i, vr in enumerate(m["views"]):
            self.view(i, vr, cameras, tracks, len(timestamps), seen)

    def cameras(self, records: list[Any]) -> dict[str, dict[str, Any]]:
        cams: dict[str, dict[str, Any]] = {}
        for i, c in enumerate(records):
            rec = f"cameras[{i}]"
            if not isinstance(c, dict) or not isinstance(c.get("name"), str):
                self.add("manifest_field", "a camera needs a string name", record=rec, field="name")
                continue
            rec = f"camera {c['name']}"
            ok = True
            for key in ("width", "height"):
                if not isinstance(c.get(key), int) or c[key] <= 0:
                    self.add("manifest_field", "must be a positive integer", record=rec, field=key)
                    ok = False
            if c.get("calibrated", True) is False:
                if c.get("K") is not None:
                    self.add(
                        "calibration", "an uncalibrated camera has no K", record=rec, field="K"
                    )
            else:
                self.intrinsics(c.get("K"), rec)
            # a camera with a bad size is kept so that its views do not also read "unknown
            # camera", but their size-dependent checks are skipped (one defect, one problem)
            cams[c["name"]] = c if ok else {}
        return cams

    def timestep_meta(self, value: Any, num_t: int) -> None:
        """``timestep_meta``: absent, or one object per timestep whose ``state`` and
        ``action`` (when present) are lists of finite numbers."""
        if value is None:
            return
        if not isinstance(value, list) or len(value) != num_t:
            self.add(
                "timestep_meta",
                f"must be a list of {num_t} objects (one per timestep)",
                field="timestep_meta",
            )
            return
        for t, entry in enumerate(value):
            rec = f"timestep_meta[{t}]"
            if not isinstance(entry, dict):
                self.add("timestep_meta", "must be an object", record=rec)
                continue
            for key in ("state", "action"):
                vec = entry.get(key)
                if vec is None:
                    continue
                ok = isinstance(vec, list) and all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) for x in vec
                )
                if not ok or not np.isfinite(np.array(vec, dtype=float)).all():
                    self.add("timestep_meta", "must be a list of finite numbers", None, rec, key)

    def intrinsics(self, value: Any, rec: str) -> None:
        K = self.matrix(value, (3, 3), rec, "K")
        if K is not None and (K[0, 0] <= 0 or K[1, 1] <= 0):
            self.add(
                "focal_length",
                f"focal lengths must be positive, got fx={K[0, 0]}, fy={K[1, 1]}",
                record=rec,
                field="K",
            )

    def instances(self, records: Any, num_t: int) -> set[int]:
        tracks: set[int] = set()
        if not isinstance(records, list):
            self.add("manifest_field", "must be a list", field="instances")
            return tracks
        for i, ir in enumerate(records):
            rec = f"instances[{i}]"
            if not isinstance(ir, dict) or not isinstance(ir.get("track_id"), int):
                self.add(
                    "manifest_field", "needs an integer track_id", record=rec, field="track_id"
                )
                continue
            rec = f"instance {ir['track_id']}"
            if ir["track_id"] in tracks:
                self.add("duplicate_track", "track id listed twice", record=rec, field="track_id")
            tracks.add(ir["track_id"])
            poses = ir.get("poses")
            if poses is None:
                continue
            if not isinstance(poses, list) or len(poses) != num_t:
                self.add(
                    "manifest_field",
                    f"must hold one 4x4 pose per timestep ({num_t})",
                    record=rec,
                    field="poses",
                )
                continue
            for t, p in enumerate(poses):
                self.pose(p, rec, f"poses[{t}]")
        return tracks

    def view(self, i: int, vr: Any, cameras: dict, tracks: set[int], num_t: int, seen: set) -> None:
        if not isinstance(vr, dict):
            self.add("manifest_field", "a view must be an object", record=f"views[{i}]")
            return
        rec = f"view {vr.get('id', i)}"
        self.report.views += 1
        cam = cameras.get(vr.get("camera"))
        if cam is None:
            self.add(
                "manifest_field", f"unknown camera {vr.get('camera')!r}", record=rec, field="camera"
            )
            return
        t = vr.get("timestep", 0)
        if not isinstance(t, int) or not 0 <= t < num_t:
            self.add(
                "manifest_field",
                f"must be an integer in [0, {num_t})",
                record=rec,
                field="timestep",
            )
        key = (vr["camera"], t)
        if key in seen:
            self.add("duplicate_view", f"camera {key[0]} at timestep {t} appears twice", record=rec)
        seen.add(key)
        if cam.get("calibrated", True) is False:
            if vr.get("cam_to_world") is not None or vr.get("K") is not None:
                self.add(
                    "calibration",
                    "a view of an uncalibrated camera has no pose or K",
                    record=rec,
                    field="cam_to_world",
                )
        else:
            self.pose(vr.get("cam_to_world"), rec, "cam_to_world")
            if "K" in vr:
                self.intrinsics(vr["K"], rec)
        if not cam:
            return
        w, h = cam["width"], cam["height"]
        self.image(vr, rec, w, h)
        self.depth(vr, rec, w, h)
        self.masks(vr, rec, w, h, tracks)

    def _file(self, vr: dict, key: str, rec: str) -> Path | None:
        rel = vr.get(key)
        if not isinstance(rel, str) or not rel:
            self.add("manifest_field", "required, a relative file path", record=rec, field=key)
            return None
        return self.dir / rel

    def image(self, vr: dict, rec: str, w: int, h: int) -> None:
        path = self._file(vr, "image", rec)
        if path is None:
            return
        try:
            img = load_image(path)
        except BadInputError as exc:
            kind = next(k for k in ("missing", "truncated", "unreadable") if k in exc.message)
            self.add(f"image_{kind}", exc.message, path, rec, "image")
            return
        if img.shape[:2] != (h, w):
            self.add(
                "image_size",
                f"image is {img.shape[1]}x{img.shape[0]}, camera says {w}x{h}",
                path,
                rec,
                "image",
            )

    def depth(self, vr: dict, rec: str, w: int, h: int) -> None:
        if vr.get("depth") is None:
            return
        path = self._file(vr, "depth", rec)
        if path is None:
            return
        try:
            d = load_depth(path)
        except BadInputError as exc:
            kind = "depth_missing" if "missing" in exc.message else "depth_unreadable"
            self.add(kind, exc.message, path, rec, "depth")
            return
        if d.shape != (h, w):
            self.add(
                "depth_size",
                f"depth is {d.shape[1]}x{d.shape[0]}, camera says {w}x{h}",
                path,
                rec,
                "depth",
            )
        neg = int(np.sum(d < 0))
        if neg:
            self.add(
                "depth_negative",
                f"{neg} negative value(s), min {np.nanmin(d):.4g} m",
                path,
                rec,
                "depth",
            )

    def masks(self, vr: dict, rec: str, w: int, h: int, tracks: set[int]) -> None:
        path = self._file(vr, "masks", rec)
        if path is None:
            return
        try:
            obj = read_json(path)
        except BadInputError as exc:
            kind = "masks_missing" if "missing" in exc.message else "masks_json"
            self.add(kind, exc.message, path, rec, "masks")
            return
        if not isinstance(obj, dict) or not isinstance(obj.get("objects"), list):
            self.add("masks_json", "must be an object with a list 'objects'", path, rec, "masks")
            return
        ids: set[int] = set()
        for j, o in enumerate(obj["objects"]):
            orec = f"{rec} objects[{j}]"
            tid = o.get("track_id") if isinstance(o, dict) else None
            if not isinstance(tid, int):
                self.add("masks_json", "needs an integer track_id", path, orec, "track_id")
                continue
            orec = f"{rec} track {tid}"
            if tid in ids:
                self.add(
                    "duplicate_track",
                    f"track id {tid} appears twice in this view",
                    path,
                    orec,
                    "track_id",
                )
            ids.add(tid)
            if tracks and tid not in tracks:
                self.add(
                    "unknown_track",
                    f"track id {tid} is not among the scene's instances",
                    path,
                    orec,
                    "track_id",
                )
            for name in ("visible", "amodal"):
                rle = o.get(name)
                if rle is None:
                    continue
                area = self.rle(rle, path, orec, name, w, h)
                if name == "visible" and area == 0:
                    self.add("mask_empty", "visible mask has no pixels", path, orec, name)
            n = o.get("beyond")
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
                self.add(
                    "mask_beyond", f"beyond must be a pixel count >= 0, got {n!r}", path, orec,
                    "beyond",
                )  # fmt: skip

    def rle(self, rle: Any, path: Path, rec: str, name: str, w: int, h: int) -> int | None:
        if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
            self.add("mask_unreadable", "an RLE needs 'size' and 'counts'", path, rec, name)
            return None
        if list(rle["size"]) != [h, w]:
            self.add(
                "mask_size",
                f"mask size is {rle['size']} (H, W), camera says [{h}, {w}]",
                path,
                rec,
                name,
            )
            return None
        try:
            r = dict(rle)
            if isinstance(r["counts"], list):
                r = mask_utils.frPyObjects(r, h, w)
            elif isinstance(r["counts"], str):
                r["counts"] = r["counts"].encode("ascii")
            return int(mask_utils.area(r))
        except Exception as exc:
            self.add("mask_unreadable", f"cannot decode RLE ({exc})", path, rec, name)
            return None


def validate_paths(paths: list[str | Path]) -> ValidationReport:
    """Validate stores or scene folders; returns every problem found, never raises on bad data.

    Args:
        paths: each a scene folder (holding scene.json) or a store (a folder of scene folders).
    """
    report = ValidationReport()
    for p in map(Path, paths):
        if not p.exists():
            report.problems.append(Problem("path_missing", str(p), "no such file or folder"))
            continue
        if (p / MANIFEST).exists() or p.name == MANIFEST:
            _Checker(p if p.is_dir() else p.parent, report).run()
            continue
        subdirs = sorted(d for d in p.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not subdirs:
            report.problems.append(
                Problem(
                    "manifest_missing",
                    str(p / MANIFEST),
                    "neither a scene folder nor a store of scene folders",
                )
            )
        for d in subdirs:
            _Checker(d, report).run()
    return report
