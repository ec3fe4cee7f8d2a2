"""Readers of COLMAP sparse models (``cameras``, ``images``, ``points3D``; text or binary).

Written here from COLMAP's published format description (https://colmap.github.io/format.html)
so that no COLMAP install is needed. What the files mean:

* a camera ``CAMERA_ID MODEL WIDTH HEIGHT PARAMS[]``; image coordinates put the upper left
  image corner at (0, 0), so the centre of the upper left pixel is (0.5, 0.5);
* an image ``IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME`` and its 2-D points
  ``X Y POINT3D_ID`` (-1: no 3-D point); the quaternion and translation take world points to
  the camera frame, ``x_cam = R(q) x_world + t``, and COLMAP's camera frame is OpenCV's
  (x right, y down, z forward);
* a 3-D point ``POINT3D_ID X Y Z R G B ERROR TRACK[] as (IMAGE_ID, POINT2D_IDX)``.

Binary files are little endian. Per-record defects (a corrupt line, a camera model with the
wrong number of parameters) are collected in :attr:`ColmapModel.problems` and the record is
left out; a missing or unreadable required file raises :class:`BadInputError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crossview.errors import BadInputError

CAMERA_MODELS: dict[int, tuple[str, int]] = {
    0: ("SIMPLE_PINHOLE", 3),
    1: ("PINHOLE", 4),
    2: ("SIMPLE_RADIAL", 4),
    3: ("RADIAL", 5),
    4: ("OPENCV", 8),
    5: ("OPENCV_FISHEYE", 8),
    6: ("FULL_OPENCV", 12),
    7: ("FOV", 5),
    8: ("SIMPLE_RADIAL_FISHEYE", 4),
    9: ("RADIAL_FISHEYE", 5),
    10: ("THIN_PRISM_FISHEYE", 12),
    11: ("RAD_TAN_THIN_PRISM_FISHEYE", 16),
}
"""COLMAP camera model id -> (name, number of parameters)."""
MODEL_PARAMS = {name: n for name, n in CAMERA_MODELS.values()}
MODEL_IDS = {name: i for i, (name, _) in CAMERA_MODELS.items()}


@dataclass
class ColmapCamera:
    """A COLMAP camera: ``model`` name, size in pixels, ``params`` (COLMAP pixel convention)."""

    camera_id: int
    model: str
    width: int
    height: int
    params: np.ndarray


@dataclass
class ColmapImage:
    """A registered image: world-to-camera rotation as ``qvec`` (w, x, y, z), ``tvec`` (3,)
    in the model's units, its camera, file ``name`` relative to the images folder, and its
    2-D points ``xys`` (N, 2) in COLMAP pixel coordinates with ``point3d_ids`` (N,) (-1: none).
    """

    image_id: int
    qvec: np.ndarray
    tvec: np.ndarray
    camera_id: int
    name: str
    xys: np.ndarray
    point3d_ids: np.ndarray


@dataclass
class ColmapPoint:
    """A 3-D point: ``xyz`` (3,) world, ``rgb`` (3,) uint8, and its track as parallel arrays
    ``image_ids`` and ``point2d_idxs``."""

    point3d_id: int
    xyz: np.ndarray
    rgb: np.ndarray
    error: float
    image_ids: np.ndarray
    point2d_idxs: np.ndarray


@dataclass
class ColmapModel:
    """A sparse model as read, with the per-record problems met on the way."""

    path: Path
    format: str
    cameras: dict[int, ColmapCamera] = field(default_factory=dict)
    images: dict[int, ColmapImage] = field(default_factory=dict)
    points: dict[int, ColmapPoint] | None = None
    problems: list[BadInputError] = field(default_factory=list)


def qvec_to_rotmat(qvec: np.ndarray) -> np.ndarray:
    """(3, 3) rotation of a quaternion (w, x, y, z), normalised first (Hamilton convention)."""
    q = np.asarray(qvec, dtype=np.float64)
    n = np.linalg.norm(q)
    if not np.isfinite(n) or n < 1e-12:
        raise ValueError(f"quaternion {q.tolist()} has no direction")
    w, x, y, z = q / n
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def rotmat_to_qvec(R: np.ndarray) -> np.ndarray:
    """Quaternion (w, x, y, z) with w >= 0 of a (3, 3) rotation (inverse of qvec_to_rotmat)."""
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(R).as_quat()
    q = np.array([w, x, y, z])
    return q if w >= 0 else -q


def image_cam_to_world(image: ColmapImage) -> np.ndarray:
    """(4, 4) ``cam_to_world`` of an image (OpenCV camera frame), the inverse of COLMAP's
    world-to-camera ``[R(q) | t]``."""
    R = qvec_to_rotmat(image.qvec)
    out = np.eye(4)
    out[:3, :3] = R.T
    out[:3, 3] = -R.T @ np.asarray(image.tvec, dtype=np.float64)
    return out


# ----------------------------------------------------------------------------- text


def _data_lines(path: Path) -> list[tuple[int, str]]:
    """(1-based line number, stripped text) of every line; comments become empty strings."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"unreadable ({exc})", file=path) from exc
    out = []
    for i, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        out.append((i, "" if s.startswith("#") else s))
    return out


def _camera(cid: int, model: str, w: int, h: int, params: list[float], path: Path, rec: str):
    n = MODEL_PARAMS.get(model)
    if n is None:
        raise BadInputError(
            f"unknown camera model {model!r} (known: {', '.join(MODEL_PARAMS)})",
            file=path,
            record=rec,
            field="MODEL",
        )
    if len(params) != n:
        raise BadInputError(
            f"model {model} takes {n} parameters, got {len(params)}",
            file=path,
            record=rec,
            field="PARAMS",
        )
    if w <= 0 or h <= 0:
        raise BadInputError(f"size must be positive, got {w}x{h}", file=path, record=rec)
    return ColmapCamera(cid, model, w, h, np.asarray(params, dtype=np.float64))


def read_cameras_text(path: Path, model: ColmapModel) -> None:
    """Read ``cameras.txt`` into ``model.cameras``; bad lines go to ``model.problems``."""
    for no, line in _data_lines(path):
        if not line:
            continue
        rec = f"line {no}"
        parts = line.split()
        try:
            if len(parts) < 4:
                raise ValueError("expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS[]")
            cid, name, w, h = int(parts[0]), parts[1], int(parts[2]), int(parts[3])
            params = [float(p) for p in parts[4:]]
            model.cameras[cid] = _camera(cid, name, w, h, params, path, f"{rec} camera {cid}")
        except ValueError as exc:
            model.problems.append(
                BadInputError(f"corrupt camera line ({exc})", file=path, record=rec)
            )
        except BadInputError as exc:
            model.problems.append(exc)


def read_images_text(path: Path, model: ColmapModel) -> None:
    """Read ``images.txt`` (two lines per image) into ``model.images``."""
    lines = _data_lines(path)
    i = 0
    while i < len(lines):
        no, line = lines[i]
        i += 1
        if not line:
            continue
        # the next line holds this image's 2-D points, even when it is empty
        pts_line = lines[i][1] if i < len(lines) else ""
        i += 1
        rec = f"line {no}"
        parts = line.split(maxsplit=9)
        try:
            if len(parts) < 10:
                raise ValueError("expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME")
            iid = int(parts[0])
            q = np.array([float(x) for x in parts[1:5]])
            t = np.array([float(x) for x in parts[5:8]])
            cid = int(parts[8])
            name = parts[9].strip()
            if not (np.isfinite(q).all() and np.isfinite(t).all()) or np.linalg.norm(q) < 1e-12:
                raise ValueError("the pose is not finite or the quaternion is zero")
            vals = pts_line.split()
            if len(vals) % 3:
                raise ValueError(f"the POINTS2D line after it has {len(vals)} values, not X Y ID")
            arr = np.array(vals, dtype=np.float64).reshape(-1, 3)
        except ValueError as exc:
            model.problems.append(
                BadInputError(f"corrupt image record ({exc})", file=path, record=rec)
            )
            continue
        model.images[iid] = ColmapImage(
            iid, q, t, cid, name, arr[:, :2].copy(), arr[:, 2].astype(np.int64)
        )


def read_points_text(path: Path, model: ColmapModel) -> None:
    """Read ``points3D.txt`` into ``model.points``."""
    model.points = {}
    for no, line in _data_lines(path):
        if not line:
            continue
        parts = line.split()
        try:
            if len(parts) < 8 or (len(parts) - 8) % 2:
                raise ValueError(
                    "expected POINT3D_ID X Y Z R G B ERROR then IMAGE_ID POINT2D_IDX pairs"
                )
            track = np.array(parts[8:], dtype=np.int64).reshape(-1, 2)
            pid = int(parts[0])
            model.points[pid] = ColmapPoint(
                pid,
                np.array(parts[1:4], dtype=np.float64),
                np.array(parts[4:7], dtype=np.float64).astype(np.uint8),
                float(parts[7]),
                track[:, 0].copy(),
                track[:, 1].copy(),
            )
        except ValueError as exc:
            model.problems.append(
                BadInputError(f"corrupt point line ({exc})", file=path, record=f"line {no}")
            )


# ----------------------------------------------------------------------------- binary


class _Reader:
    """Little-endian reads from bytes; ``struct.error`` on truncation."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def read(self, fmt: str) -> tuple:
        fmt = "<" + fmt
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise struct.error(f"file ends at byte {len(self.data)}, record needs {size} more")
        out = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return out

    def cstring(self) -> str:
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            raise struct.error("file ends inside an image name")
        s = self.data[self.pos : end].decode("utf-8")
        self.pos = end + 1
        return s


def _bytes(path: Path) -> _Reader:
    try:
        return _Reader(path.read_bytes())
    except OSError as exc:
        raise BadInputError(f"unreadable ({exc})", file=path) from exc


def read_cameras_binary(path: Path, model: ColmapModel) -> None:
    """Read ``cameras.bin``; a truncated file keeps the cameras read before the cut."""
    r = _bytes(path)
    rec = "header"
    try:
        (n,) = r.read("Q")
        for k in range(n):
            rec = f"camera record {k}"
            cid, mid, w, h = r.read("iiQQ")
            if mid not in CAMERA_MODELS:
                # the record length depends on the model: nothing after it can be read
                raise BadInputError(
                    f"unknown camera model id {mid}; the rest of the file cannot be read",
                    file=path,
                    record=f"{rec} camera {cid}",
                    field="model_id",
                )
            name, npar = CAMERA_MODELS[mid]
            params = list(r.read("d" * npar))
            try:
                model.cameras[cid] = _camera(cid, name, w, h, params, path, f"{rec} camera {cid}")
            except BadInputError as exc:
                model.problems.append(exc)
    except struct.error as exc:
        model.problems.append(BadInputError(f"truncated ({exc})", file=path, record=rec))
    except BadInputError as exc:
        model.problems.append(exc)


def read_images_binary(path: Path, model: ColmapModel) -> None:
    """Read ``images.bin``; a truncated file keeps the images read before the cut."""
    r = _bytes(path)
    rec = "header"
    try:
        (n,) = r.read("Q")
        for k in range(n):
            rec = f"image record {k}"
            iid, qw, qx, qy, qz, tx, ty, tz, cid = r.read("idddddddi")
            name = r.cstring()
            (npts,) = r.read("Q")
            raw = r.read("ddq" * npts) if npts else ()
            arr = np.array(raw, dtype=np.float64).reshape(-1, 3)
            ids = np.array(raw[2::3], dtype=np.int64)
            q, t = np.array([qw, qx, qy, qz]), np.array([tx, ty, tz])
            if not (np.isfinite(q).all() and np.isfinite(t).all()) or np.linalg.norm(q) < 1e-12:
                model.problems.append(
                    BadInputError(
                        "pose is not finite or the quaternion is zero",
                        file=path,
                        record=f"{rec} image {name}",
                        field="qvec",
                    )
                )
                continue
            model.images[iid] = ColmapImage(iid, q, t, cid, name, arr[:, :2].copy(), ids)
    except (struct.error, UnicodeDecodeError) as exc:
        model.problems.append(BadInputError(f"truncated or corrupt ({exc})", file=path, record=rec))


def read_points_binary(path: Path, model: ColmapModel) -> None:
    """Read ``points3D.bin``; a truncated file keeps the points read before the cut."""
    r = _bytes(path)
    model.points = {}
    rec = "header"
    try:
        (n,) = r.read("Q")
        for k in range(n):
            rec = f"point record {k}"
            pid, x, y, z, cr, cg, cb, err, tlen = r.read("QdddBBBdQ")
            track = np.array(r.read("ii" * tlen) if tlen else (), dtype=np.int64).reshape(-1, 2)
            model.points[pid] = ColmapPoint(
                pid,
                np.array([x, y, z]),
                np.array([cr, cg, cb], dtype=np.uint8),
                err,
                track[:, 0].copy(),
                track[:, 1].copy(),
            )
    except struct.error as exc:
        model.problems.append(BadInputError(f"truncated ({exc})", file=path, record=rec))


# ----------------------------------------------------------------------------- model


def model_format(folder: Path) -> str | None:
    """``text`` or ``binary`` when ``folder`` holds a COLMAP model, else None (binary wins)."""
    if (folder / "cameras.bin").is_file() and (folder / "images.bin").is_file():
        return "binary"
    if (folder / "cameras.txt").is_file() and (folder / "images.txt").is_file():
        return "text"
    if (folder / "cameras.bin").is_file() or (folder / "cameras.txt").is_file():
        return "binary" if (folder / "cameras.bin").is_file() else "text"
    return None


def read_model(folder: str | Path, points: bool = True) -> ColmapModel:
    """Read a sparse model folder (``cameras``, ``images`` and, when ``points``, ``points3D``).

    Raises:
        BadInputError: the folder has no model, or ``cameras`` or ``images`` is missing
            (names the file it looked for).
    """
    folder = Path(folder)
    fmt = model_format(folder)
    if fmt is None:
        raise BadInputError(
            "no COLMAP model here: expected cameras.bin/images.bin or cameras.txt/images.txt",
            file=folder,
        )
    ext = ".bin" if fmt == "binary" else ".txt"
    model = ColmapModel(folder, fmt)
    for stem in ("cameras", "images"):
        if not (folder / f"{stem}{ext}").is_file():
            raise BadInputError(
                f"{stem}{ext} is missing from the model", file=folder / f"{stem}{ext}"
            )
    if fmt == "binary":
        read_cameras_binary(folder / "cameras.bin", model)
        read_images_binary(folder / "images.bin", model)
    else:
        read_cameras_text(folder / "cameras.txt", model)
        read_images_text(folder / "images.txt", model)
    pts = folder / f"points3D{ext}"
    if points and pts.is_file():
        if fmt == "binary":
            read_points_binary(pts, model)
        else:
            read_points_text(pts, model)
    return model


def colmap_intrinsics(camera: ColmapCamera) -> tuple[np.ndarray, np.ndarray]:
    """(3, 3) K in the OpenCV pixel-centre convention and OpenCV distortion coefficients.

    COLMAP's principal point is measured from the image corner, OpenCV's from the centre of
    the upper left pixel, so ``cx_opencv = cx_colmap - 0.5`` (same for y). Distortion is
    returned as OpenCV's ``(k1, k2, p1, p2[, k3, k4, k5, k6])``, all zero for pinhole models.

    Raises:
        ValueError: a model with no OpenCV pinhole-plus-distortion equivalent (fisheye, FOV).
    """
    p = camera.params
    m = camera.model
    if m == "SIMPLE_PINHOLE":
        fx = fy = p[0]
        cx, cy, dist = p[1], p[2], np.zeros(4)
    elif m == "PINHOLE":
        fx, fy, cx, cy, dist = p[0], p[1], p[2], p[3], np.zeros(4)
    elif m == "SIMPLE_RADIAL":
        fx = fy = p[0]
        cx, cy, dist = p[1], p[2], np.array([p[3], 0, 0, 0])
    elif m == "RADIAL":
        fx = fy = p[0]
        cx, cy, dist = p[1], p[2], np.array([p[3], p[4], 0, 0])
    elif m == "OPENCV":
        fx, fy, cx, cy, dist = p[0], p[1], p[2], p[3], p[4:8].copy()
    elif m == "FULL_OPENCV":
        fx, fy, cx, cy, dist = p[0], p[1], p[2], p[3], p[4:12].copy()
    else:
        raise ValueError(
            f"camera model {m} is not supported (fisheye and FOV models need a fisheye "
            "undistortion; run `colmap image_undistorter` first, which writes a PINHOLE model)"
        )
    K = np.array([[fx, 0.0, cx - 0.5], [0.0, fy, cy - 0.5], [0.0, 0.0, 1.0]])
    return K, np.asarray(dist, dtype=np.float64)
