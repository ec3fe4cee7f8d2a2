"""3D points for marker questions: sampling on object surfaces and in free space, projection.

Surface points come from unprojecting visible object pixels with the view's depth; free-space
points are drawn in the box above the objects. Both are world coordinates in metres.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from crossview.geometry import point_visibility, project_points, unproject
from crossview.render.markers import Mark, marker_radius
from crossview.render.palette import contrasting_colors
from crossview.scene.model import View
from crossview.tasks.base import SceneContext


def surface_points(
    ctx: SceneContext, view: View, rng: np.random.Generator, n: int, tid: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``n`` world points on visible object surfaces of ``view``, with their track ids.

    Each point is the unprojection of a uniformly random position inside a visible pixel
    (with that pixel's depth).

    Returns ``(points (M, 3), track_ids (M,))``; empty without depth or visible objects.
    """
    depth = view.depth_m
    ids = [tid] if tid is not None else view.track_ids
    if depth is None or not ids:
        return np.zeros((0, 3)), np.zeros(0, int)
    pix, tracks = [], []
    for t in ids:
        ys, xs = np.nonzero(ctx.mask(view, t))
        ok = np.isfinite(depth[ys, xs]) & (depth[ys, xs] > 0)
        pix.append(np.stack([xs[ok], ys[ok]], 1))
        tracks.append(np.full(int(ok.sum()), t))
    pix_all, tr_all = np.concatenate(pix), np.concatenate(tracks)
    if not len(pix_all):
        return np.zeros((0, 3)), np.zeros(0, int)
    pick = rng.choice(len(pix_all), size=min(n, len(pix_all)), replace=False)
    # a point anywhere in its pixel, not at its centre: every drawn mark then sits off the
    # pixel grid alike (a gold dot at its exact projection among distractors on pixel centres
    # would be found by the sub-pixel centre of its colour); the pixel's depth stays the
    # point's depth, so the point still rounds to the pixel it was sampled from
    jitter = np.clip(rng.uniform(-0.5, 0.5, size=(len(pick), 2)), -0.499, 0.499)
    uv = pix_all[pick].astype(np.float64) + jitter
    z = depth[pix_all[pick, 1], pix_all[pick, 0]].astype(np.float64)
    pts = unproject(uv, z, view.camera.K, view.camera.cam_to_world)
    return pts, tr_all[pick]


def workspace(ctx: SceneContext, t: int) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of a box around the objects at timestep t, padded, above the table."""
    centres = [ctx.center(tid, t) for tid in ctx.scene.instances]
    centres = np.array([c for c in centres if c is not None])
    if not len(centres):
        return np.array([-0.3, -0.3, 0.0]), np.array([0.3, 0.3, 0.3])
    pad = np.array([0.08, 0.08, 0.0])
    lo = centres.min(0) - pad
    hi = centres.max(0) + pad
    lo[2] = max(0.02, float(centres[:, 2].min()) * 0.5)
    hi[2] = float(centres[:, 2].max()) + 0.15
    return lo, hi


def free_points(ctx: SceneContext, t: int, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` points uniformly in the padded box above the objects at timestep t (metres)."""
    lo, hi = workspace(ctx, t)
    return rng.uniform(lo, hi, size=(n, 3))


def project(view: View, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(uv (N, 2), camera z (N,)) of world points in ``view``."""
    return project_points(np.atleast_2d(pts), view.camera.K, view.camera.cam_to_world)


def inside(view: View, uv: np.ndarray, z: np.ndarray, margin_dots: float = 2.0) -> np.ndarray:
    """(N,) bool: in front of the camera and at least ``margin_dots`` marker radii inside."""
    w, h = view.camera.width, view.camera.height
    m = margin_dots * marker_radius(w, h)
    uv = np.atleast_2d(uv)
    return (
        (np.asarray(z) > 1e-3)
        & (uv[:, 0] >= m)
        & (uv[:, 0] <= w - 1 - m)
        & (uv[:, 1] >= m)
        & (uv[:, 1] <= h - 1 - m)
    )


def visible_in(view: View, pts: np.ndarray, tol_m: float = 0.01) -> np.ndarray | None:
    """(N,) bool depth test of world points in ``view``; None without depth."""
    if view.depth_m is None:
        return None
    return point_visibility(
        np.atleast_2d(pts),
        view.camera.K,
        view.camera.cam_to_world,
        view.depth_m,
        abs_tol_m=tol_m,
        rel_tol=0.01,
    )


def separated(uv: np.ndarray, others: list[np.ndarray], min_px: float) -> bool:
    """Whether ``uv`` is at least ``min_px`` from each of ``others``."""
    return all(float(np.linalg.norm(uv - o)) >= min_px for o in others)


def distractor_dots(
    view: View, gold_uv: np.ndarray, gold_P: np.ndarray, pool: np.ndarray, n: int
) -> list[np.ndarray] | None:
    """The gold dot and ``n - 1`` distractors from ``pool``, in pool order: each projecting
    inside ``view``, >= 5 cm from the gold point in 3D and >= :func:`min_sep_px` from every dot
    chosen; None when the pool has too few.

    Args:
        view: the image the dots are drawn in.
        gold_uv: (2,) pixel of the gold point in ``view``.
        gold_P: (3,) the gold point, world frame, metres.
        pool: (M, 3) candidate distractor points, world frame, metres.
        n: dots wanted, the gold included.

    Returns:
        ``[gold_uv, uv_1, ...]``, (2,) pixels each, or None.
    """
    puv, pz = project(view, pool)
    chosen = [gold_uv]
    sep = min_sep_px(view)
    for p, uv, ok in zip(pool, puv, inside(view, puv, pz), strict=False):
        if len(chosen) == n:
            break
        if ok and np.linalg.norm(p - gold_P) >= 0.05 and separated(uv, chosen, sep):
            chosen.append(uv)
    return chosen if len(chosen) == n else None


def min_sep_px(view: View) -> float:
    """Least pixel distance between markers of one question: 6% of the image width."""
    return 0.06 * view.camera.width


def _under(view: View, m: Mark) -> np.ndarray:
    """(K, 3) RGB of the pixels a mark covers: its disc (dots), or along the line (arrows)."""
    img = view.image
    h, w = img.shape[:2]
    r = marker_radius(w, h) + 2
    pts = [np.asarray(m.uv, float)]
    if m.kind == "arrow" and m.uv_end is not None:
        a, b = np.asarray(m.uv, float), np.asarray(m.uv_end, float)
        pts = [a + t * (b - a) for t in np.linspace(0, 1, 6)]
        r = max(2.0, r / 2)
    out = []
    for p in pts:
        y0, y1 = max(0, int(p[1] - r)), min(h, int(p[1] + r) + 2)
        x0, x1 = max(0, int(p[0] - r)), min(w, int(p[0] + r) + 2)
        yy, xx = np.ogrid[y0:y1, x0:x1]
        sel = (xx - p[0]) ** 2 + (yy - p[1]) ** 2 <= r * r
        out.append(img[y0:y1, x0:x1][sel])
    return np.concatenate(out) if out else np.zeros((0, 3))


def color_marks(
    marks: list[Mark], views: list[View], rng: np.random.Generator
) -> tuple[list[Mark], list[str]] | None:
    """Give each group of marks a palette colour that stands out from what it covers.

    Args:
        marks: marks whose ``color`` is a group index as text ("0", "1", ...): marks of one
            group share a colour (a reference dot drawn in two images).
        views: the question's views (``marks[i].view`` indexes them).
        rng: seeded; groups are coloured by :func:`crossview.render.palette.contrasting_colors`:
            each colour at least ``OBJECT_CONTRAST_DE`` (CIEDE2000) from the median colour
            under every mark of its group, and ``SEPARATION_DE`` from the other groups'.

    Returns:
        (coloured marks, colour of each group) or None when no assignment exists.
    """
    groups = sorted({int(m.color) for m in marks})
    covered = [(int(m.color), _under(views[m.view], m)) for m in marks]
    under = [[np.median(px, 0) for k, px in covered if k == g and len(px)] for g in groups]
    names = contrasting_colors(under, rng)
    if names is None:
        return None
    name = dict(zip(groups, names, strict=True))
    return [replace(m, color=name[int(m.color)]) for m in marks], names
