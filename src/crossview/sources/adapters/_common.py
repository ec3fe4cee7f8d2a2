"""Helpers the adapters share: rigid poses, image files, object centres from 3-D points."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crossview.errors import BadInputError


def rigid(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(4, 4) rigid transform ``[R | t; 0 0 0 1]`` from (3, 3) ``R`` and (3,) ``t``."""
    out = np.eye(4)
    out[:3, :3] = R
    out[:3, 3] = t
    return out


def clean_pose(T: np.ndarray, tol: float = 1e-3) -> np.ndarray:
    """Project a nearly rigid (4, 4) pose onto an exact rigid transform.

    Poses stored as text in single precision are orthonormal only to about 1e-7, and the store
    checks 1e-5; the nearest rotation (SVD) fixes that. A pose further than ``tol`` from a
    rotation, or with a non-finite entry, is an error, not rounding.

    Raises:
        ValueError: the pose is not finite or its rotation is not a rotation.
    """
    T = np.asarray(T, dtype=np.float64)
    if T.shape != (4, 4) or not np.isfinite(T).all():
        raise ValueError("pose must be a finite 4x4 matrix")
    R = T[:3, :3]
    err = np.abs(R.T @ R - np.eye(3)).max()
    if err > tol or np.linalg.det(R) <= 0:
        raise ValueError(
            f"rotation is not orthonormal with det +1 (|R^T R - I| = {err:.2e}, "
            f"det = {np.linalg.det(R):.4f})"
        )
    U, _, Vt = np.linalg.svd(R)
    return rigid(U @ Vt, T[:3, 3])


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from an image header without decoding pixels.

    Raises:
        BadInputError: the file is missing or not an image.
    """
    from PIL import Image

    if not path.is_file():
        raise BadInputError("image file is missing", file=path)
    try:
        with Image.open(path) as im:
            return im.size
    except OSError as exc:
        raise BadInputError(f"image file is unreadable ({exc})", file=path) from exc


def read_label_png(path: Path, allow_color: bool = False) -> np.ndarray:
    """A single-channel PNG (8 or 16 bit) as an (H, W) int64 array of its values.

    With ``allow_color``, a colour image is converted to grey (for binary masks saved as RGB).

    Raises:
        BadInputError: missing, unreadable, or not single-channel (without ``allow_color``).
    """
    from PIL import Image

    if not path.is_file():
        raise BadInputError("mask file is missing", file=path)
    try:
        with Image.open(path) as im:
            im.load()
            if allow_color and im.mode in ("RGB", "RGBA", "LA"):
                im = im.convert("L")
            if im.mode not in ("L", "I", "I;16", "I;16B", "I;16L", "1", "P"):
                raise BadInputError(
                    f"mask must be a single-channel PNG (8 or 16 bit), got mode {im.mode}",
                    file=path,
                )
            arr = np.asarray(im)
    except OSError as exc:
        raise BadInputError(f"mask file is unreadable ({exc})", file=path) from exc
    return arr.astype(np.int64)


def centres_from_points(
    points_xyz: np.ndarray, labels: np.ndarray, min_points: int = 5
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Object centre and size from labelled 3-D points.

    Args:
        points_xyz: (N, 3) world points, metres.
        labels: (N,) track id of each point (0 = none).
        min_points: tracks with fewer points get no estimate.

    Returns:
        track id -> (centre (3,), extent (3,)): the per-axis median, and the 5-95 percentile
        range along the world axes (an axis-aligned size, metres).
    """
    out = {}
    for tid in np.unique(labels):
        if tid <= 0:
            continue
        pts = points_xyz[labels == tid]
        if len(pts) < min_points:
            continue
        lo, hi = np.percentile(pts, 5, axis=0), np.percentile(pts, 95, axis=0)
        out[int(tid)] = (np.median(pts, axis=0), np.maximum(hi - lo, 1e-3))
    return out


def static_poses(centre: np.ndarray, T: int = 1) -> np.ndarray:
    """(T, 4, 4) identity-rotation poses at ``centre`` (3,), for objects that do not move."""
    poses = np.tile(np.eye(4), (T, 1, 1))
    poses[:, :3, 3] = centre
    return poses
