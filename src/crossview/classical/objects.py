"""Object-level handlers that reason on the table plane and on object colours.

The objects of a tabletop scene stand on one plane, and that plane carries most of the local
features: the dominant homography between two images (:meth:`TablePlane.h`) maps a point of
the table in one image to the same point in the other. An object's *foot* (the bottom centre
of its mask, where it meets the table) therefore transfers between views, and so does its
position between two moments when the camera and table stay put. Visibility is read from the
object's own colour (the overlay tint undone) around the transferred foot.

Everything is in image pixels; a homography ``H`` maps homogeneous ``(u, v, 1)`` of image a
to image b. See docs/classical.md for the rules and their measured accuracy.
"""

from __future__ import annotations

import cv2
import numpy as np

from crossview.classical import detect as det
from crossview.classical import features as ft
from crossview.classical.query import Answer, Query, no_answer, two_groups
from crossview.classical.solver import (
    Solver,
    _first_outlined,
    _mask,
    _object_scores,
    _pick,
    _yes_no,
    handles,
)

MIN_PLANE_INLIERS = 20
"""Inliers needed before a table homography is trusted."""
PRESENT = 0.35
"""Share of the expected object area, of the object's colour, that says "visible"."""
ABSENT = 0.06
"""At most this share says "not visible"."""


def plane(s: Solver, a: int, b: int) -> np.ndarray | None:
    """The table-plane homography from image a to image b, or None when not trusted."""
    key = ("plane", a, b)
    if key not in s.cache:
        tv = s.pair(a, b)
        H, n = ft.homography(tv)
        s.cache[key] = H if H is not None and n >= MIN_PLANE_INLIERS else None
    return s.cache[key]


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


def object_lab(s: Solver, k: int, color: str, m: np.ndarray) -> np.ndarray:
    """Median Lab colour (OpenCV 8-bit scale) of an overlaid object, tint undone, (3,)."""
    px = det.untint(s.q.images[k], m, color).astype(np.uint8).reshape(-1, 1, 3)
    return np.median(cv2.cvtColor(px, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(float), 0)


def color_like(s: Solver, k: int, lab: np.ndarray) -> np.ndarray:
    """Pixels of image k whose colour is close to ``lab`` (chroma within 14, lightness 60)."""
    key = ("lab", k)
    if key not in s.cache:
        s.cache[key] = cv2.cvtColor(s.q.images[k], cv2.COLOR_RGB2LAB).astype(np.int16)
    img = s.cache[key]
    chroma = np.hypot(img[..., 1] - lab[1], img[..., 2] - lab[2])
    return (chroma < 14) & (np.abs(img[..., 0] - lab[0]) < 60)


def presence(s: Solver, a: int, color: str, b: int) -> tuple[float | None, str]:
    """How much of the object outlined in ``color`` in image a shows in image b.

    With a trusted table plane: the share of the object's expected area (its area in a times
    the plane's local magnification) covered by pixels of its colour in a window above its
    transferred foot; ``0.0`` when the foot lands well outside image b. Without: None.
    """
    m = _mask(s, a, color)
    if m is None:
        return None, "an overlay was not found"
    H = plane(s, a, b)
    f = foot(m)
    if H is None or f is None:
        return None, "no trusted table plane between the images"
    p = transfer(H, f)
    if p is None:
        return None, "the table plane maps the object to infinity"
    h, w = s.q.images[b].shape[:2]
    expected = float(m.sum()) * area_scale(H, f)
    side = float(np.sqrt(max(expected, 1.0)))
    if not (-0.5 * side <= p[0] < w + 0.5 * side and -0.5 * side <= p[1] < h + 1.5 * side):
        return 0.0, "the object's foot falls outside the other image"
    like = color_like(s, b, object_lab(s, a, color, m))
    u0, u1 = int(max(0, p[0] - 1.2 * side)), int(min(w, p[0] + 1.2 * side + 1))
    v0, v1 = int(max(0, p[1] - 2.0 * side)), int(min(h, p[1] + 0.5 * side + 1))
    if u1 <= u0 or v1 <= v0:
        return 0.0, "the object's window falls outside the other image"
    share = float(like[v0:v1, u0:u1].sum()) / max(expected, 1.0)
    return share, "its colour at its transferred foot"


@handles("Q6")
def visibility(s: Solver, q: Query) -> Answer:
    """Visible when the object's colour fills its transferred place on the table."""
    c = _first_outlined(q)
    if c is None:
        return no_answer("the object is not named")
    share, why = presence(s, 0, c, 1)
    if share is None:
        return no_answer(why)
    if share >= PRESENT:
        return _yes_no(q, True)
    if share <= ABSENT:
        return _yes_no(q, False)
    return no_answer("only part of the object's colour is where it should be")


@handles("Q7")
def exclusive_presence(s: Solver, q: Query) -> Answer:
    """The one object whose colour is missing at its transferred place in Image 2."""
    shares = [presence(s, 0, c, 1)[0] if c else None for c in q.option_colors()]
    if any(x is None for x in shares):
        return no_answer("an object could not be transferred to the other image")
    absent = [k for k, x in enumerate(shares) if x is not None and x <= 2 * ABSENT]
    present = [k for k, x in enumerate(shares) if x is not None and x >= PRESENT]
    if len(absent) == 1 and len(present) == len(shares) - 1:
        return Answer(letter=q.letters[absent[0]])
    return no_answer("the colours do not single out one missing object")


def _transferred_foot(s: Solver, a: int, color: str, b: int) -> tuple[float, float] | None:
    m = _mask(s, a, color)
    H = plane(s, a, b)
    f = None if m is None else foot(m)
    return None if H is None or f is None else transfer(H, f)


def _feet(s: Solver, k: int, colors: list[str | None]) -> list[tuple[float, float] | None]:
    out = []
    for c in colors:
        m = _mask(s, k, c)
        out.append(None if m is None else foot(m))
    return out


@handles("Q9")
def nearest_neighbour(s: Solver, q: Query) -> Answer:
    """The candidate whose foot in Image 2 is nearest the query's foot moved over the table."""
    c = _first_outlined(q)
    if c is None:
        return no_answer("the query object is not named")
    p = _transferred_foot(s, 0, c, 1)
    if p is None:
        return no_answer("the query's foot could not be transferred over the table")
    scores: list[float | None] = []
    for f in _feet(s, 1, q.option_colors()):
        scores.append(None if f is None else float(np.hypot(f[0] - p[0], f[1] - p[1])) + 1.0)
    return _pick(scores, 1.5, q.letters, "distance on the table plane")


@handles("Q14")
def displacement(s: Solver, q: Query) -> Answer:
    """The object whose foot moved farthest on the table between the two images."""
    H = plane(s, 0, 1)
    if H is None:
        return no_answer("no trusted table plane between the images")
    scores: list[float | None] = []
    for c, f2 in zip(q.option_colors(), _feet(s, 1, q.option_colors())):
        m1 = _mask(s, 0, c)
        f1 = None if m1 is None else foot(m1)
        p = None if f1 is None else transfer(H, f1)
        if p is None or f2 is None:
            scores.append(None)
            continue
        # lowest score wins in _pick: the inverse of the distance moved
        scores.append(1.0 / (1.0 + float(np.hypot(f2[0] - p[0], f2[1] - p[1]))))
    return _pick(scores, 1.6, q.letters, "foot displacement on the table plane")


@handles("Q8")
def occluder(s: Solver, q: Query) -> Answer:
    """The candidate in Image 2 that stands in front of the query's transferred place.

    The query's foot moves to Image 2 over the table; its visible pixels there are those of its
    colour near that place. The occluder is the candidate that borders them and whose own foot
    is lower in the image (nearer the camera).
    """
    c = _first_outlined(q)
    m = _mask(s, 0, c) if c else None
    H = plane(s, 0, 1)
    f = None if m is None else foot(m)
    if m is None or H is None or f is None:
        return no_answer("the query could not be transferred over the table")
    p = transfer(H, f)
    if p is None:
        return no_answer("the table plane maps the query to infinity")
    side = float(np.sqrt(max(float(m.sum()) * area_scale(H, f), 1.0)))
    scores: list[float | None] = []
    for oc in q.option_colors():
        om = _mask(s, 1, oc)
        of = None if om is None else foot(om)
        if om is None or of is None:
            scores.append(None)
            continue
        ys, xs = np.nonzero(om)
        near = float(np.min(np.hypot(xs - p[0], ys - (p[1] - 0.5 * side))))
        front = of[1] >= p[1] - 0.25 * side
        scores.append((near + 1.0) * (1.0 if front else 4.0))
    return _pick(scores, 1.5, q.letters, "nearest object in front of the transferred place")


def _gap(m1: np.ndarray, m2: np.ndarray) -> float:
    """Smallest pixel distance between two masks (0 when they touch or overlap)."""
    if (m1 & m2).any():
        return 0.0
    dist = cv2.distanceTransform((~m1).astype(np.uint8), cv2.DIST_L2, 3)
    return float(dist[m2].min())


@handles("Q17")
def contact(s: Solver, q: Query) -> Answer:
    """Not touching when the two masks are clearly apart in Image 2: two objects in contact
    stay adjacent in every view (the contact point projects into both)."""
    cs = q.outlined()
    if len(cs) < 4:
        return no_answer("the objects are not named in both images")
    m1, m2 = _mask(s, 1, cs[2]), _mask(s, 1, cs[3])
    if m1 is None or m2 is None:
        return no_answer("an overlay was not found")
    g = _gap(m1, m2)
    if g > 4.0:
        return _yes_no(q, False)
    return no_answer("the objects are adjacent in both images; contact is not decidable")


def _hidden_score(s: Solver, k: int, color: str | None, others: list[str]) -> float | None:
    """How hidden an overlaid object looks in image k: concavity (1 - solidity), the share of
    its outline on the image border, and the share bordering another marked object."""
    m = _mask(s, k, color)
    if m is None:
        return None
    m8 = m.astype(np.uint8)
    cs, _ = cv2.findContours(m8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    hull = cv2.convexHull(np.concatenate(cs))
    concave = 1.0 - float(m.sum()) / max(float(cv2.contourArea(hull)), 1.0)
    h, w = m.shape
    edge = m8 - cv2.erode(m8, np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero(edge)
    border = float(np.mean((xs <= 1) | (ys <= 1) | (xs >= w - 2) | (ys >= h - 2)))
    near = np.zeros_like(m)
    for o in others:
        om = _mask(s, k, o)
        if om is not None and o != color:
            near |= cv2.dilate(om.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    touching = float(np.mean(near[ys, xs])) if len(ys) else 0.0
    return max(concave, 0.0) + 2.0 * border + touching


@handles("Q11")
def completeness_single(s: Solver, q: Query) -> Answer:
    """The marked object that looks least hidden: convex, off the border, touching nobody."""
    colors = q.option_colors()
    named = [c for c in colors if c]
    scores = [_hidden_score(s, 0, c, named) for c in colors]
    return _pick([None if x is None else x + 0.05 for x in scores], 2.0, q.letters, "outline shape")


@handles("Q12")
def completeness_cross(s: Solver, q: Query) -> Answer:
    """The image in which the object's outline looks least hidden."""
    c = _first_outlined(q)
    if c is None:
        return no_answer("the object is not named")
    scores: list[float | None] = []
    for o in q.options:
        nums = [int(t) for t in o.replace(".", " ").split() if t.isdigit()]
        k = nums[0] - 1 if nums else -1
        scores.append(None if not 0 <= k < len(q.images) else _hidden_score(s, k, c, []))
    return _pick([None if x is None else x + 0.05 for x in scores], 2.0, q.letters, "outline shape")


@handles("Q4")
def group_matching(s: Solver, q: Query) -> Answer:
    """The pairing with the least total appearance-and-epipolar dissimilarity."""
    left, right = two_groups(q.question)
    if not left:
        return no_answer("the two groups of objects are not listed")
    cost: dict[tuple[str, str], float | None] = {}
    for a in left:
        row, _ = _object_scores(s, 0, a, 1, list(right))
        for b, d in zip(right, row):
            cost[(a, b)] = d
    totals: list[float | None] = []
    for o in q.options:
        words = [w.strip().lower() for w in o.replace(";", ",").split(",")]
        pairs = []
        for wd in words:
            cs = q.colors_in(wd)
            if len(cs) == 2:
                pairs.append((cs[0], cs[1]))
        vals = [cost.get(p) for p in pairs]
        ok = len(pairs) == len(left) and all(v is not None for v in vals)
        totals.append(sum(vals) if ok else None)  # type: ignore[arg-type]
    return _pick(totals, 1.15, q.letters, "total appearance and epipolar cost of the pairing")
