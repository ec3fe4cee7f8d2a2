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

from crossview.classical.cache import Codec

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


DETECTOR_PARAMS = {
    "sift": {"nfeatures": 3000, "contrastThreshold": 0.005},
    "orb": {"nfeatures": 3000, "fastThreshold": 5},
}
"""The detectors' settings (OpenCV defaults otherwise); part of the result cache's key."""

_SIFT = None
_ORB = None


def _detectors() -> tuple[cv2.SIFT, cv2.ORB]:
    global _SIFT, _ORB
    if _SIFT is None:
        _SIFT = cv2.SIFT_create(**DETECTOR_PARAMS["sift"])
        _ORB = cv2.ORB_create(**DETECTOR_PARAMS["orb"])
    return _SIFT, _ORB  # type: ignore[return-value]


def _desc_out(desc: np.ndarray | None) -> np.ndarray:
    """Descriptors for an ``.npz`` file: SIFT's whole-number floats as uint8 (exact)."""
    if desc is None:
        return np.zeros((0, 0), np.float32)
    small = desc.dtype == np.float32 and desc.size and desc.min() >= 0 and desc.max() <= 255
    if small and np.array_equal(desc, np.rint(desc)):
        return desc.astype(np.uint8)
    return desc


def _keypoints_to_arrays(k: Keypoints) -> dict[str, np.ndarray]:
    desc = k.desc
    return {
        "pts": k.pts,
        "desc": _desc_out(desc),
        "desc_float": np.array(desc is not None and desc.dtype == np.float32),
        "desc_none": np.array(desc is None),
        "sizes": k.sizes,
    }


def _keypoints_from_arrays(z: dict[str, np.ndarray]) -> Keypoints:
    desc = None if bool(z["desc_none"]) else z["desc"]
    if desc is not None and bool(z["desc_float"]):
        desc = desc.astype(np.float32)
    return Keypoints(z["pts"], desc, z["sizes"])


def _two_view_to_arrays(t: TwoView) -> dict[str, np.ndarray]:
    F = np.zeros((0,)) if t.F is None else t.F
    return {"pts_a": t.pts_a, "pts_b": t.pts_b, "F": F, "inliers": t.inliers}


def _two_view_from_arrays(z: dict[str, np.ndarray]) -> TwoView:
    F = None if z["F"].size == 0 else z["F"]
    return TwoView(z["pts_a"], z["pts_b"], F, z["inliers"])


@dataclass
class Keypoints:
    """One detector's output: points (N, 2) in image pixels, descriptors (N, D) or None, and
    each keypoint's diameter (N,) in image pixels."""

    pts: np.ndarray
    desc: np.ndarray | None
    sizes: np.ndarray


DETECTORS = ("sift", "orb")


def detect_with(image: np.ndarray, exclude: np.ndarray | None, detector: str) -> Keypoints:
    """Keypoints of one detector (``sift`` or ``orb``) on an RGB image, none inside
    ``exclude`` (bool (H, W)); the image is upsampled by :data:`UPSCALE` first."""
    sift, orb = _detectors()
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    big = cv2.resize(grey, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC)
    mask = None
    if exclude is not None:
        keep = (~exclude).astype(np.uint8) * 255
        mask = cv2.resize(keep, (big.shape[1], big.shape[0]), interpolation=cv2.INTER_NEAREST)
    kps, desc = (sift if detector == "sift" else orb).detectAndCompute(big, mask)
    # a pixel centre at integer u maps to UPSCALE * u + (UPSCALE - 1) / 2 when upsampled
    pts = np.float32([k.pt for k in kps]).reshape(-1, 2)
    pts = (pts - (UPSCALE - 1) / 2) / UPSCALE
    return Keypoints(pts, desc, np.float32([k.size for k in kps]) / UPSCALE)


def combine(sift: Keypoints, orb: Keypoints) -> Features:
    """The :class:`Features` of an image from its SIFT and ORB keypoints."""
    return Features(sift.pts, sift.desc, orb.pts, orb.desc, sift.sizes)


def detect(image: np.ndarray, exclude: np.ndarray | None = None) -> Features:
    """SIFT and ORB features of an RGB image, none inside ``exclude`` (bool (H, W))."""
    return combine(detect_with(image, exclude, "sift"), detect_with(image, exclude, "orb"))


def _distances(da: np.ndarray, db: np.ndarray, norm: int) -> np.ndarray | None:
    """All descriptor distances, (Na, Nb) float32, exactly as ``cv2.BFMatcher`` computes
    them; None when they cannot be had exactly this way.

    One matrix product serves both matching directions. It is exact, not approximate: SIFT
    descriptors are whole numbers (OpenCV rounds them) whose squared norms stay far below
    2^24, so every partial sum of ``|a|^2 + |b|^2 - 2 a.b`` is an integer float32 holds
    exactly, and the square root is IEEE-rounded as in OpenCV; Hamming distances are the same
    identity on the descriptors' bits. Non-integral float descriptors return None.
    """
    if norm == cv2.NORM_HAMMING:
        a = np.unpackbits(da, axis=1).astype(np.float32)
        b = np.unpackbits(db, axis=1).astype(np.float32)
        return a.sum(1)[:, None] + b.sum(1)[None, :] - 2.0 * (a @ b.T)
    a, b = np.asarray(da, np.float32), np.asarray(db, np.float32)
    if not (np.array_equal(a, np.rint(a)) and np.array_equal(b, np.rint(b))):
        return None
    na, nb = (a * a).sum(1), (b * b).sum(1)
    if max(float(na.max()), float(nb.max())) * 4 >= 2.0**24:
        return None
    sq = na[:, None] + nb[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.maximum(sq, 0.0, dtype=np.float32))


def _two_nearest(d: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row (axis 1) or column (axis 0): the nearest index (the first on ties, as OpenCV's
    k-nearest search keeps it), its distance and the second-nearest distance."""
    first = np.argmin(d, axis=axis)
    other = np.arange(d.shape[1 - axis])
    at = (other, first) if axis == 1 else (first, other)
    d1 = d[at].copy()
    d[at] = np.inf
    d2 = d.min(axis=axis)
    d[at] = d1
    return first, d1, d2


def _mutual(da: np.ndarray | None, db: np.ndarray | None, norm: int) -> list[tuple[int, int]]:
    """Mutual nearest neighbours passing Lowe's ratio test both ways, ``(index in a, index
    in b)`` in order of a: the same pairs as ``cv2.BFMatcher(norm).knnMatch(k=2)`` both ways."""
    if da is None or db is None or len(da) < 2 or len(db) < 2:
        return []
    d = _distances(da, db, norm)
    if d is None:
        return _mutual_knn(da, db, norm)
    ab, d1, d2 = _two_nearest(d, 1)
    ba, e1, e2 = _two_nearest(d, 0)
    good_ab = d1.astype(float) < RATIO * d2.astype(float)
    good_ba = e1.astype(float) < RATIO * e2.astype(float)
    q = np.nonzero(good_ab & good_ba[ab] & (ba[ab] == np.arange(len(da))))[0]
    return [(int(i), int(ab[i])) for i in q]


def _mutual_knn(da: np.ndarray, db: np.ndarray, norm: int) -> list[tuple[int, int]]:
    """:func:`_mutual` through OpenCV's brute-force matcher (descriptors it cannot do exactly)."""
    bf = cv2.BFMatcher(norm)

    def good(ms: list) -> dict[int, int]:
        return {
            m[0].queryIdx: m[0].trainIdx
            for m in ms
            if len(m) == 2 and m[0].distance < RATIO * m[1].distance
        }

    g1, g2 = good(bf.knnMatch(da, db, k=2)), good(bf.knnMatch(db, da, k=2))
    return [(q, t) for q, t in g1.items() if g2.get(t) == q]


def match(fa: Features, fb: Features) -> tuple[np.ndarray, np.ndarray]:
    """Mutual ratio-test matches between two feature sets: points (N, 2) in a and in b."""
    pa, pb = [], []
    for pts_a, da, pts_b, db, norm in (
        (fa.sift_pts, fa.sift_desc, fb.sift_pts, fb.sift_desc, cv2.NORM_L2),
        (fa.orb_pts, fa.orb_desc, fb.orb_pts, fb.orb_desc, cv2.NORM_HAMMING),
    ):
        pairs = _mutual(da, db, norm)
        if pairs:
            q, t = np.array(pairs).T
            pa.append(pts_a[q])
            pb.append(pts_b[t])
    if not pa:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    return np.float32(np.concatenate(pa)), np.float32(np.concatenate(pb))


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


KEYPOINTS_CODEC = Codec(_keypoints_to_arrays, _keypoints_from_arrays)
"""How :class:`Keypoints` are stored in the result cache's folder."""
TWO_VIEW_CODEC = Codec(_two_view_to_arrays, _two_view_from_arrays)
"""How :class:`TwoView` results are stored in the result cache's folder."""
