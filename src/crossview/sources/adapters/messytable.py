"""MessyTable (Cai et al., ECCV 2020): multi-camera tabletop scenes with associated boxes.

Layout read (as the dataset unpacks and as its loader ``src/data.py`` reads it)::

    ROOT/                           (the repository calls it data/)
      images/<scene>-0<cam>.jpg     one image per scene and camera (cam "1".."9")
      labels/<split>.json           train.json, val.json, test.json, ...:
        {"intrinsics": {"<cam>": [9 floats, row-major 3x3 K]},
         "scenes": {"<scene>": {"cameras": {"<cam>": {
              "extrinsics": [tx, ty, tz, rx, ry, rz],
              "instances": {"<instance id>": {"pos": [x1, y1, x2, y2],
                                               "cls": int, "subcls": int}}}}}}}

SRC is ROOT or one label file inside ROOT/labels/. Each scene becomes a scene with one
timestep and a camera per MessyTable camera (``cam1`` ...). Conventions: the extrinsics are
a translation and scipy ``"xyz"`` Euler angles (radians) of the transform from the camera to
the scene's reference frame, and the camera frame is OpenCV's (the dataset's epipolar code
back-projects with ``K^-1`` and applies this transform), so ``cam_to_world`` is that transform
directly. Translations are used as stored (taken to be metres). Boxes ``pos`` are inclusive
pixel corners (the loader crops ``[y1:y2+1, x1:x2+1]``), so the box in pixel edges is
``[x1, y1, x2 + 1, y2 + 1]``. Instance ids are the track ids (they are shared across the
cameras of a scene; shifted by one if a scene uses id 0). MessyTable has boxes only: masks
come from mask completion (GrabCut by default), overlaps go to the smaller box, and masks the
quality filter drops are counted. Instances have no 3-D poses: geometric question types that
need them produce nothing for these scenes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from crossview.errors import BadInputError
from crossview.scene.model import Camera, Instance, Scene, View, masks_from_arrays
from crossview.scene.store import load_image, read_json
from crossview.sources.adapters._common import rigid
from crossview.sources.adapters.base import Adapter, SceneSource, register_adapter, safe_id
from crossview.sources.masks import resolve_overlaps


def _matrix(value: Any, n: int, file: Path, record: str, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        arr = np.zeros(0)
    if arr.size != n or not np.isfinite(arr).all():
        raise BadInputError(f"must be {n} finite numbers", file=file, record=record, field=name)
    return arr


def extrinsics_to_cam_to_world(ext: np.ndarray) -> np.ndarray:
    """(4, 4) ``cam_to_world`` of MessyTable's ``[tx, ty, tz, rx, ry, rz]`` (scipy "xyz" Euler,
    radians; camera -> reference frame)."""
    from scipy.spatial.transform import Rotation

    return rigid(Rotation.from_euler("xyz", ext[3:6]).as_matrix(), ext[:3])


@register_adapter("messytable")
class MessyTableAdapter(Adapter):
    __doc__ = __doc__

    OPTIONS: ClassVar[dict[str, tuple[type, Any, str]]] = {
        "drop_unmasked_tracks": (
            bool,
            True,
            "remove a track from every view when one of its boxes got no mask, so that no "
            "question calls a visible object absent",
        ),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._labels: dict[Path, dict[str, Any]] = {}

    def scan(self, src: Path) -> list[SceneSource]:
        src = Path(src)
        if src.is_file():
            files, root = [src], src.parent.parent
        else:
            root = src
            if not (src / "labels").is_dir():
                raise BadInputError(
                    "not a MessyTable folder: labels/ is missing (expected labels/*.json and "
                    "images/)",
                    file=src / "labels",
                )
            files = sorted((src / "labels").glob("*.json"))
            if not files:
                raise BadInputError("no label file (*.json) in labels/", file=src / "labels")
        out = []
        for f in files:
            try:
                content = read_json(f)
                if not isinstance(content, dict) or not isinstance(content.get("scenes"), dict):
                    raise BadInputError("needs an object 'scenes'", file=f, field="scenes")
            except BadInputError as exc:
                out.append(SceneSource(safe_id(f"labels_{f.stem}"), f, {"problem": exc.describe()}))
                continue
            self._labels[f] = content
            for name in content["scenes"]:
                out.append(
                    SceneSource(safe_id(name), root, {"labels": f, "scene": name, "split": f.stem})
                )
        return sorted(out, key=lambda s: s.scene_id)

    def _content(self, f: Path) -> dict[str, Any]:
        if f not in self._labels:
            self._labels[f] = read_json(f)
        return self._labels[f]

    def load(self, source: SceneSource) -> Scene:
        f: Path = source.meta["labels"]
        name: str = source.meta["scene"]
        content = self._content(f)
        scene = content["scenes"][name]
        sid = source.scene_id
        rec = f"scene {name}"
        if not isinstance(scene, dict) or not isinstance(scene.get("cameras"), dict):
            raise BadInputError("needs an object 'cameras'", file=f, record=rec, field="cameras")
        intr = scene.get("intrinsics", content.get("intrinsics"))
        if not isinstance(intr, dict):
            raise BadInputError(
                "needs an object 'intrinsics' by camera", file=f, field="intrinsics"
            )
        ids = [
            k
            for c in scene["cameras"].values()
            if isinstance(c, dict)
            for k in (c.get("instances") or {})
        ]
        try:
            offset = 1 if any(int(k) <= 0 for k in ids) else 0
        except ValueError:
            raise BadInputError(
                "instance ids must be integers", file=f, record=rec, field="instances"
            ) from None
        views: list[View] = []
        unmasked: set[int] = set()
        categories: dict[int, tuple[str, dict[str, str]]] = {}
        for cam in sorted(scene["cameras"], key=lambda c: (len(c), c)):
            crec = f"{rec} camera {cam}"
            try:
                view, missing = self._view(
                    source, f, crec, cam, scene["cameras"][cam], intr, offset, categories
                )
            except BadInputError as exc:
                self.log.drop_view(sid, f"camera {cam}", exc)
                continue
            views.append(view)
            unmasked |= missing
        if not views:
            raise BadInputError("no camera of the scene could be imported", file=f, record=rec)
        if unmasked and self.options.get("drop_unmasked_tracks", True):
            for v in views:
                for t in unmasked:
                    v.masks.visible.pop(t, None)
        seen = {t for v in views for t in v.masks.visible}
        instances = {t: Instance(t, categories[t][0], categories[t][1]) for t in sorted(seen)}
        return Scene(
            sid,
            "messytable",
            views,
            instances,
            timestamps=[0.0],
            contacts=None,
            provenance={
                "adapter": "messytable",
                "labels": str(f),
                "scene": name,
                "split": source.meta.get("split"),
                "track_id_offset": offset,
                "masks": f"completed from boxes ({self.masks.config.method})",
            },
        )

    def _view(
        self,
        source: SceneSource,
        f: Path,
        rec: str,
        cam: str,
        cr: Any,
        intr: dict[str, Any],
        offset: int,
        categories: dict[int, tuple[str, dict[str, str]]],
    ) -> tuple[View, set[int]]:
        """One camera's view and the track ids whose boxes got no mask."""
        if not isinstance(cr, dict):
            raise BadInputError("must be an object", file=f, record=rec)
        if cam not in intr:
            raise BadInputError(
                f"no intrinsics for camera {cam}", file=f, record="intrinsics", field=cam
            )
        K = _matrix(intr[cam], 9, f, "intrinsics", cam).reshape(3, 3)
        ext = _matrix(cr.get("extrinsics"), 6, f, rec, "extrinsics")
        path = source.path / "images" / f"{source.meta['scene']}-0{cam}.jpg"
        image = load_image(path)
        h, w = image.shape[:2]
        tids, boxes = [], []
        for iid, inst in (cr.get("instances") or {}).items():
            irec = f"{rec} instance {iid}"
            if not isinstance(inst, dict):
                raise BadInputError("must be an object", file=f, record=irec)
            pos = _matrix(inst.get("pos"), 4, f, irec, "pos")
            tid = int(iid) + offset
            tids.append(tid)
            boxes.append([pos[0], pos[1], pos[2] + 1, pos[3] + 1])
            cls, sub = inst.get("cls"), inst.get("subcls")
            categories.setdefault(
                tid,
                (f"class_{cls}", {} if sub is None else {"subclass": str(sub)}),
            )
        visible: dict[int, np.ndarray] = {}
        if boxes:
            results = self.masks(image, np.array(boxes))
            kept = [r.kept for r in results]
            for r in results:
                if r.kept:
                    self.log.masks_kept += 1
                else:
                    self.log.masks_dropped[r.reason] += 1
            kb = np.array([b for b, k in zip(boxes, kept) if k]).reshape(-1, 4)
            masks = resolve_overlaps([r.mask for r in results if r.kept], kb)
            for tid, m in zip([t for t, k in zip(tids, kept) if k], masks):
                if m.any():
                    visible[tid] = m
                else:
                    self.log.masks_kept -= 1
                    self.log.masks_dropped["hidden_by_overlap"] += 1
        camera = Camera(f"cam{cam}", w, h, K, extrinsics_to_cam_to_world(ext), role="fixed")
        view = View(camera, 0, 0.0, image=image, masks=masks_from_arrays(visible))
        return view, {t for t in tids if t not in visible}
