"""Tests of crossview.geometry.transforms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from crossview.geometry import (
    camera_to_world,
    invert_rigid,
    is_rotation,
    look_at,
    transform_points,
    world_to_camera,
)
from tests.geometry.geometry_strategies import SEEDS, random_cam_to_world


class TestInvertRigid:
    @settings(max_examples=100, deadline=None)
    @given(seed=SEEDS)
    def test_round_trip_is_identity(self, seed: int) -> None:
        T = random_cam_to_world(np.random.default_rng(seed))
        np.testing.assert_allclose(invert_rigid(T) @ T, np.eye(4), atol=1e-12)
        np.testing.assert_allclose(T @ invert_rigid(T), np.eye(4), atol=1e-12)
        np.testing.assert_allclose(invert_rigid(invert_rigid(T)), T, atol=1e-12)

    def test_matches_matrix_inverse_and_last_row_is_exact(self) -> None:
        T = random_cam_to_world(np.random.default_rng(1))
        inv = invert_rigid(T)
        np.testing.assert_allclose(inv, np.linalg.inv(T), atol=1e-12)
        assert inv[3].tolist() == [0.0, 0.0, 0.0, 1.0]

    def test_batched_equals_loop(self) -> None:
        rng = np.random.default_rng(2)
        Ts = np.stack([random_cam_to_world(rng) for _ in range(6)]).reshape(2, 3, 4, 4)
        out = invert_rigid(Ts)
        assert out.shape == (2, 3, 4, 4)
        for i in range(2):
            for j in range(3):
                np.testing.assert_allclose(out[i, j], invert_rigid(Ts[i, j]), atol=0)

    def test_bad_shape_names_argument(self) -> None:
        with pytest.raises(ValueError, match=r"T must have shape \(\*, 4, 4\), got shape \(3, 4\)"):
            invert_rigid(np.zeros((3, 4)))


class TestTransformPoints:
    def test_known_translation_and_rotation(self) -> None:
        T = np.eye(4)
        T[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]  # +90 deg about z
        T[:3, 3] = [1, 2, 3]
        out = transform_points(T, [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
        np.testing.assert_allclose(out, [[1.0, 3.0, 3.0], [1.0, 2.0, 4.0]], atol=1e-15)

    def test_broadcasts_points_over_transform_batch(self) -> None:
        rng = np.random.default_rng(3)
        Ts = np.stack([random_cam_to_world(rng) for _ in range(4)])
        pts = rng.normal(size=(7, 3))
        out = transform_points(Ts, pts)
        assert out.shape == (4, 7, 3)
        for i in range(4):
            expected = (Ts[i] @ np.column_stack([pts, np.ones(7)]).T).T[:, :3]
            np.testing.assert_allclose(out[i], expected, atol=1e-12)

    def test_bad_points_shape(self) -> None:
        with pytest.raises(ValueError, match=r"points must have shape \(\*, N, 3\)"):
            transform_points(np.eye(4), np.zeros((5, 2)))

    def test_non_broadcasting_batches_raise(self) -> None:
        with pytest.raises(ValueError, match="do not broadcast"):
            transform_points(np.tile(np.eye(4), (2, 1, 1)), np.zeros((3, 5, 3)))


class TestWorldCameraRoundTrip:
    @settings(max_examples=100, deadline=None)
    @given(seed=SEEDS)
    def test_round_trip(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        T = random_cam_to_world(rng)
        pts = rng.uniform(-20, 20, (10, 3))
        cam = world_to_camera(pts, T)
        np.testing.assert_allclose(camera_to_world(cam, T), pts, atol=1e-10)
        # Distances are preserved by a rigid change of frame.
        np.testing.assert_allclose(
            np.linalg.norm(cam[1:] - cam[:-1], axis=1),
            np.linalg.norm(pts[1:] - pts[:-1], axis=1),
            atol=1e-10,
        )

    def test_camera_centre_maps_to_origin(self) -> None:
        T = random_cam_to_world(np.random.default_rng(4))
        np.testing.assert_allclose(world_to_camera(T[None, :3, 3], T), [[0, 0, 0]], atol=1e-12)

    def test_bad_pose_shape_names_argument(self) -> None:
        with pytest.raises(ValueError, match="cam_to_world must have shape"):
            world_to_camera(np.zeros((2, 3)), np.eye(3))


class TestIsRotation:
    def test_accepts_rotations(self) -> None:
        rng = np.random.default_rng(5)
        for _ in range(20):
            assert is_rotation(random_cam_to_world(rng)[:3, :3])

    def test_rejects_reflection_scale_and_nan(self) -> None:
        assert not is_rotation(np.diag([1.0, 1.0, -1.0]))
        assert not is_rotation(2.0 * np.eye(3))
        assert not is_rotation(np.eye(3) + 1e-3)
        assert not is_rotation(np.full((3, 3), np.nan))

    def test_tolerance(self) -> None:
        R = np.eye(3)
        R[0, 0] += 1e-8
        assert is_rotation(R)
        assert not is_rotation(R, atol=1e-10)

    def test_bad_shape(self) -> None:
        with pytest.raises(ValueError, match=r"R must have shape \(3, 3\)"):
            is_rotation(np.eye(4))


class TestLookAt:
    @settings(max_examples=100, deadline=None)
    @given(seed=SEEDS)
    def test_rotation_and_target_on_optical_axis(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        eye = rng.uniform(-10, 10, 3)
        target = rng.uniform(-10, 10, 3)
        if np.linalg.norm(target - eye) < 0.1:
            target = eye + np.array([1.0, 0.5, 0.2])
        T = look_at(eye, target)
        assert is_rotation(T[:3, :3], atol=1e-9)
        np.testing.assert_allclose(T[:3, 3], eye, atol=0)
        np.testing.assert_allclose(T[3], [0, 0, 0, 1], atol=0)
        cam = world_to_camera(target[None], T)[0]
        np.testing.assert_allclose(cam[:2], [0.0, 0.0], atol=1e-9)
        assert cam[2] == pytest.approx(np.linalg.norm(target - eye), rel=1e-12)
        # No roll: the camera x axis is horizontal and image up (-y) has a positive world z.
        assert abs(T[2, 0]) < 1e-12
        assert -T[2, 1] >= 0

    def test_known_pose_looking_along_world_x(self) -> None:
        T = look_at([0, 0, 0], [5, 0, 0])
        # z forward = +x world, x right = -y world, y down = -z world.
        np.testing.assert_allclose(T[:3, :3], [[0, 0, 1], [-1, 0, 0], [0, -1, 0]], atol=1e-15)

    def test_target_at_principal_point(self) -> None:
        from crossview.geometry import project_points

        K = np.array([[500.0, 0, 320.0], [0, 480.0, 240.0], [0, 0, 1]])
        T = look_at([1.0, -2.0, 3.0], [4.0, 5.0, -1.0], up=(0, 0, 1))
        uv, depth = project_points(np.array([[4.0, 5.0, -1.0]]), K, T)
        np.testing.assert_allclose(uv, [[320.0, 240.0]], atol=1e-9)
        assert depth[0] > 0

    def test_degenerate_inputs_raise(self) -> None:
        with pytest.raises(ValueError, match="coincide"):
            look_at([1, 2, 3], [1, 2, 3])
        with pytest.raises(ValueError, match="parallel"):
            look_at([0, 0, 0], [0, 0, 5])
        with pytest.raises(ValueError, match=r"eye must have shape \(3,\)"):
            look_at([0, 0], [1, 0, 0])
