"""What the classical handlers share: the handler registry, the per-query :class:`Solver`
(cached features, matches and planes), the margin rule :func:`pick`, and the helpers that find
an object named by its overlay colour (mask, pixels, descriptor, scores against candidates).

The handler modules (:mod:`~crossview.classical.solver`, :mod:`~crossview.classical.objects`,
:mod:`~crossview.classical.layout`) import from here and register into :data:`HANDLERS`.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from crossview.classical import detect as det
from crossview.classical import features as ft
from crossview.classical.cache import MASK_CODEC, ResultCache, derived_key, image_key, shared
from crossview.classical.query import Answer, Query, no_answer
from crossview.render.markers import marker_radius

Handler = Callable[["Solver", Query], Answer]


HANDLERS: dict[str, Handler] = {}


def handles(*types: str) -> Callable[[Handler], Handler]:
    """Register a handler for question types."""

    def deco(fn: Handler) -> Handler:
        for t in types:
            HANDLERS[t] = fn
        return fn

    return deco


class Solver:
    """Answers one query. Per-image and per-pair work goes through the process's
    content-keyed :mod:`~crossview.classical.cache` (shared by queries that show the same
    pixels); the rest is memoised per query in :attr:`cache`."""

    def __init__(self, q: Query, store: ResultCache | None = None) -> None:
        self.q = q
        self.store = store if store is not None else shared()
        self._tv: dict[tuple[int, int], ft.TwoView] = {}
        self._image_keys: dict[int, str] = {}
        self._colors: tuple[str, ...] | None = None
        self.cache: dict[tuple, object] = {}
        """Per-query memo for handlers (masks, colour-space images)."""

    # -- shared machinery -----------------------------------------------------------------
    def image_key(self, k: int) -> str:
        """Content digest of image k (:func:`~crossview.classical.cache.image_key`)."""
        if k not in self._image_keys:
            self._image_keys[k] = image_key(self.q.images[k])
        return self._image_keys[k]

    def _marked(self) -> tuple[str, ...]:
        """Palette colours named anywhere in the prompt (the markers to look for)."""
        if self._colors is None:
            self._colors = tuple(self.q.colors_in(self.q.text))
        return self._colors

    def _features_key(self, k: int) -> str:
        return derived_key("features", self.image_key(k), self._marked())

    def exclude(self, k: int) -> np.ndarray:
        """Drawn-marker pixels of image k (colours named anywhere in the prompt)."""
        key = derived_key("markers", self.image_key(k), self._marked())
        img, colors = self.q.images[k], list(self._marked())
        return self.store.get("markers", key, lambda: det.marker_pixels(img, colors), MASK_CODEC)

    def keypoints(self, k: int, detector: str) -> ft.Keypoints:
        """One detector's keypoints of image k, off the drawn markers."""
        return self.store.get(
            detector,
            derived_key(detector, self.image_key(k), self._marked()),
            lambda: ft.detect_with(self.q.images[k], self.exclude(k), detector),
            ft.KEYPOINTS_CODEC,
        )

    def features(self, k: int) -> ft.Features:
        """Local features of image k, off the drawn markers."""
        return ft.combine(self.keypoints(k, "sift"), self.keypoints(k, "orb"))

    def pair(self, a: int, b: int) -> ft.TwoView:
        """Matches and fundamental matrix from image a to image b."""
        if (a, b) not in self._tv:
            if (b, a) in self._tv:
                o = self._tv[(b, a)]
                F = None if o.F is None else o.F.T
                self._tv[(a, b)] = ft.TwoView(o.pts_b, o.pts_a, F, o.inliers)
            else:
                key = derived_key("pair", self._features_key(a), self._features_key(b))
                self._tv[(a, b)] = self.store.get(
                    "pair",
                    key,
                    lambda: ft.two_view(self.features(a), self.features(b)),
                    ft.TWO_VIEW_CODEC,
                )
        return self._tv[(a, b)]

    def plane(self, a: int, b: int) -> np.ndarray | None:
        """The table-plane homography from image a to image b, or None when not trusted.

        The dominant plane of the matches: the table top carries most of the features.
        """
        key = ("plane", a, b)
        if key not in self.cache:
            H, n = ft.homography(self.pair(a, b))
            self.cache[key] = H if H is not None and n >= ft.MIN_PLANE_INLIERS else None
        return self.cache[key]  # type: ignore[return-value]

    def blobs(self, k: int) -> dict[str, list[np.ndarray]]:
        """Saturated colour regions of image k per hue class (the coloured objects)."""
        img = self.q.images[k]
        return self.store.get(
            "blobs", derived_key("blobs", self.image_key(k)), lambda: det.color_blobs(img)
        )

    def textureless(self) -> bool:
        """True when the images carry too few local features (SIFT and ORB) to match at all.

        ORB's count alone usually settles it, so SIFT is run only on images a handler matches.
        """
        n = len(self.q.images)
        orb = sum(len(self.keypoints(k, "orb").pts) for k in range(n))
        if orb >= 8 * n:
            return False
        return orb + sum(len(self.keypoints(k, "sift").pts) for k in range(n)) < 8 * n

    def radius(self) -> float:
        """Marker radius of these images."""
        w, h = self.q.size
        return marker_radius(w, h)

    def local_transfer(self, a: int, b: int, uv: tuple[float, float]) -> tuple[float, float] | None:
        """Transfer a point from a to b with an affine fitted to the inlier matches around it."""
        tv = self.pair(a, b)
        if not tv.trusted:
            return None
        pa, pb = tv.pts_a[tv.inliers], tv.pts_b[tv.inliers]
        d = np.hypot(pa[:, 0] - uv[0], pa[:, 1] - uv[1])
        near = np.argsort(d)[:8]
        near = near[d[near] < 0.25 * max(self.q.size)]
        if len(near) < 4:
            return None
        A, inl = cv2.estimateAffine2D(pa[near], pb[near], ransacReprojThreshold=3.0)
        if A is None or int(inl.sum()) < 4:
            return None
        p = A @ np.array([uv[0], uv[1], 1.0])
        return float(p[0]), float(p[1])

    def annulus_color(self, k: int, uv: tuple[float, float]) -> np.ndarray | None:
        """Mean RGB of the scene just around a dot (outside its rings), or None."""
        img = self.q.images[k]
        h, w = img.shape[:2]
        r = self.radius()
        yy, xx = np.mgrid[0:h, 0:w]
        d = np.hypot(xx - uv[0], yy - uv[1])
        ring = (d > r + 3.5) & (d < r + 8) & ~self.exclude(k)
        if ring.sum() < 10:
            return None
        return img[ring].astype(float).mean(0)


def pick(scores: list[float | None], margin: float, letters: list[str], why: str) -> Answer:
    """Lowest score wins when it beats the runner-up by ``margin`` (ratio); else no answer."""
    valid = [(s, k) for k, s in enumerate(scores) if s is not None]
    if not valid:
        return no_answer(f"{why}: nothing to compare")
    valid.sort()
    best, k = valid[0]
    if len(valid) > 1:
        second = valid[1][0]
        if second < best * margin + 1e-9:
            return no_answer(f"{why}: the evidence does not separate the candidates")
    elif len(scores) > 1:
        return no_answer(f"{why}: only one candidate could be measured")
    return Answer(letter=letters[k])


def object_mask(s: Solver, k: int, color: str | None) -> np.ndarray | None:
    """The mask of the object named by ``color`` in image k: the region-protocol mask given
    under that name, else the overlay drawn in that colour (None when absent or tiny);
    found once per query (handlers ask for the same mask several times)."""
    if color is None or not 0 <= k < len(s.q.images):
        return None
    key = ("mask", k, color)
    if key not in s.cache:
        m = s.q.region_masks.get((k, color))
        if m is None:
            m = det.find_overlay(s.q.images[k], color)
        s.cache[key] = m if m.sum() >= 20 else None
    return s.cache[key]  # type: ignore[return-value]


def object_pixels(s: Solver, k: int, color: str, m: np.ndarray) -> np.ndarray:
    """The object's own RGB inside its mask, (N, 3) float: as drawn for a region-protocol mask,
    with the overlay's tint undone for an overlay."""
    if (k, color) in s.q.region_masks:
        return s.q.images[k][m].astype(float)
    return det.untint(s.q.images[k], m, color)


def object_descriptor(s: Solver, k: int, color: str, m: np.ndarray) -> np.ndarray:
    """Appearance of a masked object: mean Lab and a coarse hue/value histogram (untinted)."""
    px = object_pixels(s, k, color, m).astype(np.uint8).reshape(-1, 1, 3)
    lab = cv2.cvtColor(px, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(float)
    hsv = cv2.cvtColor(px, cv2.COLOR_RGB2HSV).reshape(-1, 3)
    hist, _, _ = np.histogram2d(hsv[:, 0], hsv[:, 2], bins=(12, 4), range=((0, 180), (0, 256)))
    hist = hist.ravel() / max(hist.sum(), 1)
    return np.concatenate([np.median(lab, 0) / 25.0, hist * 4])


def mask_centroid(m: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(m)
    return float(xs.mean()), float(ys.mean())


def object_terms(
    s: Solver, qv: int, qc: str, cv: int, cands: list[str | None]
) -> list[tuple[float, float | None, float | None] | None]:
    """Per candidate overlay in image ``cv``, how it differs from the query in image ``qv``:
    ``(appearance, epipolar, plane)``. Appearance is the L1 distance of the descriptors;
    epipolar the distance of the candidate's centroid from the query centroid's epipolar line,
    plane that of its foot from the query's foot carried over the table, both in candidate
    sizes (its larger mask extent) and None without trusted geometry. None for a candidate
    (or every candidate) whose overlay was not found."""
    qm = object_mask(s, qv, qc)
    if qm is None:
        return [None] * len(cands)
    qd = object_descriptor(s, qv, qc, qm)
    tv = s.pair(qv, cv) if not s.textureless() else None
    line = ft.epiline(tv.F, mask_centroid(qm)) if tv is not None and tv.trusted else None
    H = s.plane(qv, cv) if tv is not None else None
    qf = ft.foot(qm)
    placed = None if H is None or qf is None else ft.transfer(H, qf)
    out: list[tuple[float, float | None, float | None] | None] = []
    for c in cands:
        m = object_mask(s, cv, c)
        if m is None or c is None:
            out.append(None)
            continue
        app = float(np.abs(object_descriptor(s, cv, c, m) - qd).sum())
        ys, xs = np.nonzero(m)
        size = max(float(np.ptp(xs)), float(np.ptp(ys)), 4.0)
        epi = None if line is None else ft.line_distance(line, mask_centroid(m)) / size
        cf = ft.foot(m)
        plane = None
        if placed is not None and cf is not None:
            plane = float(np.hypot(cf[0] - placed[0], cf[1] - placed[1])) / size
        out.append((app, epi, plane))
    return out


def object_scores(
    s: Solver, qv: int, qc: str, cv: int, cands: list[str | None]
) -> tuple[list[float | None], str]:
    """Dissimilarity of each candidate overlay in image ``cv`` to the query in image ``qv``:
    appearance plus the epipolar and plane terms, each capped at 3 (:func:`object_terms`)."""
    scores: list[float | None] = []
    for t in object_terms(s, qv, qc, cv, cands):
        if t is None:
            scores.append(None)
            continue
        app, epi, plane = t
        scores.append(app + sum(min(x, 3.0) for x in (epi, plane) if x is not None))
    if object_mask(s, qv, qc) is None:
        return scores, "the query object's overlay was not found"
    return scores, "appearance inside the masks, epipolar line and table-plane position"


def first_outlined(q: Query) -> str | None:
    cs = q.outlined()
    return cs[0] if cs else None


def yes_no(q: Query, yes: bool) -> Answer:
    for k, o in enumerate(q.options):
        if o.lower().startswith("yes" if yes else "no"):
            return Answer(letter=q.letters[k])
    return no_answer("the options are not yes and no")


def pair_in_image2(s: Solver, q: Query) -> tuple[np.ndarray, np.ndarray] | Answer:
    """Masks in Image 2 of the two objects a Q13 / Q15 question names (its 3rd and 4th marks),
    or the no-answer saying why they cannot be read."""
    cs = q.outlined()
    if len(cs) < 4:
        return no_answer("the objects are not named in both images")
    m1, m2 = object_mask(s, 1, cs[2]), object_mask(s, 1, cs[3])
    if m1 is None or m2 is None:
        return no_answer("an overlay was not found")
    return m1, m2


def image_number(option: str, n: int) -> int | None:
    """The 0-based image an option names ("Image 3" -> 2), None unless it is one of ``n``."""
    nums = [int(t) for t in option.replace(".", " ").split() if t.isdigit()]
    return nums[0] - 1 if nums and 1 <= nums[0] <= n else None
