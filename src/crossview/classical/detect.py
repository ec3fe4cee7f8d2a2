"""Find what was drawn onto an image: coloured dots, arrows and mask overlays.

The solver knows the palette (:data:`crossview.render.palette.PALETTE`) and reads the colour
names from the question, as a model would. Everything here works on the rendered pixels only:

- a **dot** is a disc of the named colour (radius :func:`~crossview.render.markers.marker_radius`)
  inside a dark outline and a light ring: colour components of about the disc's area whose
  surrounding circle is dark;
- an **arrow** is a stroke of the named colour, outlined in dark, with a small disc at its tail
  and two barbs at its head: the colour pixels next to dark pixels, their principal axis, and the
  end with the wider spread is the head;
- an **overlay** is a translucent fill (alpha :data:`~crossview.render.overlay.OVERLAY_ALPHA`)
  bounded by a contour of the colour (:func:`~crossview.render.overlay.contour_thickness`)
  with a dark line on both sides: the contour pixels are found and their outline filled. The
  fill can be undone (:func:`untint`) to recover the object's own colours.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from crossview.render.markers import marker_radius
from crossview.render.overlay import OVERLAY_ALPHA, contour_thickness
from crossview.render.palette import PALETTE

_DARK_MAX = 60  # a pixel of the dark outline: every channel at most this


@dataclass(frozen=True)
class Dot:
    """A detected dot: sub-pixel centre, pixel area and a score in [0, 1] (ring darkness)."""

    uv: tuple[float, float]
    area: int
    score: float


@dataclass(frozen=True)
class Arrow:
    """A detected arrow: tail and head pixels (u, v), and how many pixels support it."""

    tail: tuple[float, float]
    head: tuple[float, float]
    support: int

    @property
    def direction(self) -> np.ndarray:
        """Unit vector from tail to head in the image."""
        d = np.subtract(self.head, self.tail).astype(float)
        return d / max(float(np.linalg.norm(d)), 1e-9)


def _channel_max(a: np.ndarray) -> np.ndarray:
    """Maximum over the last (3-channel) axis, (H, W); much faster than ``max(axis=2)``."""
    return np.maximum(np.maximum(a[..., 0], a[..., 1]), a[..., 2])


def color_distance(image: np.ndarray, color: str) -> np.ndarray:
    """Per-pixel max-abs RGB difference to a palette colour, (H, W) uint8 (0-255)."""
    r, g, b = PALETTE[color]
    img = np.ascontiguousarray(image, dtype=np.uint8)
    return _channel_max(cv2.absdiff(img, (float(r), float(g), float(b), 0.0)))


def brightness(image: np.ndarray) -> np.ndarray:
    """Per-pixel maximum RGB channel, (H, W) uint8."""
    return _channel_max(image)


def dark_mask(image: np.ndarray) -> np.ndarray:
    """Pixels dark enough to belong to a marker's outline, (H, W) bool."""
    return brightness(image) <= _DARK_MAX


def _ring_darkness(bright: np.ndarray, u: float, v: float, radius: float) -> float:
    """Fraction of rays from (u, v) that cross a darkish pixel just outside ``radius``
    (``bright``: :func:`brightness` of the image)."""
    h, w = bright.shape[:2]
    ang = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    rr = radius + np.arange(-0.5, 2.6, 0.5)
    xs = np.rint(u + np.outer(np.cos(ang), rr)).astype(int)
    ys = np.rint(v + np.outer(np.sin(ang), rr)).astype(int)
    ok = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    vals = np.where(ok, bright[ys.clip(0, h - 1), xs.clip(0, w - 1)], 255)
    inside = ok.all(axis=1)
    if not inside.any():
        return 0.0
    return float((vals[inside].min(axis=1) <= 140).mean())


def find_dots(image: np.ndarray, color: str, tol: int = 45) -> list[Dot]:
    """Dots of a palette colour in an RGB image, best first.

    Args:
        image: (H, W, 3) uint8 RGB as shown to the model.
        color: palette colour name.
        tol: max-abs RGB tolerance of a disc pixel.

    Returns:
        Dots whose area is that of a marker disc and whose surrounding circle is dark, sorted
        by ring darkness (the most dot-like first); empty when there is none.
    """
    h, w = image.shape[:2]
    r = marker_radius(w, h)
    disc = np.pi * r * r
    close = color_distance(image, color) <= tol
    n, lab, stats, _ = cv2.connectedComponentsWithStats(close.astype(np.uint8), connectivity=8)
    out: list[Dot] = []
    bright: np.ndarray | None = None
    for k in range(1, n):
        x0, y0, bw, bh, area = (int(s) for s in stats[k])
        if not 0.3 * disc <= area <= 1.8 * disc or max(bw, bh) > 2 * r + 4:
            continue
        ys, xs = np.nonzero(lab[y0 : y0 + bh, x0 : x0 + bw] == k)
        u, v = float(xs.mean() + x0), float(ys.mean() + y0)
        if bright is None:
            bright = brightness(image)
        score = _ring_darkness(bright, u, v, r)
        if score >= 0.7:
            out.append(Dot((u, v), area, score))
    out.sort(key=lambda d: (-d.score, abs(d.area - disc)))
    return out


def best_dot(image: np.ndarray, color: str) -> Dot | None:
    """The most dot-like dot of a colour, or None."""
    dots = find_dots(image, color)
    return dots[0] if dots else None


def _dark_within(image: np.ndarray, reach: int) -> np.ndarray:
    """Pixels with a dark pixel at most ``reach`` px away (Chebyshev), (H, W) bool."""
    k = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    return cv2.dilate(dark_mask(image).astype(np.uint8), k) > 0


def _near_dark(
    image: np.ndarray, color: str, tol: int, reach: int, dark: np.ndarray | None = None
) -> np.ndarray:
    """Pixels of a colour next to a dark pixel; ``dark`` is :func:`_dark_within` of the image
    at this ``reach`` when the caller has it."""
    close = color_distance(image, color) <= tol
    return close & (_dark_within(image, reach) if dark is None else dark)


def find_arrow(image: np.ndarray, color: str, tol: int = 45) -> Arrow | None:
    """The arrow of a palette colour in an RGB image, or None.

    The colour pixels next to a dark outline are kept (an object of the same colour has no
    dark outline inside it); the largest connected group and the groups near it form the
    arrow. Its principal axis gives the two ends; the head is the end whose pixels spread
    wider across the axis (the barbs), the tail the end with the small disc.
    """
    h, w = image.shape[:2]
    r = marker_radius(w, h)
    m = _near_dark(image, color, tol, 2)
    n, lab, stats, cents = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    if n <= 1:
        return None
    big = int(np.argmax(stats[1:, cv2.CC_STAT_AREA])) + 1
    if stats[big, cv2.CC_STAT_AREA] < 6:
        return None
    keep = [big]
    c0 = cents[big]
    span = max(stats[big, cv2.CC_STAT_WIDTH], stats[big, cv2.CC_STAT_HEIGHT])
    for k in range(1, n):
        near = np.linalg.norm(cents[k] - c0) <= span + 3 * r
        if k != big and stats[k, cv2.CC_STAT_AREA] >= 3 and near:
            keep.append(k)
    ys, xs = np.nonzero(np.isin(lab, keep))
    pts = np.stack([xs, ys], 1).astype(float)
    if len(pts) < 6:
        return None
    mean = pts.mean(0)
    cov = np.cov((pts - mean).T)
    _, evecs = np.linalg.eigh(cov)
    axis = evecs[:, 1]
    t = (pts - mean) @ axis
    s = (pts - mean) @ evecs[:, 0]
    lo, hi = float(t.min()), float(t.max())
    length = hi - lo
    if length < 2.5 * r:
        return None
    band = max(0.25 * length, 2.0 * r)
    spread_lo = float(np.ptp(s[t <= lo + band])) if np.any(t <= lo + band) else 0.0
    spread_hi = float(np.ptp(s[t >= hi - band])) if np.any(t >= hi - band) else 0.0
    p_lo = mean + lo * axis
    p_hi = mean + hi * axis
    # the tail point is the disc centre, about 0.6 r inside the extreme pixel
    if spread_hi >= spread_lo:
        head, tail = p_hi, mean + (lo + 0.6 * r) * axis
    else:
        head, tail = p_lo, mean + (hi - 0.6 * r) * axis
    return Arrow((float(tail[0]), float(tail[1])), (float(head[0]), float(head[1])), len(pts))


def find_overlay(image: np.ndarray, color: str, tol: int = 30, min_px: int = 12) -> np.ndarray:
    """The mask drawn as an overlay of a palette colour, (H, W) bool (empty if none).

    Contour pixels are those of the colour with a dark pixel beside them; each contour
    component of at least ``min_px`` pixels is closed and filled.
    """
    h, w = image.shape[:2]
    contour = _near_dark(image, color, tol, 1).astype(np.uint8)
    contour = cv2.morphologyEx(contour, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(contour, connectivity=8)
    keep = np.zeros((h, w), np.uint8)
    for k in range(1, n):
        if stats[k, cv2.CC_STAT_AREA] >= min_px:
            keep[lab == k] = 1
    if not keep.any():
        return np.zeros((h, w), bool)
    cs, _ = cv2.findContours(keep, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros((h, w), np.uint8)
    cv2.drawContours(filled, cs, -1, 1, -1)
    return filled.astype(bool)


def interior(mask: np.ndarray, depth: float | None = None) -> np.ndarray:
    """The part of an overlay mask at least ``depth`` px inside its outline (where the drawn
    contour and its dark line do not reach; default the contour thickness + 2), or the mask
    itself when that part is empty."""
    if depth is None:
        depth = contour_thickness(mask.shape[1], mask.shape[0]) + 2.0
    d = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 3)[1:-1, 1:-1]
    inner = d > depth
    return inner if inner.any() else mask


def untint(image: np.ndarray, mask: np.ndarray, color: str) -> np.ndarray:
    """Undo an overlay's translucent fill: the object's own RGB inside ``mask``, (N, 3) float.

    Only the mask's :func:`interior` is read: the drawn contour (the overlay colour itself)
    and its dark line are not the object's colours.
    """
    rgb = np.asarray(PALETTE[color], float)
    px = image[interior(mask)].astype(float)
    return np.clip((px - OVERLAY_ALPHA * rgb) / (1 - OVERLAY_ALPHA), 0, 255)


def marker_pixels(image: np.ndarray, colors: list[str], tol: int = 45) -> np.ndarray:
    """Pixels belonging to drawn markers or contours of the given colours (dilated), bool.

    Used to keep local features off what was drawn: a feature on a dot or a contour is not a
    feature of the scene.
    """
    h, w = image.shape[:2]
    r = marker_radius(w, h)
    out = np.zeros((h, w), np.uint8)
    dark = _dark_within(image, 1) if colors else None
    for c in colors:
        for d in find_dots(image, c, tol):
            cv2.circle(out, (round(d.uv[0]), round(d.uv[1])), int(np.ceil(r + 4)), 1, -1)
        out |= _near_dark(image, c, tol, 1, dark).astype(np.uint8)
    return cv2.dilate(out, np.ones((5, 5), np.uint8)) > 0


HUES: dict[str, tuple[tuple[int, int], ...]] = {
    "red": ((0, 7), (170, 180)),
    "brown": ((8, 19),),
    "yellow": ((20, 35),),
    "green": ((40, 75),),
    "cyan": ((80, 100),),
    "blue": ((101, 125),),
    "purple": ((126, 169),),
}
"""OpenCV hue ranges (0-180) of the saturated object colours a tabletop scene uses."""


def color_blobs(image: np.ndarray, min_px: int = 25) -> dict[str, list[np.ndarray]]:
    """Saturated single-hue regions of an image (the coloured objects; the table, the floor,
    the arm and grey objects are unsaturated), per hue class, each a bool (H, W) mask of at
    least ``min_px`` pixels (scaled from 320x240), largest first."""
    h, w = image.shape[:2]
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    vivid = (hsv[..., 1] > 115) & (hsv[..., 2] > 40)
    least = max(6, int(min_px * w * h / (320 * 240)))
    out: dict[str, list[np.ndarray]] = {}
    for name, ranges in HUES.items():
        sel = np.zeros((h, w), bool)
        for lo, hi in ranges:
            sel |= (hsv[..., 0] >= lo) & (hsv[..., 0] <= hi)
        sel = cv2.morphologyEx((sel & vivid).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3)))
        n, lab, stats, _ = cv2.connectedComponentsWithStats(sel, connectivity=8)
        keep = [k for k in range(1, n) if stats[k, cv2.CC_STAT_AREA] >= least]
        keep.sort(key=lambda k: -stats[k, cv2.CC_STAT_AREA])
        if keep:
            out[name] = [lab == k for k in keep]
    return out
