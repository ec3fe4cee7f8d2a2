"""Tests of crossview.geometry.projection."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings

from crossview.geometry import (
    in_front,
    in_image,
    look_at,
    point_visibility,
    project_points,
    unproject,
    unproject_depth_map,
    world_to_camera,
)
from tests.geometry.geometry_strategies import (
    SEEDS,
    cam_to_world_from_rvec_tvec,
    intrinsics,
    intrinsics_matrices,
    random_cam_to_world,
    random_points_in_front,
    world_to_camera_rvec_tvec,
)


class TestProjectPoints:
    @settings(max_examples=200, deadline=None)
    @given(K=intrinsics_matrices(), pose=world_to_camera_rvec_tvec(), seed=SEEDS)
    def test_agrees_with_cv2(
        self, K: np.ndarray, pose: tuple[np.ndarray, np.ndarray], seed: int
    ) -> None:
        rvec, tvec = pose
        points = random_points_in_front(np.random.default_rng(seed), rvec, tvec, 25)
        cam_to_world = cam_to_world_from_rvec_tvec(rvec, tvec)
        uv, depth = project_points(points, K, cam_to_world)
        expected, _ = cv2.projectPoints(points.reshape(-1, 1, 3), rvec, tvec, K, np.zeros(5))
        assert uv.shape == (25, 2) and uv.dtype == np.float64
        np.testing.assert_allclose(uv, expected.reshape(-1, 2), rtol=0, atol=1e-6)
        R_w2c, _ = cv2.Rodrigues(rvec)
        np.testing.assert_allclose(depth, points @ R_w2c[2] + tvec[2], rtol=0, atol=1e-9)
        assert np.all(depth > 0)

    def test_known_values(self) -> None:
        K = intrinsics(100.0, 200.0, 50.0, 40.0)
        uv, depth = project_points([[0.0, 0.0, 2.0], [1.0, -1.0, 2.0]], K, np.eye(4))
        np.testing.assert_allclose(uv, [[50.0, 40.0], [100.0, -60.0]])
        np.testing.assert_allclose(depth, [2.0, 2.0])

    def test_points_behind_get_signed_projection(self) -> None:
        K = intrinsics(100.0, 100.0, 0.0, 0.0)
        uv, depth = project_points([[1.0, 2.0, -2.0]], K, np.eye(4))
        np.testing.assert_allclose(uv, [[-50.0, -100.0]])
        assert depth[0] == -2.0
        assert not in_front(depth)[0]

    def test_batch_dims_equal_loop(self) -> None:
        rng = np.random.default_rng(0)
        B1, B2, N = 2, 3, 11
        poses = np.stack([random_cam_to_world(rng) for _ in range(B1 * B2)]).reshape(B1, B2, 4, 4)
        Ks = np.stack(
            [intrinsics(*rng.uniform(50, 2000, 2), *rng.uniform(0, 2000, 2)) for _ in range(B2)]
        )  # (B2, 3, 3) broadcasts against (B1, B2)
        pts = rng.normal(size=(B1, B2, N, 3)) * 5
        uv, depth = project_points(pts, Ks, poses)
        assert uv.shape == (B1, B2, N, 2) and depth.shape == (B1, B2, N)
        for i in range(B1):
            for j in range(B2):
                uv_ij, d_ij = project_points(pts[i, j], Ks[j], poses[i, j])
                np.testing.assert_allclose(uv[i, j], uv_ij, rtol=1e-12, atol=1e-9)
                np.testing.assert_allclose(depth[i, j], d_ij, rtol=1e-12, atol=1e-12)

    def test_shared_points_broadcast_over_cameras(self) -> None:
        rng = np.random.default_rng(1)
        poses = np.stack([random_cam_to_world(rng) for _ in range(4)])
        K = intrinsics(300, 300, 100, 100)
        pts = rng.normal(size=(6, 3))
        uv, depth = project_points(pts, K, poses)
        assert uv.shape == (4, 6, 2) and depth.shape == (4, 6)
        for i in range(4):
            np.testing.assert_allclose(uv[i], project_points(pts, K, poses[i])[0], atol=1e-9)

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            ((np.zeros((4, 2)), np.eye(3), np.eye(4)), r"points_world must have shape"),
            ((np.zeros((4, 3)), np.eye(4), np.eye(4)), r"K must have shape \(\*, 3, 3\)"),
            ((np.zeros((4, 3)), np.eye(3), np.eye(3)), r"cam_to_world must have shape"),
            ((np.zeros((2, 4, 3)), np.eye(3), np.zeros((3, 4, 4))), r"do not broadcast"),
        ],
    )
    def test_bad_shapes(self, args: tuple, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            project_points(*args)


class TestInFrontInImage:
    def test_in_front(self) -> None:
        np.testing.assert_array_equal(
            in_front([-1.0, 0.0, 1e-7, 1.0, np.nan]), [False, False, False, True, False]
        )
        np.testing.assert_array_equal(in_front([0.5, 1.5], min_depth=1.0), [False, True])

    def test_in_image_pixel_centre_bounds(self) -> None:
        uv = np.array(
            [
                [-0.5, -0.5],  # corner of pixel (0, 0): inside
                [-0.5001, 0.0],
                [3.4999, 1.4999],  # W=4, H=2: last inside
                [3.5, 0.0],
                [0.0, 1.5],
                [np.nan, 0.0],
            ]
        )
        np.testing.assert_array_equal(in_image(uv, 4, 2), [True, False, True, False, False, False])

    def test_in_image_keeps_batch_shape(self) -> None:
        assert in_image(np.zeros((2, 3, 2)), 4, 4).shape == (2, 3)


class TestUnproject:
    @settings(max_examples=100, deadline=None)
    @given(K=intrinsics_matrices(), pose=world_to_camera_rvec_tvec(), seed=SEEDS)
    def test_unproject_inverts_project(
        self, K: np.ndarray, pose: tuple[np.ndarray, np.ndarray], seed: int
    ) -> None:
        rvec, tvec = pose
        points = random_points_in_front(np.random.default_rng(seed), rvec, tvec, 20)
        cam_to_world = cam_to_world_from_rvec_tvec(rvec, tvec)
        uv, depth = project_points(points, K, cam_to_world)
        np.testing.assert_allclose(unproject(uv, depth, K, cam_to_world), points, atol=1e-8)

    def test_batched_unproject(self) -> None:
        rng = np.random.default_rng(2)
        poses = np.stack([random_cam_to_world(rng) for _ in range(3)])
        K = intrinsics(400, 420, 320, 240)
        uv = rng.uniform(0, 600, (3, 5, 2))
        depth = rng.uniform(1, 10, (3, 5))
        out = unproject(uv, depth, K, poses)
        assert out.shape == (3, 5, 3)
        for i in range(3):
            np.testing.assert_allclose(out[i], unproject(uv[i], depth[i], K, poses[i]))
        # Re-projecting gives back the pixels and depths.
        uv2, d2 = project_points(out, K, poses)
        np.testing.assert_allclose(uv2, uv, atol=1e-8)
        np.testing.assert_allclose(d2, depth, atol=1e-10)

    def test_depth_shape_mismatch(self) -> None:
        with pytest.raises(ValueError, match="depth must have shape"):
            unproject(np.zeros((5, 2)), np.ones(4), np.eye(3), np.eye(4))

    def test_depth_map(self) -> None:
        K = intrinsics(100.0, 100.0, 2.0, 1.0)
        pose = look_at([0.0, 0.0, 1.0], [3.0, 0.0, 1.0])
        depth = np.full((3, 5), 2.0)
        depth[0, 0] = 0.0
        depth[2, 4] = np.nan
        depth[1, 1] = np.inf
        pts = unproject_depth_map(depth, K, pose)
        assert pts.shape == (3, 5, 3)
        invalid = np.zeros((3, 5), bool)
        invalid[0, 0] = invalid[2, 4] = invalid[1, 1] = True
        assert np.all(np.isnan(pts[invalid]))
        assert np.all(np.isfinite(pts[~invalid]))
        # Principal point pixel (row 1, col 2) sees the point 2 m straight ahead.
        np.testing.assert_allclose(pts[1, 2], [2.0, 0.0, 1.0], atol=1e-12)
        # Every valid pixel re-projects onto itself with depth 2.
        uv, z = project_points(pts[~invalid], K, pose)
        rows, cols = np.nonzero(~invalid)
        np.testing.assert_allclose(uv, np.column_stack([cols, rows]), atol=1e-9)
        np.testing.assert_allclose(z, 2.0, atol=1e-12)
        # Camera frame z equals the depth (depth is z, not ray length).
        cam = world_to_camera(pts[~invalid], pose)
        np.testing.assert_allclose(cam[:, 2], 2.0, atol=1e-12)


class TestPointVisibility:
    W, H = 64, 48
    K = intrinsics(50.0, 50.0, 31.5, 23.5)

    def _wall_depth(self) -> np.ndarray:
        depth = np.full((self.H, self.W), 5.0)
        depth[:, 40:] = 0.0  # no measurement on the right part of the image
        return depth

    def test_wall_occludes(self) -> None:
        pose = np.eye(4)
        pts = np.array(
            [
                [0.0, 0.0, 4.0],  # in front of the wall
                [0.0, 0.0, 5.0],  # on the wall
                [0.0, 0.0, 5.04],  # behind, within rel tolerance 0.01 * z
                [0.0, 0.0, 6.0],  # behind the wall
                [0.0, 0.0, -3.0],  # behind the camera
                [100.0, 0.0, 5.0],  # outside the image
                [0.3 * 10.0, 0.0, 10.0],  # u = 31.5 + 15 = 46.5 -> no depth there: visible
            ]
        )
        vis = point_visibility(pts, self.K, pose, self._wall_depth())
        np.testing.assert_array_equal(vis, [True, True, True, False, False, False, True])

    def test_tolerances(self) -> None:
        pts = np.array([[0.0, 0.0, 5.2]])
        depth = self._wall_depth()
        assert not point_visibility(pts, self.K, np.eye(4), depth)[0]
        assert point_visibility(pts, self.K, np.eye(4), depth, abs_tol_m=0.25)[0]
        assert point_visibility(pts, self.K, np.eye(4), depth, rel_tol=0.05)[0]

    def test_nearest_pixel_lookup(self) -> None:
        depth = np.full((self.H, self.W), 5.0)
        depth[:, 32:] = 1.0  # a near object covering columns >= 32
        z = 4.0
        # u = 31.5 + 50 x / z; u = 31.49 -> pixel 31 (far wall), u = 31.51 -> pixel 32 (near).
        pts = np.array([[(31.49 - 31.5) * z / 50, 0.0, z], [(31.51 - 31.5) * z / 50, 0.0, z]])
        vis = point_visibility(pts, self.K, np.eye(4), depth)
        np.testing.assert_array_equal(vis, [True, False])

    def test_with_posed_camera_and_nan_depth(self) -> None:
        pose = look_at([0.0, 0.0, 1.0], [10.0, 0.0, 1.0])  # looking along world +x
        depth = np.full((self.H, self.W), 3.0)
        depth[:5, :5] = np.nan
        pts = np.array([[2.0, 0.0, 1.0], [6.0, 0.0, 1.0], [-2.0, 0.0, 1.0]])
        vis = point_visibility(pts, self.K, pose, depth)
        np.testing.assert_array_equal(vis, [True, False, False])
        # A point seen at the NaN corner is visible whatever its depth.
        corner = unproject(np.array([[1.0, 1.0]]), np.array([9.0]), self.K, pose)
        assert point_visibility(corner, self.K, pose, depth)[0]

    def test_batched_cameras(self) -> None:
        poses = np.stack([np.eye(4), look_at([0, 0, 0], [0, 0, -1], up=(0, 1, 0))])
        depths = np.stack([self._wall_depth(), np.full((self.H, self.W), 10.0)])
        pts = np.array([[0.0, 0.0, 4.0], [0.0, 0.0, -4.0], [0.0, 0.0, -12.0]])
        vis = point_visibility(pts, self.K, poses, depths)
        assert vis.shape == (2, 3)
        np.testing.assert_array_equal(vis, [[True, False, False], [False, True, False]])
        for i in range(2):
            np.testing.assert_array_equal(
                vis[i], point_visibility(pts, self.K, poses[i], depths[i])
            )

    def test_bad_depth_shape(self) -> None:
        with pytest.raises(ValueError, match="depth_m must have shape"):
            point_visibility(np.zeros((1, 3)), self.K, np.eye(4), np.zeros(5))
