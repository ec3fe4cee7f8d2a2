"""Tests of crossview.geometry.relations."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from crossview.geometry import (
    CameraRelation,
    camera_centers_in_frame,
    camera_relation,
    look_at,
)

# Camera A at the origin looking along world +x with world +z up: its right is world -y.
A = look_at([0.0, 0.0, 0.0], [1.0, 0.0, 0.0])


def _camera_at(position: list[float]) -> np.ndarray:
    """Camera B at ``position`` looking somewhere arbitrary (only its centre matters)."""
    position = np.asarray(position, dtype=float)
    return look_at(position, position + np.array([0.3, 0.8, -0.1]))


class TestCameraRelation:
    @pytest.mark.parametrize(
        ("position", "side", "lateral", "azimuth"),
        [
            ([0.0, -2.0, 0.0], "right", "right", 90.0),
            ([0.0, 2.0, 0.0], "left", "left", -90.0),
            ([3.0, 0.0, 0.0], "front", "left", 0.0),  # x == 0: lateral falls back to "left"
            ([3.0, -1.0, 0.0], "front", "right", math.degrees(math.atan2(1, 3))),
            ([-3.0, 0.5, 0.0], "behind", "left", -(180.0 - math.degrees(math.atan2(0.5, 3)))),
            ([-3.0, -0.5, 0.0], "behind", "right", 180.0 - math.degrees(math.atan2(0.5, 3))),
            ([-1.0, -1.0, 0.0], "behind", "right", 135.0),
        ],
    )
    def test_hand_built_rigs(
        self, position: list[float], side: str, lateral: str, azimuth: float
    ) -> None:
        rel = camera_relation(A, _camera_at(position))
        assert rel.side == side
        assert rel.lateral == lateral
        assert rel.azimuth_deg == pytest.approx(azimuth, abs=1e-9)
        assert rel.distance_m == pytest.approx(np.linalg.norm(position), abs=1e-12)
        assert rel.elevation_deg == pytest.approx(0.0, abs=1e-9)

    def test_straight_behind_is_180(self) -> None:
        rel = camera_relation(A, _camera_at([-4.0, 0.0, 0.0]))
        assert rel.side == "behind"
        assert abs(rel.azimuth_deg) == pytest.approx(180.0, abs=1e-9)

    @pytest.mark.parametrize(
        ("azimuth", "side"),
        [
            (44.0, "front"),
            (46.0, "right"),
            (-44.0, "front"),
            (-46.0, "left"),
            (134.0, "right"),
            (136.0, "behind"),
            (-134.0, "left"),
            (-136.0, "behind"),
        ],
    )
    def test_side_thresholds(self, azimuth: float, side: str) -> None:
        a = math.radians(azimuth)
        # In A's frame, x = sin(az), z = cos(az); world x = cam z, world y = -cam x.
        rel = camera_relation(A, _camera_at([2.0 * math.cos(a), -2.0 * math.sin(a), 0.0]))
        assert rel.azimuth_deg == pytest.approx(azimuth, abs=1e-9)
        assert rel.side == side

    def test_elevation(self) -> None:
        above = camera_relation(A, _camera_at([1.0, 0.0, 1.0]))
        below = camera_relation(A, _camera_at([2.0, -2.0, -math.sqrt(8.0)]))
        assert above.elevation_deg == pytest.approx(45.0, abs=1e-9)
        assert above.side == "front"
        assert below.elevation_deg == pytest.approx(-45.0, abs=1e-9)
        assert below.azimuth_deg == pytest.approx(45.0, abs=1e-9)

    def test_relation_is_relative_to_a_orientation(self) -> None:
        # A' looks along world -x from (5, 0, 0): a camera at world (5, +2, 0) is to its right.
        a_prime = look_at([5.0, 0.0, 0.0], [0.0, 0.0, 0.0])
        rel = camera_relation(a_prime, _camera_at([5.0, 2.0, 0.0]))
        assert (rel.side, rel.lateral) == ("right", "right")
        assert rel.azimuth_deg == pytest.approx(90.0, abs=1e-9)

    def test_is_frozen(self) -> None:
        rel = camera_relation(A, _camera_at([0.0, -2.0, 0.0]))
        assert isinstance(rel, CameraRelation)
        with pytest.raises(dataclasses.FrozenInstanceError):
            rel.side = "left"  # type: ignore[misc]

    def test_bad_shape(self) -> None:
        with pytest.raises(ValueError, match=r"cam_to_world_b must have shape \(4, 4\)"):
            camera_relation(A, np.stack([A, A]))


class TestCameraCentersInFrame:
    def test_batched_centres(self) -> None:
        centres = np.array([[0.0, -2.0, 0.0], [3.0, 0.0, 1.0], [-1.0, 0.0, 0.0]])
        out = camera_centers_in_frame(A, centres)
        np.testing.assert_allclose(
            out, [[2.0, 0.0, 0.0], [0.0, -1.0, 3.0], [0.0, 0.0, -1.0]], atol=1e-12
        )

    def test_bad_shape(self) -> None:
        with pytest.raises(ValueError, match="centers_world must have shape"):
            camera_centers_in_frame(A, np.zeros(3))
