"""The classical solver: one handler per question type, answering from pixels and text only.

Every handler returns an :class:`~crossview.classical.query.Answer`; where the evidence does
not decide (too few matches, no trusted geometry, a margin too small) it returns no answer with
a reason, never a guess. See docs/classical.md for what each handler does.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

import cv2
import numpy as np

from crossview.classical import detect as det
from crossview.classical import features as ft
from crossview.classical.cache import MASK_CODEC, ResultCache, derived_key, image_key, shared
from crossview.classical.query import Answer, Query, no_answer, outlined_by_image
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
        from crossview.classical.objects import color_blobs

        img = self.q.images[k]
        return self.store.get(
            "blobs", derived_key("blobs", self.image_key(k)), lambda: color_blobs(img)
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


def solve(q: Query) -> Answer:
    """Answer a query, or abstain with a reason."""
    if q.qtype is None:
        return no_answer("the question type is not recognised")
    fn = HANDLERS.get(q.qtype)
    if fn is None:
        return no_answer(f"no classical method for this question type ({q.qtype})")
    s = Solver(q)
    try:
        return fn(s, q)
    except (cv2.error, ValueError, IndexError, np.linalg.LinAlgError) as exc:
        return no_answer(f"the geometry failed ({type(exc).__name__})")


def _pick(scores: list[float | None], margin: float, letters: list[str], why: str) -> Answer:
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


# -------------------------------------------------------------------------------------------
# Points: XVR point correspondence, CrossPoint correspondence judgement / pointing


def _dots_of(s: Solver, k: int, colors: list[str | None]) -> list[tuple[float, float] | None]:
    out: list[tuple[float, float] | None] = []
    for c in colors:
        d = det.best_dot(s.q.images[k], c) if c else None
        out.append(d.uv if d else None)
    return out


def _reference_color(q: Query) -> str | None:
    opts = set(c for c in q.option_colors() if c)
    for c in q.colors_in(q.question):
        if c not in opts:
            return c
    return None


def _predict_point(
    s: Solver, refs: list[tuple[int, tuple[float, float]]], target: int
) -> tuple[list[np.ndarray], tuple[float, float] | None]:
    """Epipolar lines in the target of the reference points, and a point estimate."""
    lines = []
    transfers = []
    for k, uv in refs:
        tv = s.pair(k, target)
        if tv.trusted:
            lines.append(ft.epiline(tv.F, uv))
            t = s.local_transfer(k, target, uv)
            if t is not None:
                transfers.append(t)
    point = None
    if len(lines) >= 2:
        point = ft.intersect(lines[0], lines[1])
    if point is None and transfers:
        point = tuple(np.median(np.array(transfers), axis=0))  # type: ignore[assignment]
    return lines, point


def _score_candidates(
    s: Solver,
    refs: list[tuple[int, tuple[float, float]]],
    target: int,
    cands: list[tuple[float, float] | None],
) -> tuple[list[float | None], str]:
    lines, point = _predict_point(s, refs, target)
    if not lines:
        return _appearance_scores(s, refs, target, cands), "appearance around the dots only"
    scale = 0.05 * max(s.q.size)
    scores: list[float | None] = []
    for c in cands:
        if c is None:
            scores.append(None)
            continue
        d = sum(ft.line_distance(line, c) for line in lines) / len(lines)
        if point is not None:
            d += 0.5 * float(np.hypot(c[0] - point[0], c[1] - point[1]))
        # appearance: the colour of the scene around the dot
        app = 0.0
        ca = s.annulus_color(target, c)
        ras = [s.annulus_color(k, uv) for k, uv in refs]
        ras = [r for r in ras if r is not None]
        if ca is not None and ras:
            app = min(float(np.abs(ca - r).mean()) for r in ras) / 255.0
        scores.append(d + scale * app * 2)
    return scores, "epipolar transfer of the marked point"


def _appearance_scores(
    s: Solver,
    refs: list[tuple[int, tuple[float, float]]],
    target: int,
    cands: list[tuple[float, float] | None],
) -> list[float | None]:
    """Colour difference between the scene around each candidate and around the references."""
    ras = [r for r in (s.annulus_color(k, uv) for k, uv in refs) if r is not None]
    out: list[float | None] = []
    for c in cands:
        ca = None if c is None or not ras else s.annulus_color(target, c)
        out.append(None if ca is None else min(float(np.abs(ca - r).mean()) for r in ras) + 4.0)
    return out


def _in_references(
    q: Query, target: int, find: Callable[[np.ndarray], tuple[float, float] | None]
) -> list[tuple[int, tuple[float, float]]]:
    """``(image, point)`` for every image before ``target`` in which ``find`` finds the mark."""
    out = []
    for k in range(target):
        uv = find(q.images[k])
        if uv is not None:
            out.append((k, uv))
    return out


def _uv(d: det.Dot | None) -> tuple[float, float] | None:
    return None if d is None else d.uv


def _head(a: det.Arrow | None) -> tuple[float, float] | None:
    return None if a is None else a.head


@handles("point_correspondence")
def point_correspondence(s: Solver, q: Query) -> Answer:
    """Transfer the reference dot into the target by epipolar lines; nearest coloured dot."""
    ref = _reference_color(q)
    if ref is None:
        return no_answer("the reference dot's colour is not named")
    target = len(q.images) - 1
    refs = _in_references(q, target, lambda img: _uv(det.best_dot(img, ref)))
    if not refs:
        return no_answer("the reference dots were not found")
    if s.textureless():
        return no_answer("the images carry no matchable texture")
    cands = _dots_of(s, target, q.option_colors())
    scores, why = _score_candidates(s, refs, target, cands)
    return _pick(scores, 1.3 if why.startswith("epipolar") else 2.0, q.letters, why)


@handles("Correspondence-Judgement")
def correspondence_judgement(s: Solver, q: Query) -> Answer:
    """As point correspondence, with one reference image (Image 1) and the target Image 2."""
    ref = _reference_color(q)
    if ref is None or len(q.images) < 2:
        return no_answer("the reference dot is not named")
    d = det.best_dot(q.images[0], ref)
    if d is None:
        return no_answer("the reference dot was not found")
    if s.textureless():
        return no_answer("the images carry no matchable texture")
    cands = _dots_of(s, 1, q.option_colors())
    scores, why = _score_candidates(s, [(0, d.uv)], 1, cands)
    return _pick(scores, 1.3 if why.startswith("epipolar") else 2.0, q.letters, why)


@handles("Correspondence-Pointing")
def correspondence_pointing(s: Solver, q: Query) -> Answer:
    """The reference dot's point transferred into Image 2 by local affine + epipolar line."""
    cs = q.colors_in(q.question)
    if not cs or len(q.images) < 2:
        return no_answer("the reference dot is not named")
    d = det.best_dot(q.images[0], cs[0])
    if d is None:
        return no_answer("the reference dot was not found")
    if s.textureless():
        return no_answer("the images carry no matchable texture")
    t = s.local_transfer(0, 1, d.uv)
    if t is None:
        return no_answer("too few trusted matches near the marked point")
    tv = s.pair(0, 1)
    line = ft.epiline(tv.F, d.uv)
    # project the transferred point onto the epipolar line
    dist = line[0] * t[0] + line[1] * t[1] + line[2]
    u, v = t[0] - dist * line[0], t[1] - dist * line[1]
    w, h = q.images[1].shape[1], q.images[1].shape[0]
    if not (0 <= u < w and 0 <= v < h):
        return no_answer("the transferred point leaves the image")
    return Answer(point=(float(u), float(v)), view=1)


@handles("directional_correspondence")
def directional_correspondence(s: Solver, q: Query) -> Answer:
    """Transfer the reference arrows' heads into the target by epipolar lines; the candidate
    arrow whose head lies on them wins (the target's arrows share one tail)."""
    ref = _reference_color(q)
    if ref is None:
        return no_answer("the reference arrow's colour is not named")
    target = len(q.images) - 1
    heads = _in_references(q, target, lambda img: _head(det.find_arrow(img, ref)))
    if not heads:
        return no_answer("the reference arrows were not found")
    if s.textureless():
        return no_answer("the images carry no matchable texture")
    lines, point = _predict_point(s, heads, target)
    if not lines:
        return no_answer("no trusted geometry between the reference images and the target")
    scores: list[float | None] = []
    for c in q.option_colors():
        a = det.find_arrow(q.images[target], c) if c else None
        if a is None:
            scores.append(None)
            continue
        d = sum(ft.line_distance(line, a.head) for line in lines) / len(lines)
        if point is not None:
            d += 0.5 * float(np.hypot(a.head[0] - point[0], a.head[1] - point[1]))
        scores.append(d + 1.0)
    return _pick(scores, 1.5, q.letters, "epipolar transfer of the arrow heads")


@handles("spatial_verification")
def spatial_verification(s: Solver, q: Query) -> Answer:
    """The image whose dot breaks the epipolar consistency of the others."""
    cs = q.colors_in(q.question)
    if not cs:
        return no_answer("the dot colour is not named")
    n = len(q.images)
    dots = [det.best_dot(q.images[k], cs[0]) for k in range(n)]
    if any(d is None for d in dots):
        return no_answer("a dot was not found in every image")
    if s.textureless():
        return no_answer("the images carry no matchable texture")
    err: dict[tuple[int, int], float] = {}
    for a, b in combinations(range(n), 2):
        tv = s.pair(a, b)
        if tv.trusted:
            la = ft.epiline(tv.F, dots[a].uv)  # type: ignore[union-attr]
            lb = ft.epiline(tv.F.T, dots[b].uv)  # type: ignore[union-attr]
            err[(a, b)] = 0.5 * (
                ft.line_distance(la, dots[b].uv) + ft.line_distance(lb, dots[a].uv)
            )  # type: ignore[union-attr]
    if len(err) < 2:
        return no_answer("too few image pairs with trusted geometry")
    scores: list[float | None] = []
    for k in range(n):
        inside = [e for (a, b), e in err.items() if k in (a, b)]
        outside = [e for (a, b), e in err.items() if k not in (a, b)]
        if not inside:
            scores.append(None)
            continue
        # the wrong image: its pairs disagree, the others agree
        out_med = float(np.median(outside)) if outside else 5.0
        scores.append(out_med - float(np.median(inside)))
    letters = q.letters
    opts = q.options
    # options are "Image k": map images to letters
    img_scores: list[float | None] = []
    for o in opts:
        k = _image_number(o, n)
        img_scores.append(None if k is None else scores[k])
    return _pick_max_gap(img_scores, letters, "epipolar consistency of the dots")


def _pick_max_gap(scores: list[float | None], letters: list[str], why: str) -> Answer:
    valid = sorted((sc, k) for k, sc in enumerate(scores) if sc is not None)
    if len(valid) < 2:
        return no_answer(f"{why}: too few candidates could be measured")
    best, k = valid[0]
    if valid[1][0] - best < 4.0:
        return no_answer(f"{why}: the evidence does not separate the candidates")
    return Answer(letter=letters[k])


# -------------------------------------------------------------------------------------------
# Objects under the overlay protocol: masks found from their named overlay colours


def _mask(s: Solver, k: int, color: str | None) -> np.ndarray | None:
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


def _descriptor(s: Solver, k: int, color: str, m: np.ndarray) -> np.ndarray:
    """Appearance of a masked object: mean Lab and a coarse hue/value histogram (untinted)."""
    px = object_pixels(s, k, color, m).astype(np.uint8).reshape(-1, 1, 3)
    lab = cv2.cvtColor(px, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(float)
    hsv = cv2.cvtColor(px, cv2.COLOR_RGB2HSV).reshape(-1, 3)
    hist, _, _ = np.histogram2d(hsv[:, 0], hsv[:, 2], bins=(12, 4), range=((0, 180), (0, 256)))
    hist = hist.ravel() / max(hist.sum(), 1)
    return np.concatenate([np.median(lab, 0) / 25.0, hist * 4])


def _centroid(m: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(m)
    return float(xs.mean()), float(ys.mean())


def _object_terms(
    s: Solver, qv: int, qc: str, cv: int, cands: list[str | None]
) -> list[tuple[float, float | None, float | None] | None]:
    """Per candidate overlay in image ``cv``, how it differs from the query in image ``qv``:
    ``(appearance, epipolar, plane)``. Appearance is the L1 distance of the descriptors;
    epipolar the distance of the candidate's centroid from the query centroid's epipolar line,
    plane that of its foot from the query's foot carried over the table, both in candidate
    sizes (its larger mask extent) and None without trusted geometry. None for a candidate
    (or every candidate) whose overlay was not found."""
    qm = _mask(s, qv, qc)
    if qm is None:
        return [None] * len(cands)
    qd = _descriptor(s, qv, qc, qm)
    tv = s.pair(qv, cv) if not s.textureless() else None
    line = ft.epiline(tv.F, _centroid(qm)) if tv is not None and tv.trusted else None
    H = s.plane(qv, cv) if tv is not None else None
    qf = ft.foot(qm)
    placed = None if H is None or qf is None else ft.transfer(H, qf)
    out: list[tuple[float, float | None, float | None] | None] = []
    for c in cands:
        m = _mask(s, cv, c)
        if m is None or c is None:
            out.append(None)
            continue
        app = float(np.abs(_descriptor(s, cv, c, m) - qd).sum())
        ys, xs = np.nonzero(m)
        size = max(float(np.ptp(xs)), float(np.ptp(ys)), 4.0)
        epi = None if line is None else ft.line_distance(line, _centroid(m)) / size
        cf = ft.foot(m)
        plane = None
        if placed is not None and cf is not None:
            plane = float(np.hypot(cf[0] - placed[0], cf[1] - placed[1])) / size
        out.append((app, epi, plane))
    return out


def _object_scores(
    s: Solver, qv: int, qc: str, cv: int, cands: list[str | None]
) -> tuple[list[float | None], str]:
    """Dissimilarity of each candidate overlay in image ``cv`` to the query in image ``qv``:
    appearance plus the epipolar and plane terms, each capped at 3 (:func:`_object_terms`)."""
    scores: list[float | None] = []
    for t in _object_terms(s, qv, qc, cv, cands):
        if t is None:
            scores.append(None)
            continue
        app, epi, plane = t
        scores.append(app + sum(min(x, 3.0) for x in (epi, plane) if x is not None))
    if _mask(s, qv, qc) is None:
        return scores, "the query object's overlay was not found"
    return scores, "appearance inside the masks, epipolar line and table-plane position"


def _first_outlined(q: Query) -> str | None:
    cs = q.outlined()
    return cs[0] if cs else None


@handles("Q1", "Q2")
def object_retrieval(s: Solver, q: Query) -> Answer:
    """The candidate in Image 2 most like the query of Image 1 (appearance + epipolar line)."""
    qc = _first_outlined(q)
    scores, why = _object_scores(s, 0, qc or "", 1, q.option_colors()) if qc else ([], "")
    if qc is None:
        return no_answer("the query object is not named")
    return _pick(scores, 1.25, q.letters, why)


@handles("Q3")
def one_of_three(s: Solver, q: Query) -> Answer:
    """Which of the objects in Image 1 is the query of Image 2."""
    qc = _first_outlined(q)
    if qc is None:
        return no_answer("the query object is not named")
    scores, why = _object_scores(s, 1, qc, 0, q.option_colors())
    return _pick(scores, 1.25, q.letters, why)


@handles("Q5")
def instance_verification(s: Solver, q: Query) -> Answer:
    """Same instance or not: first from geometry, then from appearance.

    Where the table plane is trusted, the query's foot carried into Image 2 lands within
    0.75 object sizes of the candidate's foot for the same object (and its centroid near the
    epipolar line), and more than 1.5 sizes away for another; a centroid more than 2 sizes off
    the epipolar line is another object. Otherwise the summed cost of :func:`_object_scores`
    decides: below 1.6 the same, above 11.5 another, else no answer.
    """
    by_image = outlined_by_image(q.question)
    if not by_image.get(0) or not by_image.get(1):
        return no_answer("the two objects are not named with their images")
    qc, cc = by_image[0][0], by_image[1][0]
    terms = _object_terms(s, 0, qc, 1, [cc])[0]
    if terms is None:
        return no_answer("an overlay was not found")
    if not any(o.lower().startswith("yes") for o in q.options):
        return no_answer("the options are not yes and no")
    app, epi, plane = terms
    if plane is not None and plane < 0.75 and (epi is None or epi < 1.0):
        return _yes_no(q, True)
    if (plane is not None and plane > 1.5) or (epi is not None and epi > 2.0):
        return _yes_no(q, False)
    d = app + sum(min(x, 3.0) for x in (epi, plane) if x is not None)
    if d < 1.6:
        return _yes_no(q, True)
    if d > 11.5:
        return _yes_no(q, False)
    return no_answer("appearance and geometry are between same and different")


def _area(m: np.ndarray | None) -> float | None:
    return None if m is None else float(m.sum())


@handles("Q10")
def scale_change(s: Solver, q: Query) -> Answer:
    """Larger / smaller / about the same from the mask areas in the two images."""
    c = _first_outlined(q)
    cs = q.outlined()
    c2 = cs[1] if len(cs) > 1 else c
    a1, a2 = _area(_mask(s, 0, c)), _area(_mask(s, 1, c2))
    if not a1 or not a2:
        return no_answer("an overlay was not found")
    r = a2 / a1
    want = (
        "larger" if r >= 1.3 else "smaller" if r <= 1 / 1.3 else "same" if 0.9 <= r <= 1.1 else None
    )
    if want is None:
        return no_answer("the area ratio is inside the dead band")
    for k, o in enumerate(q.options):
        if want in o.lower():
            return Answer(letter=q.letters[k])
    return no_answer("no option says the measured size change")


@handles("Q16")
def scale_growth(s: Solver, q: Query) -> Answer:
    """The object whose mask area grows most from Image 1 to Image 2."""
    ratios: list[float | None] = []
    for c in q.option_colors():
        a1, a2 = _area(_mask(s, 0, c)), _area(_mask(s, 1, c))
        ratios.append(None if not a1 or not a2 else -a2 / a1)
    valid = sorted(r for r in ratios if r is not None)
    if len(valid) < 2 or valid[0] > valid[1] * 1.1:  # negatives: best must be 1.1x the next
        return no_answer("the area ratios do not separate the objects")
    return Answer(letter=q.letters[ratios.index(valid[0])])


def _yes_no(q: Query, yes: bool) -> Answer:
    for k, o in enumerate(q.options):
        if o.lower().startswith("yes" if yes else "no"):
            return Answer(letter=q.letters[k])
    return no_answer("the options are not yes and no")


def _pair_in_image2(s: Solver, q: Query) -> tuple[np.ndarray, np.ndarray] | Answer:
    """Masks in Image 2 of the two objects a Q13 / Q15 question names (its 3rd and 4th marks),
    or the no-answer saying why they cannot be read."""
    cs = q.outlined()
    if len(cs) < 4:
        return no_answer("the objects are not named in both images")
    m1, m2 = _mask(s, 1, cs[2]), _mask(s, 1, cs[3])
    if m1 is None or m2 is None:
        return no_answer("an overlay was not found")
    return m1, m2


@handles("Q13")
def left_right(s: Solver, q: Query) -> Answer:
    """Order of the two objects' mask centroids in Image 2 against the stated order."""
    pair = _pair_in_image2(s, q)
    if isinstance(pair, Answer):
        return pair
    m1, m2 = pair
    dx = _centroid(m2)[0] - _centroid(m1)[0]
    if abs(dx) < 0.02 * s.q.size[0]:
        return no_answer("the objects are horizontally too close")
    same = dx > 0  # the first-named object is left of the second in Image 1
    for k, o in enumerate(q.options):
        if ("same" in o.lower()) == same:
            return Answer(letter=q.letters[k])
    return no_answer("no option matches")


@handles("Q15")
def depth_order(s: Solver, q: Query) -> Answer:
    """Ground-plane cue: the object whose mask reaches lower in the image is nearer."""
    pair = _pair_in_image2(s, q)
    if isinstance(pair, Answer):
        return pair
    m1, m2 = pair
    b1, b2 = float(np.nonzero(m1)[0].max()), float(np.nonzero(m2)[0].max())
    if abs(b1 - b2) < 0.03 * s.q.size[1]:
        return no_answer("the objects' ground contacts are at about the same image height")
    return _yes_no(q, b1 > b2)


@handles("cross_scenario_localization")
def cross_scenario(s: Solver, q: Query) -> Answer:
    """The candidate whose image is most similar to Image 1 (same camera, same background)."""
    scores: list[float | None] = []
    for o in q.options:
        k = _image_number(o, len(q.images))
        scores.append(None if k is None else 1.0 - ft.similarity(q.images[0], q.images[k]))
    return _pick(scores, 1.5, q.letters, "global image similarity")


def _image_number(option: str, n: int) -> int | None:
    """The 0-based image an option names ("Image 3" -> 2), None unless it is one of ``n``."""
    nums = [int(t) for t in option.replace(".", " ").split() if t.isdigit()]
    return nums[0] - 1 if nums and 1 <= nums[0] <= n else None


def _centre_direction(s: Solver, a: int, b: int) -> np.ndarray | None:
    """Unit direction of camera b's centre in camera a's frame (x right, y down, z forward),
    from the relative pose of the two images under the assumed intrinsics."""
    pose = ft.relative_pose(s.pair(a, b), s.q.size)
    if pose is None:
        return None
    R, t = pose
    c = -R.T @ t  # x_b = R x_a + t: b's centre is where x_b = 0
    n = float(np.linalg.norm(c))
    return c / n if n > 0 else None


@handles("directional_view_localization")
def directional_view(s: Solver, q: Query) -> Answer:
    """The candidate camera on the asked side: sign of its centre's x in Image 1's frame."""
    text = q.question.lower()
    side = "left" if " left" in text else "right" if " right" in text else None
    if side is None:
        return no_answer("the question asks for neither left nor right")
    xs: list[float | None] = []
    for o in q.options:
        k = _image_number(o, len(q.images))
        c = None if k is None or k == 0 else _centre_direction(s, 0, k)
        xs.append(None if c is None else float(c[0]))
    if any(x is None for x in xs):
        return no_answer("no reliable relative pose for every candidate")
    want = [x < -0.15 if side == "left" else x > 0.15 for x in xs]
    if sum(want) != 1 or sum(x * xs[0] < 0 for x in xs[1:]) != len(xs) - 1:
        return no_answer(f"candidate sides {[round(x, 2) for x in xs]} do not single one out")
    return Answer(letter=q.letters[want.index(True)])


@handles("viewpoint_localization")
def viewpoint(s: Solver, q: Query) -> Answer:
    """The candidate whose camera centre, from the relative pose, projects onto Image 1's dot."""
    colors = q.colors_in(q.question)
    dots = [d for c in colors for d in det.find_dots(q.images[0], c)[:1]]
    if len(dots) != 1:
        return no_answer("expected one dot in Image 1")
    dot = np.asarray(dots[0].uv, dtype=float)
    w, h = s.q.size
    f = 0.5 * w / np.tan(np.radians(60.0) / 2)
    scores: list[float | None] = []
    for o in q.options:
        k = _image_number(o, len(q.images))
        c = None if k is None or k == 0 else _centre_direction(s, 0, k)
        if c is None or c[2] <= 0.05:
            scores.append(None)
            continue
        uv = np.array([f * c[0] / c[2] + (w - 1) / 2, f * c[1] / c[2] + (h - 1) / 2])
        scores.append(float(np.linalg.norm(uv - dot)))
    return _pick(scores, 1.5, q.letters, "camera centre projected into Image 1")


# the handlers of the object and layout modules register themselves on import
from crossview.classical import layout as _layout  # noqa: E402,F401
from crossview.classical import objects as _objects  # noqa: E402,F401
