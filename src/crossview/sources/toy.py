"""A tiny exact ray-cast renderer of coloured spheres on a table: hand-built scenes for tests.

Scenes made here are fully controlled (every position, camera and colour is given), render in
pure numpy without MuJoCo, and carry exact ground truth: RGB, depth, visible and amodal masks,
poses per timestep and contacts. The world is z up with the table top at z = 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crossview.geometry import look_at
from crossview.scene.model import Camera, Instance, Scene, View, masks_from_arrays

TABLE_RGB = np.array([170, 150, 120], dtype=np.float64)
SKY_RGB = np.array([40, 40, 48], dtype=np.float64)


@dataclass
class Ball:
    """A sphere: track id, colour name and RGB, radius (m) and centre per timestep (T, 3) in m."""

    track_id: int
    color: str
    rgb: tuple[int, int, int]
    radius: float
    centers: np.ndarray


@dataclass
class ToyCamera:
    """A camera looking from ``eye`` at ``target`` (world, m) with focal length ``f`` (px)."""

    name: str
    eye: Sequence[float]
    target: Sequence[float] = (0.0, 0.0, 0.0)
    f: float = 120.0
    role: str = "fixed"


def _intrinsics(f: float, width: int, height: int) -> np.ndarray:
    return np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1.0]])


def _rays(K: np.ndarray, c2w: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W, 3) world ray directions with unit camera-frame z (so t along the ray is depth)."""
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    d_cam = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    return d_cam @ c2w[:3, :3].T


def _hit_sphere(origin: np.ndarray, dirs: np.ndarray, center: np.ndarray, r: float) -> np.ndarray:
    """(H, W) depth (camera z) of the first hit of each ray with a sphere, inf where none."""
    oc = origin - center
    a = np.einsum("hwc,hwc->hw", dirs, dirs)
    b = 2.0 * np.einsum("hwc,c->hw", dirs, oc)
    c = oc @ oc - r * r
    disc = b * b - 4 * a * c
    t = np.full(a.shape, np.inf)
    ok = disc >= 0
    t_hit = (-b[ok] - np.sqrt(disc[ok])) / (2 * a[ok])
    t[ok] = np.where(t_hit > 1e-6, t_hit, np.inf)
    return t


def render_toy_scene(
    scene_id: str,
    balls: Sequence[Ball],
    cameras: Sequence[ToyCamera],
    width: int = 160,
    height: int = 120,
    timestamps: Sequence[float] | None = None,
    rig_id: str | None = None,
) -> Scene:
    """Render ``balls`` from every camera at every timestep into an in-memory :class:`Scene`.

    Shading is flat colour times a simple Lambert term from a light above, enough for a person
    to recognise the spheres. Contacts are pairs whose surfaces are within 1 mm.
    """
    T = len(balls[0].centers)
    timestamps = list(timestamps) if timestamps is not None else [0.5 * t for t in range(T)]
    light = np.array([0.3, -0.2, 1.0]) / np.linalg.norm([0.3, -0.2, 1.0])
    views = []
    for t in range(T):
        for cam in cameras:
            c2w = look_at(cam.eye, cam.target)
            K = _intrinsics(cam.f, width, height)
            dirs = _rays(K, c2w, width, height)
            origin = c2w[:3, 3]
            # table plane z = 0 (only where the ray goes down)
            with np.errstate(divide="ignore", invalid="ignore"):
                t_table = np.where(dirs[..., 2] < -1e-9, -origin[2] / dirs[..., 2], np.inf)
            hits = np.stack([_hit_sphere(origin, dirs, b.centers[t], b.radius) for b in balls])
            nearest = hits.min(axis=0)
            front = hits.argmin(axis=0)
            ball_first = nearest < t_table
            image = np.where(np.isfinite(t_table)[..., None], TABLE_RGB, SKY_RGB)
            visible, amodal = {}, {}
            for k, b in enumerate(balls):
                amodal[b.track_id] = np.isfinite(hits[k]) & (hits[k] < t_table)
                vis = ball_first & (front == k) & np.isfinite(nearest)
                visible[b.track_id] = vis
                pts = origin + dirs[vis] * nearest[vis][:, None]
                normal = (pts - b.centers[t]) / b.radius
                shade = 0.35 + 0.65 * np.clip(normal @ light, 0, 1)
                image[vis] = np.asarray(b.rgb, dtype=np.float64) * shade[:, None]
            depth = np.where(ball_first, nearest, t_table)
            depth = np.where(np.isfinite(depth), depth, 0.0).astype(np.float32)
            views.append(
                View(
                    Camera(cam.name, width, height, K, c2w, role=cam.role),
                    timestep=t,
                    timestamp=timestamps[t],
                    image=np.clip(image + 0.5, 0, 255).astype(np.uint8),
                    depth_m=depth,
                    masks=masks_from_arrays(visible, amodal),
                )
            )
    instances = {}
    for b in balls:
        poses = np.tile(np.eye(4), (T, 1, 1))
        poses[:, :3, 3] = b.centers
        instances[b.track_id] = Instance(
            b.track_id, "sphere", {"color": b.color, "shape": "sphere"}, [2 * b.radius] * 3, poses
        )
    contacts = []
    for t in range(T):
        step = []
        for i, a in enumerate(balls):
            for b in balls[i + 1 :]:
                gap = np.linalg.norm(a.centers[t] - b.centers[t]) - a.radius - b.radius
                if gap < 1e-3:
                    step.append((min(a.track_id, b.track_id), max(a.track_id, b.track_id)))
        contacts.append(sorted(step))
    return Scene(
        scene_id,
        "toy",
        views,
        instances,
        timestamps,
        contacts,
        rig_id,
        {"generator": "crossview.sources.toy"},
    )


def ball(
    track_id: int, color: str, rgb: tuple[int, int, int], radius: float, *centers: Sequence[float]
) -> Ball:
    """Shorthand: a ball resting at each given (x, y) or placed at each (x, y, z)."""
    pts = [
        np.array([c[0], c[1], c[2] if len(c) > 2 else radius], dtype=np.float64) for c in centers
    ]
    return Ball(track_id, color, rgb, radius, np.stack(pts))
