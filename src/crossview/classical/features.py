"""Local features, matching and robust two-view geometry, from pixels alone.

Features are SIFT and ORB keypoints on the grey image upsampled 2x (the simulator's 320x240
images with flat-coloured objects give too few keypoints at their own size), kept off drawn
markers. Matching is brute force with Lowe's ratio test and a mutual (cross) check, per
descriptor type; the two sets are pooled. The fundamental matrix comes from
``cv2.findFundamentalMat`` with USAC MAGSAC, the homography from ``cv2.findHomography`` with
USAC MAGSAC; a model is *trusted* only with enough inliers (:data:`MIN_INLIERS`), otherwise
the solver says it cannot decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

UPSCALE = 2.0
RATIO = 0.85
MIN_INLIERS = 18
"""Inliers needed before a fundamental matrix is trusted (fewer: RANSAC can fit noise)."""
MIN_MATCHES = 10
MIN_PLANE_INLIERS = 12
"""Inliers needed before a homography of the table plane is trusted."""
EPI_THRESH = 1.5


@dataclass
class Features:
    """Keypoints (N, 2) in image pixels and their descriptors, per detector; ``sift_sizes``
    (N,) is each SIFT keypoint's diameter in image pixels."""

    sift_pts: np.ndarray
    sift_desc: np.ndarray | None
    orb_pts: np.ndarray
    orb_desc: np.ndarray | None
    sift_sizes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    @property
    def count(self) -> int:
        """Number of keypoints of both detectors."""
        return len(self.sift_pts) + len(self.orb_pts)


@dataclass
class TwoView:
    """Robust geometry between image a and image b.

    Attributes:
        pts_a: matched points in a (N, 2) (all mutual ratio-test matches).
        pts_b: the corresponding points in b.
        F: fundamental matrix (x_b^T F x_a = 0) or None.
        inliers: bool (N,) inlier flags of F (all False without F).
    """

    pts_a: np.ndarray
    pts_b: np.ndarray
    F: np.ndarray | None
    inliers: np.ndarray

    @property
    def n_inliers(self) -> int:
        """How many matches agree with F."""
        return int(self.inliers.sum())

    @property
    def trusted(self) -> bool:
        """F exists and has enough inliers to be believed."""
        return self.F is not None and self.n_inliers >= MIN_INLIERS


_SIFT = None
_ORB = None


def _detectors() -> tuple[cv2.SIFT, cv2.ORB]:
    global _SIFT, _ORB
    if _SIFT is None:
        _SIFT = cv2.SIFT_create(nfeatures=3000, contrastThreshold=0.005)
        _ORB = cv2.ORB_create(3000, fastThreshold=5)
    return _SIFT, _ORB  # type: ignore[return-value]


def detect(image: np.ndarray, exclude: np.ndarray | None = None) -> Features:
    """SIFT and ORB features of an RGB image, none inside ``exclude`` (bool (H, W))."""
    sift, orb = _detectors()
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    big = cv2.resize(grey, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC)
    mask = None
    if exclude is not None:
        keep = (~exclude).astype(np.uint8) * 255
        mask = cv2.resize(keep, (big.shape[1], big.shape[0]), interpolation=cv2.INTER_NEAREST)
    out = []
    sizes = np.zeros(0, np.float32)
    for det in (sift, orb):
        kps, desc = det.detectAndCompute(big, mask)
        # a pixel centre at integer u maps to UPSCALE * u + (UPSCALE - 1) / 2 when upsampled
        pts = np.float32([k.pt for k in kps]).reshape(-1, 2)
        pts = (pts - (UPSCALE - 1) / 2) / UPSCALE
        out += [pts, desc]
        if det is sift:
            sizes = np.float32([k.size for k in kps]) / UPSCALE
    return Features(out[0], out[1], out[2], out[3], sizes)


def _mutual(da: np.ndarray | None, db: np.ndarray | None, norm: int) -> list[tuple[int, int]]:
    if da is None or db is None or len(da) < 2 or len(db) < 2:
        return []
    bf = cv2.BFMatcher(norm)
    ab = bf.knnMatch(da, db, k=2)
    ba = bf.knnMatch(db, da, k=2)

    def good(ms: list) -> dict[int, int]:
        return {
            m[0].queryIdx: m[0].trainIdx
            for m in ms
            if len(m) == 2 and m[0].distance < RATIO * m[1].distance
        }

    g1, g2 = good(ab), good(ba)
    return [(q, t) for q, t in g1.items() if g2.get(t) == q]


def match(fa: Features, fb: Features) -> tuple[np.ndarray, np.ndarray]:
    """Mutual ratio-test matches between two feature sets: points (N, 2) in a and in b."""
    pa, pb = [], []
    for pts_a, da, pts_b, db, norm in (
        (fa.sift_pts, fa.sift_desc, fb.sift_pts, fb.sift_desc, cv2.NORM_L2),
        (fa.orb_pts, fa.orb_desc, fb.orb_pts, fb.orb_desc, cv2.NORM_HAMMING),
    ):
        for q, t in _mutual(da, db, norm):
            pa.append(pts_a[q])
            pb.append(pts_b[t])
    if not pa:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    return np.float32(pa), np.float32(pb)


def two_view(fa: Features, fb: Features) -> TwoView:
    """Match two images and fit a fundamental matrix with USAC MAGSAC (None if too few)."""
    pa, pb = match(fa, fb)
    n = len(pa)
    F = None
    inl = np.zeros(n, bool)
    if n >= MIN_MATCHES:
        try:
            F_, m = cv2.findFundamentalMat(pa, pb, cv2.USAC_MAGSAC, EPI_THRESH, 0.999, 10000)
        except cv2.error:
            F_, m = None, None
        if F_ is not None and F_.shape == (3, 3) and m is not None:
            F = F_.astype(float)
            inl = m.ravel().astype(bool)
    return TwoView(pa, pb, F, inl)


def epiline(F: np.ndarray, uv: tuple[float, float]) -> np.ndarray:
    """The epipolar line in b of a point of a, normalised so that (a, b) is a unit normal."""
    line = F @ np.array([uv[0], uv[1], 1.0])
    return line / max(float(np.hypot(line[0], line[1])), 1e-12)


def line_distance(line: np.ndarray, uv: tuple[float, float] | np.ndarray) -> float:
    """Distance in pixels from a point to a normalised line."""
    return abs(float(line[0] * uv[0] + line[1] * uv[1] + line[2]))


def intersect(l1: np.ndarray, l2: np.ndarray) -> tuple[float, float] | None:
    """Intersection of two lines, or None when they are (nearly) parallel."""
    p = np.cross(l1, l2)
    if abs(p[2]) < 1e-9:
        return None
    s = abs(float(l1[0] * l2[1] - l1[1] * l2[0]))  # sine of the angle between unit normals
    if s < 0.1:  # about 6 degrees: the intersection is ill-conditioned
        return None
    return float(p[0] / p[2]), float(p[1] / p[2])


def homography(tv: TwoView) -> tuple[np.ndarray | None, int]:
    """A homography a -> b fitted to the matches with USAC MAGSAC, and its inlier count."""
    if len(tv.pts_a) < MIN_MATCHES:
        return None, 0
    try:
        H, m = cv2.findHomography(tv.pts_a, tv.pts_b, cv2.USAC_MAGSAC, 3.0)
    except cv2.error:
        return None, 0
    if H is None or m is None:
        return None, 0
    return H, int(m.sum())


def transfer(H: np.ndarray, uv: tuple[float, float]) -> tuple[float, float] | None:
    """Map a pixel through a homography (None when it goes to infinity)."""
    p = H @ np.array([uv[0], uv[1], 1.0])
    if abs(p[2]) < 1e-9:
        return None
    return float(p[0] / p[2]), float(p[1] / p[2])


def area_scale(H: np.ndarray, uv: tuple[float, float]) -> float:
    """Local area magnification of a homography at ``uv`` (|det| of its Jacobian)."""
    x = np.array([uv[0], uv[1], 1.0])
    p = H @ x
    w = p[2]
    if abs(w) < 1e-9:
        return float("inf")
    J = (H[:2, :2] * w - np.outer(p[:2], H[2, :2])) / (w * w)
    return abs(float(np.linalg.det(J)))


def foot(m: np.ndarray) -> tuple[float, float] | None:
    """Bottom centre of a mask: where the object meets the table in the image, or None when
    the mask reaches the image's bottom edge (the foot is cut off)."""
    ys, xs = np.nonzero(m)
    if len(ys) == 0:
        return None
    bottom = int(ys.max())
    if bottom >= m.shape[0] - 2:
        return None
    low = ys >= bottom - max(2, int(0.1 * np.ptp(ys)))
    return float(np.median(xs[low])), float(bottom)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Global image similarity in [-1, 1]: correlation of blurred, downsampled grey images."""
    ga = cv2.resize(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), (64, 48), interpolation=cv2.INTER_AREA)
    gb = cv2.resize(cv2.cvtColor(b, cv2.COLOR_RGB2GRAY), (64, 48), interpolation=cv2.INTER_AREA)
    va = ga.astype(float).ravel() - ga.mean()
    vb = gb.astype(float).ravel() - gb.mean()
    den = float(np.linalg.norm(va) * np.linalg.norm(vb))
    return float(va @ vb / den) if den > 0 else 0.0


def relative_pose(
    tv: TwoView, size: tuple[int, int], fov_deg: float = 60.0
) -> tuple[np.ndarray, np.ndarray] | None:
    """Relative rotation and translation direction (a -> b) from the inlier matches.

    The intrinsics are unknown: a pinhole with the principal point at the image centre and a
    horizontal field of view of ``fov_deg`` is *assumed*. Returns ``(R, t)`` with
    ``x_b = R x_a + t`` (t a unit vector), or None when F is not trusted.
    """
    if not tv.trusted:
        return None
    w, h = size
    f = 0.5 * w / np.tan(np.radians(fov_deg) / 2)
    K = np.array([[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1.0]])
    pa, pb = tv.pts_a[tv.inliers], tv.pts_b[tv.inliers]
    try:
        E, m = cv2.findEssentialMat(pa, pb, K, cv2.RANSAC, 0.999, 1.5)
        if E is None or E.shape != (3, 3):
            return None
        n, R, t, _ = cv2.recoverPose(E, pa, pb, K, mask=m)
    except cv2.error:
        return None
    if n < MIN_INLIERS // 2:
        return None
    return R, t.ravel()
