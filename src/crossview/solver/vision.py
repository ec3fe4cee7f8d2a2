"""What the classical solver sees and measures: marks in the images, features, epipolar geometry.

Everything here works on the images as a model receives them (overlays and markers drawn in),
plus the palette a model is told about through the question's colour words. Nothing reads
scene ground truth.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from crossview.render.markers import marker_radius
from crossview.render.palette import PALETTE

OVERLAY_ALPHA = 0.45  # crossview.render.overlay's default fill opacity


def load_rgb(data: bytes) -> np.ndarray:
    """(H, W, 3) uint8 RGB from encoded image bytes."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def color_mask(img: np.ndarray, color: str, tol: int = 6) -> np.ndarray:
    """(H, W) bool: pixels within ``tol`` of a palette colour in every channel."""
    rgb = np.array(PALETTE[color], dtype=np.int16)
    return (np.abs(img.astype(np.int16) - rgb) <= tol).all(-1)


@dataclass
class Dot:
    color: str
    uv: np.ndarray  # (2,) pixel centre, OpenCV convention
    area: int


def find_dots(img: np.ndarray, color: str) -> list[Dot]:
    """Filled discs of ``color`` with a dark outline, of the marker size for this image."""
    h, w = img.shape[:2]
    r = marker_radius(w, h)
    expect = np.pi * r * r
    n, _, stats, cents = cv2.connectedComponentsWithStats(
        color_mask(img, color).astype(np.uint8), connectivity=8
    )
    gray = img.mean(-1)
    out = []
    for k in range(1, n):
        area = int(stats[k, cv2.CC_STAT_AREA])
        if not 0.3 * expect <= area <= 2.2 * expect:
            continue
        c = cents[k]
        ang = np.linspace(0, 2 * np.pi, 16, endpoint=False)[:, None]
        rad = r + np.array([0.3, 0.9, 1.5, 2.1])[None, :]
        us = np.clip(np.round(c[0] + rad * np.cos(ang)).astype(int), 0, w - 1)
        vs = np.clip(np.round(c[1] + rad * np.sin(ang)).astype(int), 0, h - 1)
        # the dark outline of a drawn dot: along most rays out of the disc, a dark pixel
        if np.mean(gray[vs, us].min(axis=1) < 90) >= 0.6:
            out.append(Dot(color, np.asarray(c, dtype=np.float64), area))
    return out


def find_overlay(img: np.ndarray, color: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(mask (H, W) bool, image with the overlay tint removed) of the object outlined in
    ``color``, from its solid contour; None when the colour's contour is not in the image."""
    edge = color_mask(img, color, tol=2).astype(np.uint8)
    if edge.sum() < 8:
        return None
    contours, _ = cv2.findContours(edge, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contours = [c for c in contours if len(c) >= 8]
    if not contours:
        return None
    fill = np.zeros(img.shape[:2], np.uint8)
    cv2.drawContours(fill, contours, -1, 1, -1)
    mask = fill.astype(bool)
    rgb = np.array(PALETTE[color], dtype=np.float64)
    clean = img.astype(np.float64).copy()
    inner = mask & ~edge.astype(bool)
    clean[inner] = (clean[inner] - OVERLAY_ALPHA * rgb) / (1 - OVERLAY_ALPHA)
    return mask, np.clip(clean + 0.5, 0, 255).astype(np.uint8)


@dataclass
class Matches:
    """Feature matches between two images and the fundamental matrix they support."""

    uv0: np.ndarray  # (N, 2) inlier keypoints in image 0
    uv1: np.ndarray  # (N, 2) their matches in image 1
    F: np.ndarray | None  # x1^T F x0 = 0


_sift = None


def match(img0: np.ndarray, img1: np.ndarray, ratio: float = 0.8) -> Matches:
    """SIFT, Lowe ratio test and mutual check, then RANSAC on the fundamental matrix."""
    global _sift
    if _sift is None:
        _sift = cv2.SIFT_create(nfeatures=4000, contrastThreshold=0.02)
    g0, g1 = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (img0, img1))
    k0, d0 = _sift.detectAndCompute(g0, None)
    k1, d1 = _sift.detectAndCompute(g1, None)
    empty = Matches(np.zeros((0, 2)), np.zeros((0, 2)), None)
    if d0 is None or d1 is None or len(k0) < 8 or len(k1) < 8:
        return empty
    bf = cv2.BFMatcher(cv2.NORM_L2)
    fwd = bf.knnMatch(d0, d1, k=2)
    back = {m.queryIdx: m.trainIdx for m in bf.match(d1, d0)}
    pairs = [
        (m.queryIdx, m.trainIdx)
        for m, n in (p for p in fwd if len(p) == 2)
        if m.distance < ratio * n.distance and back.get(m.trainIdx) == m.queryIdx
    ]
    if len(pairs) < 12:
        return empty
    p0 = np.float64([k0[i].pt for i, _ in pairs])
    p1 = np.float64([k1[j].pt for _, j in pairs])
    F, inl = cv2.findFundamentalMat(p0, p1, cv2.FM_RANSAC, 1.5, 0.999)
    if F is None or F.shape != (3, 3) or inl is None or inl.sum() < 20:
        return empty
    keep = inl.ravel().astype(bool)
    return Matches(p0[keep], p1[keep], F)


def line_distance(F: np.ndarray, uv0: np.ndarray, uv1: np.ndarray) -> np.ndarray:
    """(M,) distance in pixels of points ``uv1`` (M, 2) in image 1 to the line of ``uv0`` (2,)."""
    line = F @ np.array([uv0[0], uv0[1], 1.0])
    line /= np.hypot(line[0], line[1]) + 1e-12
    return np.abs(np.atleast_2d(uv1) @ line[:2] + line[2])


def intersect_lines(l0: np.ndarray, l1: np.ndarray) -> np.ndarray | None:
    """Intersection (u, v) of two homogeneous image lines, None when nearly parallel."""
    p = np.cross(l0, l1)
    if abs(p[2]) < 1e-9 * (abs(p[0]) + abs(p[1]) + 1):
        return None
    return p[:2] / p[2]


def hue_hist(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Normalised hue-saturation histogram of the pixels in ``mask``."""
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    h = cv2.calcHist([hsv], [0, 1], mask.astype(np.uint8), [18, 8], [0, 180, 0, 256])
    return cv2.normalize(h, h).flatten()
