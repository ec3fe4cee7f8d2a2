"""COLMAP reconstructions: the generic path for any calibrated capture.

Layout read (a *capture*; SRC is one capture or a folder of captures)::

    CAPTURE/
      images/<NAME>                 the images, NAME as in images.txt (subfolders allowed)
      sparse/0/ cameras.{bin,txt}   one sparse model per numbered folder (or sparse/ itself,
                images.{bin,txt}    or the model files directly in CAPTURE/)
                points3D.{bin,txt}  optional
      masks/<NAME minus extension>.png   optional instance masks: single-channel 8- or 16-bit
                                         PNG, pixel value = track id, 0 = background
      instances.json                optional {"<track id>": {"category": str,
                                                             "attributes": {str: str}}}

Each model becomes one scene with one timestep (a reconstruction is a static world): every
registered image is a camera of its own, named after its file name (``cam1/0001.jpg`` ->
``cam1_0001``). Conventions: COLMAP stores world-to-camera ``[R(q) | t]`` in a camera frame that
already is OpenCV's (x right, y down, z forward), so ``cam_to_world = [R^T | -R^T t]``; its
principal point is measured from the image corner, so ``cx``, ``cy`` lose 0.5 px. Lengths are
the model's (metres only when the reconstruction was scaled to metres). Images of models with
distortion (SIMPLE_RADIAL, RADIAL, OPENCV, FULL_OPENCV) are undistorted with OpenCV to a
pinhole camera with the same K and size (masks with nearest-neighbour sampling); fisheye and
FOV models are refused. With masks and ``points3D``, each track's centre and size are
estimated from the 3-D points whose observations fall inside its masks.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from crossview.errors import BadInputError
from crossview.scene.model import Camera, Instance, Scene, View, masks_from_arrays
from crossview.scene.store import load_image
from crossview.sources.adapters._common import (
    centres_from_points,
    image_size,
    read_label_png,
    static_poses,
)
from crossview.sources.adapters.base import Adapter, SceneSource, register_adapter, safe_id
from crossview.sources.adapters.colmap_io import (
    ColmapModel,
    colmap_intrinsics,
    image_cam_to_world,
    model_format,
    read_model,
)


def _model_dirs(capture: Path) -> list[Path]:
    sparse = capture / "sparse"
    found = []
    if sparse.is_dir():
        found = sorted(d for d in sparse.iterdir() if d.is_dir() and model_format(d))
        if not found and model_format(sparse):
            found = [sparse]
    if not found and model_format(capture):
        found = [capture]
    return found


def _undistort_maps(K: np.ndarray, dist: np.ndarray, width: int, height: int):
    import cv2

    return cv2.initUndistortRectifyMap(K, dist, None, K, (width, height), cv2.CV_32FC1)


def _remap(arr: np.ndarray, maps, nearest: bool) -> np.ndarray:
    import cv2

    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    if nearest:
        # remap cannot take int64; ids fit int32
        out = cv2.remap(arr.astype(np.int32), maps[0], maps[1], interp, borderValue=0)
        return out.astype(np.int64)
    return cv2.remap(arr, maps[0], maps[1], interp, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _mask_path(capture: Path, name: str) -> Path:
    return capture / "masks" / Path(name).with_suffix(".png")


def _read_instances(path: Path) -> dict[int, dict[str, Any]]:
    from crossview.scene.store import read_json

    if not path.is_file():
        return {}
    obj = read_json(path)
    if not isinstance(obj, dict):
        raise BadInputError("must be an object keyed by track id", file=path)
    out = {}
    for key, rec in obj.items():
        try:
            tid = int(key)
        except ValueError:
            raise BadInputError("keys must be integer track ids", file=path, record=key) from None
        if tid <= 0 or not isinstance(rec, dict):
            raise BadInputError(
                "track ids must be positive, each with an object {category, attributes}",
                file=path,
                record=key,
            )
        attrs = rec.get("attributes") or {}
        out[tid] = {
            "category": str(rec.get("category", "object")),
            "attributes": {str(k): str(v) for k, v in attrs.items()},
        }
    return out


@register_adapter("colmap")
class ColmapAdapter(Adapter):
    __doc__ = __doc__

    OPTIONS: ClassVar[dict[str, tuple[type, Any, str]]] = {
        "undistort": (bool, True, "undistort images of models with lens distortion"),
        "object_centres": (bool, True, "estimate object centres from points3D and masks"),
    }

    def scan(self, src: Path) -> list[SceneSource]:
        src = Path(src)
        if not src.is_dir():
            raise BadInputError("dataset folder is missing", file=src)
        captures = [src] if _model_dirs(src) else []
        if not captures:
            captures = sorted(d for d in src.iterdir() if d.is_dir() and _model_dirs(d))
        if not captures:
            raise BadInputError(
                "no COLMAP model found: expected cameras.{bin,txt} and images.{bin,txt} in "
                "SRC, SRC/sparse/, SRC/sparse/<n>/ or the same below a subfolder of SRC",
                file=src,
            )
        out = []
        for cap in captures:
            models = _model_dirs(cap)
            for m in models:
                sid = safe_id(cap.name if len(models) == 1 else f"{cap.name}_{m.name}")
                out.append(SceneSource(sid, cap, {"model": m}))
        return sorted(out, key=lambda s: s.scene_id)

    def load(self, source: SceneSource) -> Scene:
        cap: Path = source.path
        model = read_model(source.meta["model"])
        sid = source.scene_id
        for p in model.problems:
            self.log.drop_view(sid, p.record or "?", p)
        images_dir = cap / "images"
        if not images_dir.is_dir():
            raise BadInputError("images folder is missing", file=images_dir)
        has_masks = (cap / "masks").is_dir()
        inst_meta = _read_instances(cap / "instances.json")
        undistort = bool(self.options.get("undistort", True))
        views: list[View] = []
        label_maps: dict[int, np.ndarray] = {}  # image id -> raw (distorted) label image
        names: Counter = Counter()
        for iid in sorted(model.images):
            im = model.images[iid]
            try:
                view, labels = self._view(cap, model, iid, has_masks, undistort, names)
            except BadInputError as exc:
                self.log.drop_view(sid, im.name, exc)
                continue
            views.append(view)
            if labels is not None:
                label_maps[iid] = labels
        if not views:
            raise BadInputError(
                "no image of the model could be imported (see the dropped views)",
                file=model.path,
            )
        tracks = sorted({int(t) for v in views for t in v.masks.visible})
        centres = {}
        if model.points and label_maps and self.options.get("object_centres", True):
            centres = self._centres(model, label_maps)
        instances = {}
        for tid in tracks:
            meta = inst_meta.get(tid, {"category": "object", "attributes": {}})
            c = centres.get(tid)
            instances[tid] = Instance(
                tid,
                meta["category"],
                meta["attributes"],
                extent_m=None if c is None else c[1],
                poses=None if c is None else static_poses(c[0]),
            )
        return Scene(
            sid,
            "colmap",
            views,
            instances,
            timestamps=[0.0],
            contacts=None,
            provenance={
                "adapter": "colmap",
                "model": str(model.path),
                "format": model.format,
                "images": str(images_dir),
                "masks": str(cap / "masks") if has_masks else None,
                "points3D": model.points is not None,
                "object_centres": "points3D median inside masks" if centres else None,
            },
        )

    def _view(
        self,
        cap: Path,
        model: ColmapModel,
        iid: int,
        has_masks: bool,
        undistort: bool,
        names: Counter,
    ) -> tuple[View, np.ndarray | None]:
        im = model.images[iid]
        cam = model.cameras.get(im.camera_id)
        if cam is None:
            raise BadInputError(
                f"camera {im.camera_id} is not in the model's cameras",
                file=model.path,
                record=f"image {iid} {im.name}",
                field="CAMERA_ID",
            )
        try:
            K, dist = colmap_intrinsics(cam)
        except ValueError as exc:
            raise BadInputError(
                str(exc), file=model.path, record=f"camera {cam.camera_id}", field="MODEL"
            ) from None
        path = cap / "images" / im.name
        w, h = image_size(path)
        if (w, h) != (cam.width, cam.height):
            raise BadInputError(
                f"image is {w}x{h}, camera {cam.camera_id} says {cam.width}x{cam.height}",
                file=path,
            )
        distorted = bool(np.any(dist != 0))
        if distorted and not undistort:
            raise BadInputError(
                f"camera model {cam.model} has lens distortion and undistortion is off",
                file=model.path,
                record=f"camera {cam.camera_id}",
            )
        maps = _undistort_maps(K, dist, w, h) if distorted else None
        labels = None
        visible: dict[int, np.ndarray] = {}
        if has_masks:
            mpath = _mask_path(cap, im.name)
            if not mpath.is_file():
                raise BadInputError(
                    "mask file is missing (the capture has masks, so an image without one "
                    "would claim that no object is visible)",
                    file=mpath,
                )
            labels = read_label_png(mpath)
            if labels.shape != (h, w):
                raise BadInputError(
                    f"mask is {labels.shape[1]}x{labels.shape[0]}, image is {w}x{h}", file=mpath
                )
            und = labels if maps is None else _remap(labels, maps, nearest=True)
            for tid in np.unique(und):
                if tid > 0:
                    visible[int(tid)] = und == tid
        stem = safe_id(str(Path(im.name).with_suffix("")))
        names[stem] += 1
        cam_name = stem if names[stem] == 1 else f"{stem}_{iid}"
        camera = Camera(cam_name, w, h, K, image_cam_to_world(im), role="colmap")

        def loader(p: Path = path, m=maps) -> np.ndarray:
            img = load_image(p)
            return img if m is None else _remap(img, m, nearest=False)

        view = View(camera, 0, 0.0, image_loader=loader, masks=masks_from_arrays(visible))
        return view, labels

    def _centres(
        self, model: ColmapModel, label_maps: dict[int, np.ndarray]
    ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Label each 3-D point by the masks its observations fall in (majority of all its
        observations, background included), then take per-track medians."""
        assert model.points is not None
        xyz, labels = [], []
        for pt in model.points.values():
            votes: Counter = Counter()
            for iid, idx in zip(pt.image_ids, pt.point2d_idxs):
                lab = label_maps.get(int(iid))
                im = model.images.get(int(iid))
                if lab is None or im is None or not 0 <= idx < len(im.xys):
                    continue
                # COLMAP pixel coordinates: pixel (r, c) spans [c, c+1) x [r, r+1)
                x, y = im.xys[idx]
                c, r = int(np.floor(x)), int(np.floor(y))
                if 0 <= r < lab.shape[0] and 0 <= c < lab.shape[1]:
                    votes[int(lab[r, c])] += 1
            if not votes:
                continue
            tid, n = votes.most_common(1)[0]
            if tid > 0 and n * 2 > sum(votes.values()):
                xyz.append(pt.xyz)
                labels.append(tid)
        if not xyz:
            return {}
        return centres_from_points(np.array(xyz), np.array(labels))
