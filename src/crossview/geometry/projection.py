"""Pinhole projection, unprojection and depth-map visibility.

Pixel coordinates ``uv`` are OpenCV pixel-centre coordinates: ``u`` is the column, ``v`` the
row, and pixel ``(row, col)`` has its centre at ``uv = (col, row)``, so the image of width ``W``
and height ``H`` covers ``[-0.5, W - 0.5) x [-0.5, H - 0.5)``. Depth is the camera-frame ``z``
in metres. ``*`` in a shape means any number of leading (batch) axes; batch axes of different
arguments broadcast with numpy rules. There is no lens distortion.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from crossview.geometry._validation import as_float_array, broadcast_batch
from crossview.geometry.transforms import camera_to_world, world_to_camera

__all__ = [
    "in_front",
    "in_image",
    "point_visibility",
    "project_points",
    "unproject",
    "unproject_depth_map",
]


def project_points(
    points_world: ArrayLike, K: ArrayLike, cam_to_world: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Project world points into pinhole cameras (stable public API).

    ``uv = K @ (x / z, y / z, 1)`` with ``(x, y, z)`` the camera-frame point. Points behind the
    camera are still projected with their signed ``z`` (their uv is mirrored and meaningless)
    and get ``depth <= 0``; use :func:`in_front` and :func:`in_image` to filter. A point with
    ``z == 0`` gets an infinite or NaN uv (no warning is emitted).

    Args:
        points_world: (N, 3) or (*, N, 3) points in the world frame, metres.
        K: (3, 3) or (*, 3, 3) intrinsics ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` in pixels,
            pixel-centre convention.
        cam_to_world: (4, 4) or (*, 4, 4) rigid camera poses (camera-frame points -> world).

    Returns:
        ``(uv, depth)``: ``uv`` (*, N, 2) float64 pixel coordinates ``(u, v)`` and ``depth``
        (*, N) float64 camera-frame ``z`` in metres, where ``*`` is the broadcast of the three
        arguments' batch shapes.
    """
    points_world = as_float_array("points_world", points_world, (None, 3), "(*, N, 3)")
    K = as_float_array("K", K, (3, 3), "(*, 3, 3)")
    cam_to_world = as_float_array("cam_to_world", cam_to_world, (4, 4), "(*, 4, 4)")
    batch = broadcast_batch(
        points_world=points_world.shape[:-2],
        K=K.shape[:-2],
        cam_to_world=cam_to_world.shape[:-2],
    )
    n = points_world.shape[-2]
    points_cam = world_to_camera(points_world, cam_to_world)
    depth = points_cam[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        normalised = points_cam / depth[..., None]
    normalised[..., 2] = 1.0
    uv = (normalised @ np.swapaxes(K, -1, -2))[..., :2]
    uv = np.broadcast_to(uv, (*batch, n, 2)).copy()
    depth = np.broadcast_to(depth, (*batch, n)).copy()
    return uv, depth


def in_front(depth: ArrayLike, min_depth: float = 1e-6) -> np.ndarray:
    """Return ``depth > min_depth`` element-wise (NaN depth is ``False``).

    Args:
        depth: (*) camera-frame z values, metres.
        min_depth: smallest depth still counted as in front, metres.

    Returns:
        (*) bool array.
    """
    depth = np.asarray(depth, dtype=np.float64)
    return depth > min_depth


def in_image(uv: ArrayLike, width: int, height: int) -> np.ndarray:
    """Return whether pixel coordinates fall inside a ``width`` x ``height`` image.

    Inside means ``-0.5 <= u < width - 0.5`` and ``-0.5 <= v < height - 0.5`` (pixel-centre
    convention: exactly the points whose nearest pixel ``floor(uv + 0.5)`` exists). NaN is
    outside.

    Args:
        uv: (*, 2) pixel coordinates ``(u, v)``.
        width: image width W in pixels.
        height: image height H in pixels.

    Returns:
        (*) bool array.
    """
    uv = as_float_array("uv", uv, (2,), "(*, 2)")
    u = uv[..., 0]
    v = uv[..., 1]
    return (u >= -0.5) & (u < width - 0.5) & (v >= -0.5) & (v < height - 0.5)


def unproject(uv: ArrayLike, depth: ArrayLike, K: ArrayLike, cam_to_world: ArrayLike) -> np.ndarray:
    """Lift pixels with known depth back to world points (inverse of :func:`project_points`).

    Args:
        uv: (*, N, 2) pixel coordinates ``(u, v)``, pixel-centre convention.
        depth: (*, N) camera-frame z of each pixel's point, metres.
        K: (3, 3) or (*, 3, 3) intrinsics in pixels.
        cam_to_world: (4, 4) or (*, 4, 4) rigid camera poses (camera-frame points -> world).

    Returns:
        (*, N, 3) float64 world points, metres; ``*`` is the broadcast of all batch shapes.
    """
    uv = as_float_array("uv", uv, (None, 2), "(*, N, 2)")
    depth = as_float_array("depth", depth, (None,), "(*, N)")
    K = as_float_array("K", K, (3, 3), "(*, 3, 3)")
    cam_to_world = as_float_array("cam_to_world", cam_to_world, (4, 4), "(*, 4, 4)")
    if depth.shape[-1] != uv.shape[-2]:
        raise ValueError(
            f"depth must have shape (*, N) with N = {uv.shape[-2]} as in uv {uv.shape}, "
            f"got shape {depth.shape}"
        )
    broadcast_batch(
        uv=uv.shape[:-2],
        depth=depth.shape[:-1],
        K=K.shape[:-2],
        cam_to_world=cam_to_world.shape[:-2],
    )
    homogeneous = np.concatenate([uv, np.ones_like(uv[..., :1])], axis=-1)
    rays = homogeneous @ np.swapaxes(np.linalg.inv(K), -1, -2)
    # Scale so that the ray's z is exactly 1 even if K's last row is not exactly [0, 0, 1].
    points_cam = rays / rays[..., 2:3] * depth[..., None]
    return camera_to_world(points_cam, cam_to_world)


def unproject_depth_map(depth_m: ArrayLike, K: ArrayLike, cam_to_world: ArrayLike) -> np.ndarray:
    """Turn a depth map into one world point per pixel.

    Args:
        depth_m: (H, W) or (*, H, W) depth maps, camera-frame z in metres. Values that are
            ``<= 0`` or not finite mean "no measurement".
        K: (3, 3) or (*, 3, 3) intrinsics in pixels.
        cam_to_world: (4, 4) or (*, 4, 4) rigid camera poses (camera-frame points -> world).

    Returns:
        (*, H, W, 3) float64 world points in metres; pixel ``[r, c]`` is the point seen at
        ``uv = (c, r)``. NaN where the depth is invalid.
    """
    depth_m = as_float_array("depth_m", depth_m, (None, None), "(*, H, W)")
    K = as_float_array("K", K, (3, 3), "(*, 3, 3)")
    cam_to_world = as_float_array("cam_to_world", cam_to_world, (4, 4), "(*, 4, 4)")
    h, w = depth_m.shape[-2:]
    batch = broadcast_batch(
        depth_m=depth_m.shape[:-2], K=K.shape[:-2], cam_to_world=cam_to_world.shape[:-2]
    )
    rows, cols = np.meshgrid(
        np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij"
    )
    uv = np.stack([cols.ravel(), rows.ravel()], axis=-1)
    depth_flat = depth_m.reshape(*depth_m.shape[:-2], h * w)
    valid = np.isfinite(depth_flat) & (depth_flat > 0)
    safe_depth = np.where(valid, depth_flat, np.nan)
    points = unproject(uv, safe_depth, K, cam_to_world)
    return np.broadcast_to(points, (*batch, h * w, 3)).reshape(*batch, h, w, 3).copy()


def point_visibility(
    points_world: ArrayLike,
    K: ArrayLike,
    cam_to_world: ArrayLike,
    depth_m: ArrayLike,
    abs_tol_m: float = 0.01,
    rel_tol: float = 0.01,
) -> np.ndarray:
    """Decide which world points a camera sees, using its depth map as an occlusion test.

    A point with camera-frame depth ``z`` and pixel coordinates ``uv`` is visible iff

    1. it is in front of the camera (``z > 1e-6``, see :func:`in_front`);
    2. ``uv`` lies inside the image (:func:`in_image` with the depth map's W and H);
    3. at its nearest pixel ``(row, col) = floor(v + 0.5), floor(u + 0.5)`` the depth map
       value ``d`` is invalid (``<= 0`` or not finite, meaning "nothing measured in front"),
       or ``z <= d + max(abs_tol_m, rel_tol * z)``; i.e. the point is not behind the surface
       the camera sees there by more than the tolerance. Points on the surface are visible.

    Args:
        points_world: (N, 3) or (*, N, 3) world points, metres.
        K: (3, 3) or (*, 3, 3) intrinsics in pixels.
        cam_to_world: (4, 4) or (*, 4, 4) rigid camera poses (camera-frame points -> world).
        depth_m: (H, W) or (*, H, W) depth maps of the cameras, camera-frame z in metres.
        abs_tol_m: absolute occlusion tolerance, metres.
        rel_tol: occlusion tolerance relative to the point's depth (dimensionless).

    Returns:
        (*, N) bool array; ``*`` is the broadcast of all batch shapes (``(N,)`` when unbatched).
    """
    depth_m = as_float_array("depth_m", depth_m, (None, None), "(*, H, W)")
    uv, z = project_points(points_world, K, cam_to_world)
    h, w = depth_m.shape[-2:]
    batch = broadcast_batch(points=uv.shape[:-2], depth_m=depth_m.shape[:-2])
    n = uv.shape[-2]
    visible = in_front(z) & in_image(uv, w, h)
    if h * w == 0:
        return np.broadcast_to(visible, (*batch, n)).copy()
    with np.errstate(invalid="ignore"):
        cols = np.floor(uv[..., 0] + 0.5)
        rows = np.floor(uv[..., 1] + 0.5)
    flat_index = np.where(visible, rows * w + cols, 0).astype(np.intp)
    flat_index = np.broadcast_to(flat_index, (*batch, n))
    depth_flat = np.broadcast_to(depth_m.reshape(*depth_m.shape[:-2], h * w), (*batch, h * w))
    d = np.take_along_axis(depth_flat, flat_index, axis=-1)
    z = np.broadcast_to(z, (*batch, n))
    valid_depth = np.isfinite(d) & (d > 0)
    with np.errstate(invalid="ignore"):
        not_occluded = z <= d + np.maximum(abs_tol_m, rel_tol * z)
    return np.broadcast_to(visible, (*batch, n)) & (~valid_depth | not_occluded)
