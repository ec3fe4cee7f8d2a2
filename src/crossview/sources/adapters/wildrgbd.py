"""WildRGB-D (Xia et al., CVPR 2024): RGB-D videos walking around objects, with poses and masks.

Layout read (the dataset's README and ``wildrgbd_generate_point_cloud.py``)::

    ROOT/<category>/
      scenes/scenes_<id>/
        rgb/<frame>.png          colour frames, <frame> = 5-digit zero-padded frame id
        depth/<frame>.png        uint16 depth in millimetres (depth scale 1000; 0 = invalid)
        masks/<frame>.png        object mask (non-zero = object)
        metadata                 JSON: "w", "h", "K" (9 floats, column-major: reshape(3,3).T)
        cam_poses.txt            per line: frame id, then the 4x4 camera-to-world matrix
                                 flattened row-major (OpenCV camera frame)
      types.json                 scene -> video type: "single", "multi" or "hand"

SRC is ROOT, one ``<category>`` folder, or one scene folder. A video of a static object is
turned into one scene with one timestep whose cameras are ``max_views`` frames spread evenly
over the video (camera ``f00042`` is frame 42): each frame is a different viewpoint of the
same still world. The object mask becomes track 1 (category = the category folder name); in
"multi" videos the mask covers several objects and is imported as one group track. "hand"
videos (the object moves in a hand) are skipped unless ``include_hand``, since their frames are
not views of one still world. Depth is converted to metres and resampled (nearest) to the
colour size when it differs. The object's centre and size come from the masked depth of all
chosen frames (median and 5-95 percentile range of the back-projected points, metres).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from crossview.errors import BadInputError
from crossview.geometry import unproject_depth_map
from crossview.scene.model import Camera, Instance, Scene, View, masks_from_arrays
from crossview.scene.store import load_image, read_json
from crossview.sources.adapters._common import (
    centres_from_points,
    clean_pose,
    image_size,
    read_label_png,
    static_poses,
)
from crossview.sources.adapters.base import Adapter, SceneSource, register_adapter, safe_id

DEPTH_SCALE = 1000.0
"""WildRGB-D depth PNG units per metre."""


def read_cam_poses(path: Path) -> tuple[dict[int, np.ndarray], list[BadInputError]]:
    """``cam_poses.txt`` as frame id -> (4, 4) cam_to_world, plus the lines that failed."""
    if not path.is_file():
        raise BadInputError("camera pose file is missing", file=path)
    poses, problems = {}, []
    for no, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        try:
            if len(parts) != 17:
                raise ValueError(f"expected a frame id and 16 numbers, got {len(parts)} values")
            frame = int(float(parts[0]))
            poses[frame] = clean_pose(np.array(parts[1:], dtype=np.float64).reshape(4, 4))
        except ValueError as exc:
            problems.append(BadInputError(str(exc), file=path, record=f"line {no}"))
    return poses, problems


def read_metadata(path: Path) -> tuple[np.ndarray, int, int]:
    """(K (3, 3), width, height) from a scene's ``metadata`` JSON (K stored column-major)."""
    meta = read_json(path)
    try:
        K = np.asarray(meta["K"], dtype=np.float64).reshape(3, 3).T
        w, h = int(meta["w"]), int(meta["h"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInputError(
            f"needs 'K' (9 numbers), 'w' and 'h' ({exc!r})", file=path, field="K"
        ) from None
    if not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0 or w <= 0 or h <= 0:
        raise BadInputError("K must be finite with positive focal lengths", file=path, field="K")
    return K, w, h


def _frame_file(folder: Path, frame: int) -> Path:
    p = folder / f"{frame:05d}.png"
    return p if p.is_file() or not (folder / f"{frame}.png").is_file() else folder / f"{frame}.png"


def _resize_nearest(arr: np.ndarray, w: int, h: int) -> np.ndarray:
    import cv2

    if arr.shape[:2] == (h, w):
        return arr
    return cv2.resize(arr, (w, h), interpolation=cv2.INTER_NEAREST)


@register_adapter("wildrgbd")
class WildRGBDAdapter(Adapter):
    __doc__ = __doc__

    OPTIONS: ClassVar[dict[str, tuple[type, Any, str]]] = {
        "max_views": (int, 8, "frames per scene, spread evenly over the video"),
        "include_hand": (bool, False, "also import hand-object videos (the object moves)"),
    }

    def scan(self, src: Path) -> list[SceneSource]:
        src = Path(src)
        if not src.is_dir():
            raise BadInputError("dataset folder is missing", file=src)
        if (src / "cam_poses.txt").is_file() or (src / "rgb").is_dir():
            scene_dirs = [src]
        elif (src / "scenes").is_dir():
            scene_dirs = sorted(d for d in (src / "scenes").iterdir() if d.is_dir())
        else:
            scene_dirs = sorted(
                d
                for c in src.iterdir()
                if (c / "scenes").is_dir()
                for d in (c / "scenes").iterdir()
                if d.is_dir()
            )
        if not scene_dirs:
            raise BadInputError(
                "not a WildRGB-D folder: expected <category>/scenes/scenes_<id>/ with rgb/, "
                "depth/, masks/, metadata and cam_poses.txt",
                file=src,
            )
        out = []
        types_cache: dict[Path, dict[str, Any]] = {}
        for d in scene_dirs:
            cat_dir = d.parent.parent
            category = cat_dir.name
            tfile = cat_dir / "types.json"
            if tfile not in types_cache:
                try:
                    t = read_json(tfile) if tfile.is_file() else {}
                except BadInputError:
                    t = {}
                types_cache[tfile] = t if isinstance(t, dict) else {}
            vtype = _video_type(types_cache[tfile], d.name)
            meta: dict[str, Any] = {"category": category, "type": vtype}
            if vtype == "hand" and not self.options.get("include_hand", False):
                meta["problem"] = (
                    f"{d}: hand-object video (the object moves, so frames are not views of one "
                    "still world); import it with the option include_hand=true"
                )
            out.append(SceneSource(safe_id(f"{category}_{d.name}"), d, meta))
        return sorted(out, key=lambda s: s.scene_id)

    def load(self, source: SceneSource) -> Scene:
        d = source.path
        sid = source.scene_id
        K, w, h = read_metadata(d / "metadata")
        poses, problems = read_cam_poses(d / "cam_poses.txt")
        for p in problems:
            self.log.drop_view(sid, p.record or "?", p)
        if not poses:
            raise BadInputError("no readable camera pose", file=d / "cam_poses.txt")
        frames = sorted(poses)
        n = max(1, int(self.options.get("max_views", 8)))
        if len(frames) > n:
            pick = np.unique(np.round(np.linspace(0, len(frames) - 1, n)).astype(int))
            frames = [frames[i] for i in pick]
        views, pts = [], []
        for fr in frames:
            try:
                view, obj_pts = self._view(d, fr, K, w, h, poses[fr])
            except BadInputError as exc:
                self.log.drop_view(sid, f"frame {fr}", exc)
                continue
            views.append(view)
            pts.append(obj_pts)
        if not views:
            raise BadInputError("no frame of the video could be imported", file=d)
        instances = {}
        if any(v.masks.visible for v in views):
            allpts = np.concatenate(pts) if pts else np.zeros((0, 3))
            c = centres_from_points(allpts, np.ones(len(allpts), int)).get(1)
            attrs = {"video_type": str(source.meta.get("type") or "unknown")}
            instances[1] = Instance(
                1,
                str(source.meta.get("category", "object")),
                attrs,
                extent_m=None if c is None else c[1],
                poses=None if c is None else static_poses(c[0]),
            )
        return Scene(
            sid,
            "wildrgbd",
            views,
            instances,
            timestamps=[0.0],
            contacts=None,
            provenance={
                "adapter": "wildrgbd",
                "scene": str(d),
                "category": source.meta.get("category"),
                "video_type": source.meta.get("type"),
                "frames": frames,
                "note": "frames of a still scene imported as cameras at one timestep",
            },
        )

    def _view(
        self, d: Path, fr: int, K: np.ndarray, w: int, h: int, c2w: np.ndarray
    ) -> tuple[View, np.ndarray]:
        rgb = _frame_file(d / "rgb", fr)
        iw, ih = image_size(rgb)
        if (iw, ih) != (w, h):
            raise BadInputError(f"image is {iw}x{ih}, metadata says {w}x{h}", file=rgb)
        mpath = _frame_file(d / "masks", fr)
        labels = read_label_png(mpath, allow_color=True)
        mask = _resize_nearest((labels > 0).astype(np.uint8), w, h) > 0
        depth = None
        dpath = _frame_file(d / "depth", fr)
        obj_pts = np.zeros((0, 3))
        if dpath.is_file():
            raw = read_label_png(dpath)
            depth = _resize_nearest(raw.astype(np.float32) / DEPTH_SCALE, w, h).astype(np.float32)
            sel = mask & (depth > 0)
            if sel.any():
                world = unproject_depth_map(np.where(sel, depth, 0), K, c2w)
                obj_pts = world[sel]
        camera = Camera(f"f{fr:05d}", w, h, K, c2w, role="handheld")
        view = View(
            camera,
            0,
            0.0,
            image_loader=lambda p=rgb: load_image(p),
            depth_m=depth,
            masks=masks_from_arrays({1: mask}),
        )
        return view, obj_pts


def _video_type(types: dict[str, Any], scene: str) -> str | None:
    """The video type of ``scene`` in a ``types.json``: scene -> type, or type -> [scenes]."""
    v = types.get(scene)
    if isinstance(v, str):
        return v
    for key, val in types.items():
        if isinstance(val, list) and scene in val:
            return str(key)
    return None
