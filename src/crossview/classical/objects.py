"""Object-level handlers that reason on the table plane and on object colours.

The objects of a tabletop scene stand on one plane, and that plane carries most of the local
features: the dominant homography between two images
(:meth:`~crossview.classical.common.Solver.plane`) maps a point of the table in one image to
the same point in the other. An object's *foot* (the bottom centre of its mask, where it meets
the table) therefore transfers between views, and so does its position between two moments
when the camera and table stay put. Visibility is read from the object's own colour (the
overlay tint undone) around the transferred foot.

Everything is in image pixels; a homography ``H`` maps homogeneous ``(u, v, 1)`` of image a
to image b. See docs/classical.md for the rules and their measured accuracy.
"""

from __future__ import annotations

from itertools import combinations

import cv2
import numpy as np

from crossview.classical import detect as det
from crossview.classical import features as ft
from crossview.classical.common import (
    Solver,
    first_outlined,
    handles,
    image_number,
    object_mask,
    object_pixels,
    object_scores,
    pair_in_image2,
    pick,
    yes_no,
)
from crossview.classical.query import Answer, Query, no_answer, two_groups

PRESENT = 0.35
"""Share of the expected object area, of the object's colour, that says "visible"."""
ABSENT = 0.06
"""At most this share says "not visible"."""


def _chromaticity(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chromaticity ``(r, g) / (r + g + b)`` (..., 2) and brightness ``r + g + b`` (...,)."""
    x = rgb.astype(np.float32)
    total = x.sum(-1)
    return x[..., :2] / np.maximum(total, 1.0)[..., None], total


def object_color(s: Solver, k: int, color: str, m: np.ndarray) -> tuple[np.ndarray, float]:
    """An overlaid object's own colour, tint undone: median chromaticity (2,) and brightness."""
    chroma, total = _chromaticity(object_pixels(s, k, color, m))
    return np.median(chroma, 0), float(np.median(total))


def color_like(s: Solver, k: int, ref: tuple[np.ndarray, float]) -> np.ndarray:
    """Pixels of image k of the colour ``ref`` (from :func:`object_color`), bool (H, W).

    Chromaticity within 0.04 of the reference (shading scales r, g and b together and leaves it
    nearly unchanged) and brightness within a factor of 2.5 either way.
    """
    key = ("chroma", k)
    if key not in s.cache:
        s.cache[key] = _chromaticity(s.q.images[k])
    chroma, total = s.cache[key]  # type: ignore[misc]
    near = np.abs(chroma - ref[0]).max(-1) < 0.04
    return near & (total > ref[1] / 2.5) & (total < ref[1] * 2.5)


def presence(s: Solver, a: int, color: str, b: int) -> tuple[float | None, str]:
    """How much of the object outlined in ``color`` in image a shows in image b.

    With a trusted table plane: the share of the object's expected area (its area in a times
    the plane's local magnification) covered by pixels of its colour in a window above its
    transferred foot; ``0.0`` when the foot lands well outside image b. Without: None.
    """
    m = object_mask(s, a, color)
    if m is None:
        return None, "an overlay was not found"
    H = s.plane(a, b)
    f = ft.foot(m)
    if H is None or f is None:
        return None, "no trusted table plane between the images"
    p = ft.transfer(H, f)
    if p is None:
        return None, "the table plane maps the object to infinity"
    h, w = s.q.images[b].shape[:2]
    expected = float(m.sum()) * ft.area_scale(H, f)
    side = float(np.sqrt(max(expected, 1.0)))
    if not (-0.5 * side <= p[0] < w + 0.5 * side and -0.5 * side <= p[1] < h + 1.5 * side):
        return 0.0, "the object's foot falls outside the other image"
    like = color_like(s, b, object_color(s, a, color, m))
    u0, u1 = int(max(0, p[0] - 1.2 * side)), int(min(w, p[0] + 1.2 * side + 1))
    v0, v1 = int(max(0, p[1] - 2.0 * side)), int(min(h, p[1] + 0.5 * side + 1))
    if u1 <= u0 or v1 <= v0:
        return 0.0, "the object's window falls outside the other image"
    share = float(like[v0:v1, u0:u1].sum()) / max(expected, 1.0)
    return share, "its colour at its transferred foot"


@handles("Q6")
def visibility(s: Solver, q: Query) -> Answer:
    """Visible when the object's colour fills its transferred place on the table."""
    c = first_outlined(q)
    if c is None:
        return no_answer("the object is not named")
    share, why = presence(s, 0, c, 1)
    if share is None:
        return no_answer(why)
    if share >= PRESENT:
        return yes_no(q, True)
    if share <= ABSENT:
        return yes_no(q, False)
    return no_answer("only part of the object's colour is where it should be")


@handles("Q7")
def exclusive_presence(s: Solver, q: Query) -> Answer:
    """The one object whose colour is missing at its transferred place in Image 2.

    The question says exactly one object is not visible: one clear absence with every other
    measured object clearly present answers; so does, by elimination, one object that could not
    be measured when all the others are clearly present.
    """
    shares = [presence(s, 0, c, 1)[0] if c else None for c in q.option_colors()]
    low = [k for k, x in enumerate(shares) if x is not None and x <= 2 * ABSENT]
    unsure = [k for k, x in enumerate(shares) if x is not None and 2 * ABSENT < x < PRESENT]
    unknown = [k for k, x in enumerate(shares) if x is None]
    if len(low) == 1 and not unsure:
        return Answer(letter=q.letters[low[0]])
    if not low and not unsure and len(unknown) == 1:
        return Answer(letter=q.letters[unknown[0]])
    return no_answer("the colours do not single out one missing object")


def _transferred_foot(s: Solver, a: int, color: str, b: int) -> tuple[float, float] | None:
    m = object_mask(s, a, color)
    H = s.plane(a, b)
    f = None if m is None else ft.foot(m)
    return None if H is None or f is None else ft.transfer(H, f)


def _feet(s: Solver, k: int, colors: list[str | None]) -> list[tuple[float, float] | None]:
    out = []
    for c in colors:
        m = object_mask(s, k, c)
        out.append(None if m is None else ft.foot(m))
    return out


@handles("Q9")
def nearest_neighbour(s: Solver, q: Query) -> Answer:
    """The candidate whose foot in Image 2 is nearest the query's foot moved over the table."""
    c = first_outlined(q)
    if c is None:
        return no_answer("the query object is not named")
    p = _transferred_foot(s, 0, c, 1)
    if p is None:
        return no_answer("the query's foot could not be transferred over the table")
    scores: list[float | None] = []
    for f in _feet(s, 1, q.option_colors()):
        scores.append(None if f is None else float(np.hypot(f[0] - p[0], f[1] - p[1])) + 1.0)
    return pick(scores, 1.5, q.letters, "distance on the table plane")


@handles("Q14")
def displacement(s: Solver, q: Query) -> Answer:
    """The object whose foot moved farthest on the table between the two images."""
    H = s.plane(0, 1)
    if H is None:
        return no_answer("no trusted table plane between the images")
    scores: list[float | None] = []
    for c, f2 in zip(q.option_colors(), _feet(s, 1, q.option_colors())):
        p = None if c is None else _transferred_foot(s, 0, c, 1)
        if p is None or f2 is None:
            scores.append(None)
            continue
        # lowest score wins in pick: the inverse of the distance moved
        scores.append(1.0 / (1.0 + float(np.hypot(f2[0] - p[0], f2[1] - p[1]))))
    return pick(scores, 1.6, q.letters, "foot displacement on the table plane")


@handles("Q8")
def occluder(s: Solver, q: Query) -> Answer:
    """The candidate in Image 2 that stands in front of the query's visible part.

    The query's foot moves to Image 2 over the table; its visible pixels there are those of its
    colour in a window around that place (else the place itself). The occluder is the
    candidate whose mask borders them and whose own foot is lower in the image (nearer the
    camera) than theirs.
    """
    c = first_outlined(q)
    m = object_mask(s, 0, c) if c else None
    H = s.plane(0, 1)
    f = None if m is None else ft.foot(m)
    if c is None or m is None or H is None or f is None:
        return no_answer("the query could not be transferred over the table")
    p = ft.transfer(H, f)
    if p is None:
        return no_answer("the table plane maps the query to infinity")
    h, w = q.images[1].shape[:2]
    side = float(np.sqrt(max(float(m.sum()) * ft.area_scale(H, f), 1.0)))
    cands = [object_mask(s, 1, oc) for oc in q.option_colors()]
    window = np.zeros((h, w), bool)
    u0, u1 = int(max(0, p[0] - 1.5 * side)), int(min(w, p[0] + 1.5 * side + 1))
    v0, v1 = int(max(0, p[1] - 2.5 * side)), int(min(h, p[1] + 1.0 * side + 1))
    window[v0:v1, u0:u1] = True
    seen = color_like(s, 1, object_color(s, 0, c, m)) & window
    for cm in cands:
        if cm is not None:
            seen &= ~cm
    if seen.sum() >= 10:
        target = seen
        bottom = float(np.nonzero(seen)[0].max())
    else:
        target = np.zeros((h, w), bool)
        target[int(np.clip(p[1] - 0.5 * side, 0, h - 1)), int(np.clip(p[0], 0, w - 1))] = True
        bottom = p[1]
    dist = cv2.distanceTransform((~target).astype(np.uint8), cv2.DIST_L2, 3)
    scores: list[float | None] = []
    for cm in cands:
        of = None if cm is None else ft.foot(cm)
        if cm is None:
            scores.append(None)
            continue
        near = float(dist[cm].min())
        front = of is None or of[1] >= bottom - 0.25 * side
        scores.append((near + 1.0) * (1.0 if front else 4.0))
    return pick(scores, 1.5, q.letters, "nearest object in front of the visible part")


def _gap(m1: np.ndarray, m2: np.ndarray) -> float:
    """Smallest pixel distance between two masks (0 when they touch or overlap)."""
    if (m1 & m2).any():
        return 0.0
    dist = cv2.distanceTransform((~m1).astype(np.uint8), cv2.DIST_L2, 3)
    return float(dist[m2].min())


@handles("Q17")
def contact(s: Solver, q: Query) -> Answer:
    """Touching or not, from the two masks in Image 2.

    Two objects in contact stay adjacent in every view (the contact point projects into both
    masks): a clear gap in Image 2 says "no". Masks that touch in Image 2 with their feet at
    the same image height stand side by side at the same depth on the table: "yes". Adjacent
    masks at different heights may be one object behind the other: no answer.
    """
    pair = pair_in_image2(s, q)
    if isinstance(pair, Answer):
        return pair
    m1, m2 = pair
    g = _gap(m1, m2)
    if g > 4.0:
        return yes_no(q, False)
    b1, b2 = float(np.nonzero(m1)[0].max()), float(np.nonzero(m2)[0].max())
    if g <= 3.5 and abs(b1 - b2) <= 0.035 * q.images[1].shape[0]:
        return yes_no(q, True)
    return no_answer("the objects are adjacent at different depths; contact is not decidable")


def _hidden_score(s: Solver, k: int, color: str | None, others: list[str]) -> float | None:
    """How hidden an overlaid object looks in image k: concavity (1 - solidity), the share of
    its outline on the image border, and the share bordering another marked object."""
    m = object_mask(s, k, color)
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
        om = object_mask(s, k, o)
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
    return pick([None if x is None else x + 0.05 for x in scores], 2.0, q.letters, "outline shape")


@handles("Q12")
def completeness_cross(s: Solver, q: Query) -> Answer:
    """The image in which the object's outline looks least hidden."""
    c = first_outlined(q)
    if c is None:
        return no_answer("the object is not named")
    scores: list[float | None] = []
    for o in q.options:
        k = image_number(o, len(q.images))
        scores.append(None if k is None else _hidden_score(s, k, c, []))
    return pick([None if x is None else x + 0.05 for x in scores], 2.0, q.letters, "outline shape")


@handles("Q4")
def group_matching(s: Solver, q: Query) -> Answer:
    """The pairing with the least total appearance-and-epipolar dissimilarity."""
    left, right = two_groups(q.question)
    if not left:
        return no_answer("the two groups of objects are not listed")
    cost: dict[tuple[str, str], float | None] = {}
    for a in left:
        row, _ = object_scores(s, 0, a, 1, list(right))
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
    return pick(totals, 1.15, q.letters, "total appearance and epipolar cost of the pairing")


def _motion(s: Solver, a: int, b: int) -> float | None:
    """How far the coloured objects seem to have moved on the table between images a and b:
    the largest displacement, in object sizes, of a transferred foot among the hue classes
    that show exactly one object in both images; None without a trusted plane or matches."""
    H = s.plane(a, b)
    if H is None:
        return None
    ba, bb = s.blobs(a), s.blobs(b)
    moves = []
    for name, ms in ba.items():
        if len(ms) != 1 or len(bb.get(name, [])) != 1:
            continue
        fa, fb = ft.foot(ms[0]), ft.foot(bb[name][0])
        p = None if fa is None else ft.transfer(H, fa)
        if p is None or fb is None:
            continue
        size = float(np.sqrt(bb[name][0].sum()))
        moves.append(float(np.hypot(p[0] - fb[0], p[1] - fb[1])) / size)
    return max(moves) if moves else None


@handles("temporal_verification")
def temporal(s: Solver, q: Query) -> Answer:
    """The image whose objects sit elsewhere on the table than in the other images.

    The table does not move between moments, so its homography holds across time; the feet of
    the coloured objects, carried over it, land on their counterparts between two synchronised
    images and miss them when one image is from another moment.
    """
    n = len(q.images)
    if n < 3:
        return no_answer("needs at least three images")
    motion = {(a, b): _motion(s, a, b) for a, b in combinations(range(n), 2)}
    if any(m is None for m in motion.values()):
        return no_answer("not every pair of images has a trusted table plane and shared objects")
    scores: list[float | None] = []
    for k in range(n):
        inside = [m for (a, b), m in motion.items() if k in (a, b) and m is not None]
        outside = [m for (a, b), m in motion.items() if k not in (a, b) and m is not None]
        if not inside or not outside:
            scores.append(None)
            continue
        # out of sync: every pair with it moves, the pairs without it do not
        scores.append(float(np.median(outside)) - min(inside))
    img_scores = [None if (k := image_number(o, n)) is None else scores[k] for o in q.options]
    valid = sorted(x for x in img_scores if x is not None)
    if len(valid) < 2 or valid[0] > -0.6 or valid[1] - valid[0] < 0.5:
        return no_answer("the objects' positions do not single out one image")
    return Answer(letter=q.letters[img_scores.index(valid[0])])


@handles("Fine-grained Grounding")
def grounding(s: Solver, q: Query) -> Answer:
    """A point on the object named by its colour: the single saturated region of that hue.

    Object level: the region's most interior pixel. "The top of ...": the most interior pixel
    of the region's upper fifth (objects stand upright on the table, so their top is
    highest in the image). Descriptions without a colour, grey objects, and colours shared by
    several regions get no answer: telling shapes apart is not attempted.
    """
    named = [c for c in q.colors_in(q.question) if c in det.HUES]
    if len(named) != 1:
        return no_answer("the description names no object colour this solver can segment")
    regions = s.blobs(0).get(named[0], [])
    # one region, or one that dwarfs the rest (specks where a highlight split the object)
    if not regions or (len(regions) > 1 and regions[1].sum() * 4 > regions[0].sum()):
        return no_answer("the named colour does not single out one region")
    m = regions[0]
    if "top of" in q.question.lower():
        ys = np.nonzero(m)[0]
        cut = ys.min() + 0.2 * (ys.max() - ys.min())
        m = m & (np.arange(m.shape[0])[:, None] <= cut)
    dist = cv2.distanceTransform(m.astype(np.uint8), cv2.DIST_L2, 3)
    v, u = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return Answer(point=(float(u), float(v)), view=0)
