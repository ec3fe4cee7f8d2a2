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
from crossview.classical import layout, objects  # noqa: F401 (their handlers register on import)
from crossview.classical.common import (
    HANDLERS,
    Solver,
    first_outlined,
    handles,
    image_number,
    mask_centroid,
    object_mask,
    object_scores,
    object_terms,
    pair_in_image2,
    pick,
    yes_no,
)
from crossview.classical.query import Answer, Query, no_answer, outlined_by_image


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


EPIPOLAR_MARGIN = 1.3
"""Ratio by which the best dot must beat the runner-up under trusted epipolar geometry."""
APPEARANCE_MARGIN = 2.0
"""The ratio without trusted geometry (colour around the dots alone: weaker evidence)."""


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
) -> tuple[list[float | None], float, str]:
    """Score each candidate dot in ``target`` (lower is better), with the margin
    :func:`~crossview.classical.common.pick` needs for that evidence and the reason: the
    epipolar transfer of the references when the geometry is trusted (:data:`EPIPOLAR_MARGIN`),
    else the colour around the dots alone (:data:`APPEARANCE_MARGIN`)."""
    lines, point = _predict_point(s, refs, target)
    if not lines:
        scores = _appearance_scores(s, refs, target, cands)
        return scores, APPEARANCE_MARGIN, "appearance around the dots only"
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
    return scores, EPIPOLAR_MARGIN, "epipolar transfer of the marked point"


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
    scores, margin, why = _score_candidates(s, refs, target, cands)
    return pick(scores, margin, q.letters, why)


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
    scores, margin, why = _score_candidates(s, [(0, d.uv)], 1, cands)
    return pick(scores, margin, q.letters, why)


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
    return pick(scores, 1.5, q.letters, "epipolar transfer of the arrow heads")


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
        k = image_number(o, n)
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


@handles("Q1", "Q2")
def object_retrieval(s: Solver, q: Query) -> Answer:
    """The candidate in Image 2 most like the query of Image 1 (appearance + epipolar line)."""
    qc = first_outlined(q)
    scores, why = object_scores(s, 0, qc or "", 1, q.option_colors()) if qc else ([], "")
    if qc is None:
        return no_answer("the query object is not named")
    return pick(scores, 1.25, q.letters, why)


@handles("Q3")
def one_of_three(s: Solver, q: Query) -> Answer:
    """Which of the objects in Image 1 is the query of Image 2."""
    qc = first_outlined(q)
    if qc is None:
        return no_answer("the query object is not named")
    scores, why = object_scores(s, 1, qc, 0, q.option_colors())
    return pick(scores, 1.25, q.letters, why)


@handles("Q5")
def instance_verification(s: Solver, q: Query) -> Answer:
    """Same instance or not: first from geometry, then from appearance.

    Where the table plane is trusted, the query's foot carried into Image 2 lands within
    0.75 object sizes of the candidate's foot for the same object (and its centroid near the
    epipolar line), and more than 1.5 sizes away for another; a centroid more than 2 sizes off
    the epipolar line is another object. Otherwise the summed cost of :func:`object_scores`
    decides: below 1.6 the same, above 11.5 another, else no answer.
    """
    by_image = outlined_by_image(q.question)
    if not by_image.get(0) or not by_image.get(1):
        return no_answer("the two objects are not named with their images")
    qc, cc = by_image[0][0], by_image[1][0]
    terms = object_terms(s, 0, qc, 1, [cc])[0]
    if terms is None:
        return no_answer("an overlay was not found")
    if not any(o.lower().startswith("yes") for o in q.options):
        return no_answer("the options are not yes and no")
    app, epi, plane = terms
    if plane is not None and plane < 0.75 and (epi is None or epi < 1.0):
        return yes_no(q, True)
    if (plane is not None and plane > 1.5) or (epi is not None and epi > 2.0):
        return yes_no(q, False)
    d = app + sum(min(x, 3.0) for x in (epi, plane) if x is not None)
    if d < 1.6:
        return yes_no(q, True)
    if d > 11.5:
        return yes_no(q, False)
    return no_answer("appearance and geometry are between same and different")


def _area(m: np.ndarray | None) -> float | None:
    return None if m is None else float(m.sum())


@handles("Q10")
def scale_change(s: Solver, q: Query) -> Answer:
    """Larger / smaller / about the same from the mask areas in the two images."""
    c = first_outlined(q)
    cs = q.outlined()
    c2 = cs[1] if len(cs) > 1 else c
    a1, a2 = _area(object_mask(s, 0, c)), _area(object_mask(s, 1, c2))
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
        a1, a2 = _area(object_mask(s, 0, c)), _area(object_mask(s, 1, c))
        ratios.append(None if not a1 or not a2 else -a2 / a1)
    valid = sorted(r for r in ratios if r is not None)
    if len(valid) < 2 or valid[0] > valid[1] * 1.1:  # negatives: best must be 1.1x the next
        return no_answer("the area ratios do not separate the objects")
    return Answer(letter=q.letters[ratios.index(valid[0])])


@handles("Q13")
def left_right(s: Solver, q: Query) -> Answer:
    """Order of the two objects' mask centroids in Image 2 against the stated order."""
    pair = pair_in_image2(s, q)
    if isinstance(pair, Answer):
        return pair
    m1, m2 = pair
    dx = mask_centroid(m2)[0] - mask_centroid(m1)[0]
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
    pair = pair_in_image2(s, q)
    if isinstance(pair, Answer):
        return pair
    m1, m2 = pair
    b1, b2 = float(np.nonzero(m1)[0].max()), float(np.nonzero(m2)[0].max())
    if abs(b1 - b2) < 0.03 * s.q.size[1]:
        return no_answer("the objects' ground contacts are at about the same image height")
    return yes_no(q, b1 > b2)


@handles("cross_scenario_localization")
def cross_scenario(s: Solver, q: Query) -> Answer:
    """The candidate whose image is most similar to Image 1 (same camera, same background)."""
    scores: list[float | None] = []
    for o in q.options:
        k = image_number(o, len(q.images))
        scores.append(None if k is None else 1.0 - ft.similarity(q.images[0], q.images[k]))
    return pick(scores, 1.5, q.letters, "global image similarity")


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
        k = image_number(o, len(q.images))
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
        k = image_number(o, len(q.images))
        c = None if k is None or k == 0 else _centre_direction(s, 0, k)
        if c is None or c[2] <= 0.05:
            scores.append(None)
            continue
        uv = np.array([f * c[0] / c[2] + (w - 1) / 2, f * c[1] / c[2] + (h - 1) / 2])
        scores.append(float(np.linalg.norm(uv - dot)))
    return pick(scores, 1.5, q.letters, "camera centre projected into Image 1")
