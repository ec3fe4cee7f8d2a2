"""Two-view epipolar geometry from known calibrated camera poses.

Image 0 and image 1 are the views of cameras with poses ``cam_to_world0`` and ``cam_to_world1``.
Pixel coordinates use the pixel-centre convention of :mod:`crossview.geometry.projection`;
``x = (u, v, 1)`` is a pixel in homogeneous coordinates. ``*`` in a shape means any number of
leading (batch) axes; batch axes of different arguments broadcast with numpy rules.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from crossview.geometry._validation import as_float_array, broadcast_batch
from crossview.geometry.transforms import invert_rigid

__all__ = [
    "epipolar_distance",
    "epipolar_lines",
    "epipole",
    "essential_matrix",
    "fundamental_matrix",
    "relative_pose",
]

_MIN_BASELINE_M = 1e-12


def _skew(t: np.ndarray) -> np.ndarray:
    """(*, 3) vectors -> (*, 3, 3) cross-product matrices ``[t]_x`` with ``[t]_x v = t x v``."""
    out = np.zeros((*t.shape[:-1], 3, 3))
    out[..., 0, 1] = -t[..., 2]
    out[..., 0, 2] = t[..., 1]
    out[..., 1, 0] = t[..., 2]
    out[..., 1, 2] = -t[..., 0]
    out[..., 2, 0] = -t[..., 1]
    out[..., 2, 1] = t[..., 0]
    return out


def relative_pose(cam_to_world0: ArrayLike, cam_to_world1: ArrayLike) -> np.ndarray:
    """Return ``T_1_0``, the rigid transform taking camera-0-frame points to the camera-1 frame.

    ``T_1_0 = inv(cam_to_world1) @ cam_to_world0``.

    Args:
        cam_to_world0: (*, 4, 4) rigid pose of camera 0 (camera-0 points -> world).
        cam_to_world1: (*, 4, 4) rigid pose of camera 1 (camera-1 points -> world).

    Returns:
        (*, 4, 4) float64 rigid transform; translation in metres.
    """
    c0 = as_float_array("cam_to_world0", cam_to_world0, (4, 4), "(*, 4, 4)")
    c1 = as_float_array("cam_to_world1", cam_to_world1, (4, 4), "(*, 4, 4)")
    broadcast_batch(cam_to_world0=c0.shape[:-2], cam_to_world1=c1.shape[:-2])
    return invert_rigid(c1) @ c0


def essential_matrix(cam_to_world0: ArrayLike, cam_to_world1: ArrayLike) -> np.ndarray:
    """Return the essential matrix ``E = [t]_x R`` of ``T_1_0 = [R | t]``.

    For a 3-D point with camera-frame coordinates ``p0`` (camera 0) and ``p1`` (camera 1),
    ``p1^T E p0 = 0`` (equally for normalised image coordinates ``p / z``). E is not rescaled:
    its Frobenius norm is ``sqrt(2) * baseline`` in metres.

    Args:
        cam_to_world0: (*, 4, 4) rigid pose of camera 0.
        cam_to_world1: (*, 4, 4) rigid pose of camera 1.

    Returns:
        (*, 3, 3) float64 essential matrices.
    """
    T = relative_pose(cam_to_world0, cam_to_world1)
    return _skew(T[..., :3, 3]) @ T[..., :3, :3]


def fundamental_matrix(
    K0: ArrayLike, cam_to_world0: ArrayLike, K1: ArrayLike, cam_to_world1: ArrayLike
) -> np.ndarray:
    """Return the fundamental matrix ``F`` with ``x1^T F x0 = 0`` for matching pixels.

    ``F = K1^-T E K0^-1``, divided by its Frobenius norm. ``x0`` and ``x1`` are homogeneous
    pixel coordinates ``(u, v, 1)`` in images 0 and 1 (pixel-centre convention).

    Args:
        K0: (*, 3, 3) intrinsics of camera 0, pixels.
        cam_to_world0: (*, 4, 4) rigid pose of camera 0.
        K1: (*, 3, 3) intrinsics of camera 1, pixels.
        cam_to_world1: (*, 4, 4) rigid pose of camera 1.

    Returns:
        (*, 3, 3) float64 rank-2 fundamental matrices with unit Frobenius norm.

    Raises:
        ValueError: on bad shapes, or if the two camera centres coincide (F is undefined).
    """
    K0 = as_float_array("K0", K0, (3, 3), "(*, 3, 3)")
    K1 = as_float_array("K1", K1, (3, 3), "(*, 3, 3)")
    T = relative_pose(cam_to_world0, cam_to_world1)
    broadcast_batch(K0=K0.shape[:-2], K1=K1.shape[:-2], poses=T.shape[:-2])
    baseline = np.linalg.norm(T[..., :3, 3], axis=-1)
    if np.any(~(baseline > _MIN_BASELINE_M)):
        raise ValueError(
            "fundamental_matrix: the camera centres of cam_to_world0 and cam_to_world1 "
            "coincide (or are not finite); F is undefined for a zero baseline"
        )
    E = _skew(T[..., :3, 3]) @ T[..., :3, :3]
    F = np.swapaxes(np.linalg.inv(K1), -1, -2) @ E @ np.linalg.inv(K0)
    return F / np.linalg.norm(F, axis=(-2, -1), keepdims=True)


def epipolar_lines(uv0: ArrayLike, F: ArrayLike) -> np.ndarray:
    """Return the epipolar lines in image 1 of pixels of image 0.

    The line of ``x0`` is ``l = F x0``, rescaled so that ``a^2 + b^2 = 1``; then
    ``a * u + b * v + c`` is the signed distance in pixels of ``(u, v)`` in image 1 from the
    line. The scale is positive (the sign of ``F x0`` is kept, as in
    ``cv2.computeCorrespondEpilines``). The line of the epipole of image 0 is undefined: it is
    NaN when ``F x0`` is exactly zero, and numerically meaningless near the epipole.

    Args:
        uv0: (*, N, 2) pixel coordinates in image 0.
        F: (*, 3, 3) fundamental matrices (see :func:`fundamental_matrix`).

    Returns:
        (*, N, 3) float64 lines ``(a, b, c)`` in image 1.
    """
    uv0 = as_float_array("uv0", uv0, (None, 2), "(*, N, 2)")
    F = as_float_array("F", F, (3, 3), "(*, 3, 3)")
    broadcast_batch(uv0=uv0.shape[:-2], F=F.shape[:-2])
    x0 = np.concatenate([uv0, np.ones_like(uv0[..., :1])], axis=-1)
    lines = x0 @ np.swapaxes(F, -1, -2)
    scale = np.hypot(lines[..., 0], lines[..., 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return lines / np.where(scale > 0, scale, np.nan)[..., None]


def epipolar_distance(uv0: ArrayLike, uv1: ArrayLike, F: ArrayLike) -> np.ndarray:
    """Return the distance in pixels of each ``uv1`` from the epipolar line of its ``uv0``.

    Args:
        uv0: (*, N, 2) pixel coordinates in image 0.
        uv1: (*, N, 2) pixel coordinates in image 1 (candidate matches of ``uv0``).
        F: (*, 3, 3) fundamental matrices with ``x1^T F x0 = 0``.

    Returns:
        (*, N) float64 non-negative distances in image-1 pixels (0 for a perfect match).
    """
    uv1 = as_float_array("uv1", uv1, (None, 2), "(*, N, 2)")
    lines = epipolar_lines(uv0, F)
    if uv1.shape[-2] != lines.shape[-2]:
        raise ValueError(
            f"uv1 must have the same number of points N = {lines.shape[-2]} as uv0, "
            f"got shape {uv1.shape}"
        )
    broadcast_batch(uv0_and_F=lines.shape[:-2], uv1=uv1.shape[:-2])
    return np.abs(np.sum(lines[..., :2] * uv1, axis=-1) + lines[..., 2])


def epipole(F: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Return the two epipoles of ``F`` as unit homogeneous 3-vectors.

    ``e0`` (image 0) satisfies ``F e0 = 0`` and is the image of camera 1's centre in camera 0;
    ``e1`` (image 1) satisfies ``F^T e1 = 0`` and is the image of camera 0's centre in camera 1.
    Pixel coordinates are ``e[:2] / e[2]``; ``e[2] == 0`` (up to rounding) means the epipole is
    at infinity (the baseline is parallel to that image plane). The sign is chosen so that
    ``e[2] >= 0``.

    Args:
        F: (*, 3, 3) fundamental matrices.

    Returns:
        ``(e0, e1)``, each (*, 3) float64 with unit Euclidean norm.
    """
    F = as_float_array("F", F, (3, 3), "(*, 3, 3)")
    U, _, Vt = np.linalg.svd(F)
    e0 = Vt[..., 2, :]
    e1 = U[..., :, 2]
    e0 = e0 * np.where(e0[..., 2:3] < 0, -1.0, 1.0)
    e1 = e1 * np.where(e1[..., 2:3] < 0, -1.0, 1.0)
    return e0, e1


def triangulate(
    uv: ArrayLike, K: ArrayLike, cam_to_world: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Linear (DLT) triangulation of one 3D point seen in V >= 2 views.

    Args:
        uv: (V, 2) pixel of the point in each view (OpenCV pixel-centre convention).
        K: (V, 3, 3) intrinsics.
        cam_to_world: (V, 4, 4) camera poses.

    Returns:
        ``(point_world (3,), reprojection_error_px (V,))``: the point minimising the algebraic
        error, and its distance in pixels to each observation.
    """
    from crossview.geometry.projection import project_points

    uv = np.asarray(uv, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    c2w = np.asarray(cam_to_world, dtype=np.float64)
    if uv.ndim != 2 or uv.shape[1] != 2 or uv.shape[0] < 2:
        raise ValueError(f"uv must have shape (V, 2) with V >= 2, got shape {uv.shape}")
    if K.shape != (len(uv), 3, 3) or c2w.shape != (len(uv), 4, 4):
        raise ValueError(
            f"K and cam_to_world must be ({len(uv)}, 3, 3) and ({len(uv)}, 4, 4), "
            f"got {K.shape} and {c2w.shape}"
        )
    rows = []
    for (u, v), k, t in zip(uv, K, c2w):
        P = k @ invert_rigid(t)[:3]
        rows += [u * P[2] - P[0], v * P[2] - P[1]]
    _, _, vt = np.linalg.svd(np.asarray(rows))
    X = vt[-1]
    point = X[:3] / X[3]
    errs = [
        float(np.linalg.norm(project_points(point[None], k, t)[0][0] - p))
        for p, k, t in zip(uv, K, c2w)
    ]
    return point, np.asarray(errs)
