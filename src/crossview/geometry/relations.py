"""Where one camera is as seen from another (left/right/front/behind, angles, distance).

Everything is expressed in camera A's OpenCV frame (x right, y down, z forward), in metres and
degrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from crossview.geometry._validation import as_float_array
from crossview.geometry.transforms import world_to_camera

__all__ = ["CameraRelation", "camera_centers_in_frame", "camera_relation"]

FRONT_MAX_DEG = 45.0
"""Largest ``|azimuth|`` (degrees) for which camera B counts as "front"."""

BEHIND_MIN_DEG = 135.0
"""Smallest ``|azimuth|`` (degrees) for which camera B counts as "behind"."""


@dataclass(frozen=True)
class CameraRelation:
    """Position of camera B's centre in camera A's frame.

    Attributes:
        side: ``"front"`` if ``|azimuth_deg| <= 45``, ``"behind"`` if ``|azimuth_deg| >= 135``,
            otherwise ``"right"`` (azimuth > 0) or ``"left"`` (azimuth < 0). Elevation is ignored.
        azimuth_deg: ``atan2(x, z)`` in degrees, in ``[-180, 180]``: 0 = straight ahead,
            +90 = right, -90 = left, +-180 = behind.
        elevation_deg: ``atan2(-y, hypot(x, z))`` in degrees, in ``[-90, 90]``; positive means
            above A's horizontal (image-up) plane.
        distance_m: Euclidean distance between the two camera centres, metres.
        lateral: ``"right"`` if ``x > 0`` else ``"left"``: the pure sign of B's x in A's frame,
            for left/right questions regardless of front/behind (``x == 0`` gives ``"left"``).
    """

    side: str
    azimuth_deg: float
    elevation_deg: float
    distance_m: float
    lateral: str


def camera_centers_in_frame(cam_to_world_a: ArrayLike, centers_world: ArrayLike) -> np.ndarray:
    """Express world points (typically other cameras' centres) in camera A's frame.

    Args:
        cam_to_world_a: (*, 4, 4) rigid pose of camera A.
        centers_world: (*, N, 3) world positions, metres (a camera's centre is
            ``cam_to_world[:3, 3]``).

    Returns:
        (*, N, 3) float64 positions in A's OpenCV camera frame, metres.
    """
    cam_to_world_a = as_float_array("cam_to_world_a", cam_to_world_a, (4, 4), "(*, 4, 4)")
    centers_world = as_float_array("centers_world", centers_world, (None, 3), "(*, N, 3)")
    return world_to_camera(centers_world, cam_to_world_a)


def camera_relation(cam_to_world_a: ArrayLike, cam_to_world_b: ArrayLike) -> CameraRelation:
    """Describe where camera B's centre lies relative to camera A.

    Only B's centre matters, not its orientation. If the centres coincide, the angles are 0,
    ``side`` is ``"front"`` and ``distance_m`` is 0: callers should check ``distance_m``.

    Args:
        cam_to_world_a: (4, 4) rigid pose of camera A (the reference, "you").
        cam_to_world_b: (4, 4) rigid pose of camera B.

    Returns:
        :class:`CameraRelation` with angles in degrees and distance in metres.
    """
    a = as_float_array("cam_to_world_a", cam_to_world_a, (4, 4), "(4, 4)")
    b = as_float_array("cam_to_world_b", cam_to_world_b, (4, 4), "(4, 4)")
    if a.ndim != 2:
        raise ValueError(f"cam_to_world_a must have shape (4, 4), got shape {a.shape}")
    if b.ndim != 2:
        raise ValueError(f"cam_to_world_b must have shape (4, 4), got shape {b.shape}")
    x, y, z = (float(c) for c in camera_centers_in_frame(a, b[None, :3, 3])[0])
    azimuth = math.degrees(math.atan2(x, z))
    elevation = math.degrees(math.atan2(-y, math.hypot(x, z)))
    if abs(azimuth) <= FRONT_MAX_DEG:
        side = "front"
    elif abs(azimuth) >= BEHIND_MIN_DEG:
        side = "behind"
    else:
        side = "right" if azimuth > 0 else "left"
    return CameraRelation(
        side=side,
        azimuth_deg=azimuth,
        elevation_deg=elevation,
        distance_m=math.sqrt(x * x + y * y + z * z),
        lateral="right" if x > 0 else "left",
    )
