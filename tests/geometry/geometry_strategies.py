"""Hypothesis strategies and small builders shared by the crossview.geometry tests."""

from __future__ import annotations

import cv2
import numpy as np
from hypothesis import strategies as st

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def intrinsics(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """Build a zero-skew K."""
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


@st.composite
def intrinsics_matrices(draw: st.DrawFn) -> np.ndarray:
    """K with focal lengths in [50, 2000] px and principal points in [0, 2000] px."""
    focal = st.floats(50.0, 2000.0)
    centre = st.floats(0.0, 2000.0)
    return intrinsics(draw(focal), draw(focal), draw(centre), draw(centre))


@st.composite
def world_to_camera_rvec_tvec(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """A world-to-camera rotation vector (angle < pi) and translation, as OpenCV takes them."""
    axis = np.array(draw(st.tuples(*[st.floats(-1.0, 1.0)] * 3)))
    if np.linalg.norm(axis) < 1e-3:
        axis = np.array([0.0, 0.0, 1.0])
    angle = draw(st.floats(0.0, 3.0))
    rvec = axis / np.linalg.norm(axis) * angle
    tvec = np.array(draw(st.tuples(*[st.floats(-10.0, 10.0)] * 3)))
    return rvec, tvec


def cam_to_world_from_rvec_tvec(rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
    """Invert OpenCV's world-to-camera (rvec, tvec) into a 4x4 cam_to_world, by hand."""
    R_w2c, _ = cv2.Rodrigues(rvec)
    T = np.eye(4)
    T[:3, :3] = R_w2c.T
    T[:3, 3] = -R_w2c.T @ tvec
    return T


def random_points_in_front(
    rng: np.random.Generator, rvec: np.ndarray, tvec: np.ndarray, n: int
) -> np.ndarray:
    """World points whose camera-frame z lies in [0.5, 50] m and |x|, |y| <= 2 z."""
    z = rng.uniform(0.5, 50.0, n)
    xy = rng.uniform(-2.0, 2.0, (n, 2)) * z[:, None]
    points_cam = np.column_stack([xy, z])
    R_w2c, _ = cv2.Rodrigues(rvec)
    return (points_cam - tvec) @ R_w2c  # R^T (p - t), row-vector form


def random_cam_to_world(rng: np.random.Generator) -> np.ndarray:
    """A random rigid cam_to_world transform (uniform-ish rotation, translation in [-5, 5])."""
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    R = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = rng.uniform(-5.0, 5.0, 3)
    return T
