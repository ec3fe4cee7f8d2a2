"""Rigid transforms between the world frame and camera frames.

All functions take float-like arrays and return float64 arrays. ``*`` in a shape means any
number of leading (batch) axes; the batch axes of different arguments broadcast with numpy
rules. Frames follow the package conventions (OpenCV camera frame, metres).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from crossview.geometry._validation import as_float_array, broadcast_batch

__all__ = [
    "camera_to_world",
    "invert_rigid",
    "is_rotation",
    "look_at",
    "transform_points",
    "world_to_camera",
]


def invert_rigid(T: ArrayLike) -> np.ndarray:
    """Invert rigid transforms exactly, as ``[R^T | -R^T t]``.

    Args:
        T: (*, 4, 4) rigid transforms ``[R | t; 0 0 0 1]``. Only the top three rows are read;
            ``R`` is assumed to be a rotation (this is not checked; see :func:`is_rotation`).

    Returns:
        (*, 4, 4) float64 inverse transforms, with last row exactly ``[0, 0, 0, 1]``.
    """
    T = as_float_array("T", T, (4, 4), "(*, 4, 4)")
    R_t = np.swapaxes(T[..., :3, :3], -1, -2)
    t = T[..., :3, 3]
    out = np.zeros_like(T)
    out[..., :3, :3] = R_t
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", R_t, t)
    out[..., 3, 3] = 1.0
    return out


def transform_points(T: ArrayLike, points: ArrayLike) -> np.ndarray:
    """Apply rigid (or affine) transforms to sets of 3-D points: ``p' = R p + t``.

    Args:
        T: (*, 4, 4) transforms taking points from a source frame to a target frame. The last
            row is not read (assumed ``[0, 0, 0, 1]``).
        points: (*, N, 3) points in the source frame, metres.

    Returns:
        (*, N, 3) float64 points in the target frame, metres. The batch shape is the broadcast
        of the batch shapes of ``T`` and ``points``.
    """
    T = as_float_array("T", T, (4, 4), "(*, 4, 4)")
    points = as_float_array("points", points, (None, 3), "(*, N, 3)")
    broadcast_batch(T=T.shape[:-2], points=points.shape[:-2])
    R = T[..., :3, :3]
    t = T[..., None, :3, 3]
    return points @ np.swapaxes(R, -1, -2) + t


def world_to_camera(points_world: ArrayLike, cam_to_world: ArrayLike) -> np.ndarray:
    """Express world-frame points in camera frames.

    Args:
        points_world: (*, N, 3) points in the world frame, metres.
        cam_to_world: (*, 4, 4) rigid camera poses (camera-frame points -> world).

    Returns:
        (*, N, 3) float64 points in the OpenCV camera frame (x right, y down, z forward), metres.
    """
    cam_to_world = as_float_array("cam_to_world", cam_to_world, (4, 4), "(*, 4, 4)")
    points_world = as_float_array("points_world", points_world, (None, 3), "(*, N, 3)")
    broadcast_batch(points_world=points_world.shape[:-2], cam_to_world=cam_to_world.shape[:-2])
    return transform_points(invert_rigid(cam_to_world), points_world)


def camera_to_world(points_cam: ArrayLike, cam_to_world: ArrayLike) -> np.ndarray:
    """Express camera-frame points in the world frame.

    Args:
        points_cam: (*, N, 3) points in the OpenCV camera frame, metres.
        cam_to_world: (*, 4, 4) rigid camera poses (camera-frame points -> world).

    Returns:
        (*, N, 3) float64 points in the world frame, metres.
    """
    cam_to_world = as_float_array("cam_to_world", cam_to_world, (4, 4), "(*, 4, 4)")
    points_cam = as_float_array("points_cam", points_cam, (None, 3), "(*, N, 3)")
    broadcast_batch(points_cam=points_cam.shape[:-2], cam_to_world=cam_to_world.shape[:-2])
    return transform_points(cam_to_world, points_cam)


def is_rotation(R: ArrayLike, atol: float = 1e-6) -> bool:
    """Return whether ``R`` is a proper rotation matrix.

    Args:
        R: (3, 3) matrix.
        atol: absolute tolerance on ``R^T R = I`` (element-wise) and on ``det R = +1``.

    Returns:
        ``True`` if ``R`` is finite, orthonormal and has determinant +1 (no reflection).
    """
    R = np.asarray(R, dtype=np.float64)
    if R.shape != (3, 3):
        raise ValueError(f"R must have shape (3, 3), got shape {R.shape}")
    if not np.all(np.isfinite(R)):
        return False
    orthonormal = np.allclose(R.T @ R, np.eye(3), rtol=0.0, atol=atol)
    return bool(orthonormal and abs(np.linalg.det(R) - 1.0) <= atol)


def look_at(eye: ArrayLike, target: ArrayLike, up: ArrayLike = (0.0, 0.0, 1.0)) -> np.ndarray:
    """Build the camera pose of a camera at ``eye`` looking at ``target``.

    The camera frame is OpenCV's: +z (optical axis) points from ``eye`` to ``target``, +x is
    image right and +y is image down, chosen so that image "up" (-y) is as close as possible to
    the world ``up`` direction (no roll). ``target`` therefore projects to the principal point.

    Args:
        eye: (3,) camera centre in the world frame, metres.
        target: (3,) world point the optical axis passes through, metres.
        up: (3,) world direction that should appear upwards in the image (default world +z).

    Returns:
        (4, 4) float64 ``cam_to_world`` rigid transform.

    Raises:
        ValueError: if an argument is not a 3-vector, ``eye`` equals ``target`` or the viewing
            direction is parallel to ``up``.
    """
    eye = as_float_array("eye", eye, (3,), "(3,)")
    target = as_float_array("target", target, (3,), "(3,)")
    up = as_float_array("up", up, (3,), "(3,)")
    for name, arr in (("eye", eye), ("target", target), ("up", up)):
        if arr.ndim != 1:
            raise ValueError(f"{name} must have shape (3,), got shape {arr.shape}")
    forward = target - eye
    norm = np.linalg.norm(forward)
    if not norm > 0:
        raise ValueError("look_at: eye and target coincide, the viewing direction is undefined")
    z = forward / norm
    right = np.cross(z, up)
    right_norm = np.linalg.norm(right)
    up_norm = np.linalg.norm(up)
    if not right_norm > 1e-12 * max(up_norm, 1e-300):
        raise ValueError("look_at: the viewing direction is parallel to up (or up is zero)")
    x = right / right_norm
    y = np.cross(z, x)
    T = np.eye(4)
    T[:3, 0] = x
    T[:3, 1] = y
    T[:3, 2] = z
    T[:3, 3] = eye
    return T
