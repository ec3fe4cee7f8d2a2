"""The classical solver: answers a question from its text and images with multi-view geometry.

It reads the marks the question refers to (overlay contours, dots) by their palette colours,
matches SIFT features between images, estimates fundamental matrices with RANSAC and reasons
with epipolar lines, mask areas and positions. Where it cannot decide it says so (an
:class:`Abstain` with a reason), never a guess. Types it does not handle abstain too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from crossview.render.palette import PALETTE
from crossview.solver.vision import (
    Matches,
    find_dots,
    find_overlay,
    hue_hist,
    intersect_lines,
    line_distance,
    match,
)

LETTERS = "ABCDEFGH"
COLOR_RE = re.compile(r"\b(" + "|".join(PALETTE) + r")\b", re.IGNORECASE)


class Abstain(Exception):  # noqa: N818 - an outcome, not an error
    """The solver cannot decide; ``reason`` says why."""


@dataclass
class Question:
    """What the solver is given: the type, the question text, option texts and images."""

    type: str
    text: str
    options: list[str]
    images: list[np.ndarray]

    def colors(self, text: str) -> list[str]:
        return [c.lower() for c in COLOR_RE.findall(text)]

    @property
    def stem(self) -> str:
        """The question without its option lines."""
        return self.text.split("\nA.")[0].split("\nA)")[0]

    def option_colors(self) -> list[str]:
        out = []
        for o in self.options:
            cs = self.colors(o)
            if len(cs) != 1:
                raise Abstain(f"option {o!r} names {len(cs)} colours")
            out.append(cs[0])
        return out


Answer = str | tuple[float, float]  # a letter, or a point (u, v) in pixels


def _pick(scores: Sequence[float], margin: float, what: str) -> int:
    """Index of the best (highest) score when it beats the runner-up by ``margin``."""
    order = np.argsort(scores)[::-1]
    if len(order) > 1 and scores[order[0]] - scores[order[1]] < margin:
        raise Abstain(f"{what}: best and runner-up within {margin}")
    return int(order[0])


class _Cache:
    def __init__(self, q: Question) -> None:
        self.q = q
        self._m: dict[tuple[int, int], Matches] = {}

    def matches(self, i: int, j: int) -> Matches:
        if (i, j) not in self._m:
            self._m[(i, j)] = match(self.q.images[i], self.q.images[j])
        return self._m[(i, j)]

    def fmat(self, i: int, j: int) -> np.ndarray:
        m = self.matches(i, j)
        if m.F is None:
            raise Abstain(
                f"no reliable geometry between Image {i + 1} and Image {j + 1} "
                "(too few feature matches)"
            )
        return m.F


# ------------------------------------------------------------------------------ objects


def _locate(q: Question, color: str) -> tuple[int, np.ndarray, np.ndarray]:
    """(image index, mask, untinted image) of the object outlined in ``color``."""
    for i, img in enumerate(q.images):
        found = find_overlay(img, color)
        if found is not None:
            return i, found[0], found[1]
    raise Abstain(f"no object outlined in {color} found")


def _same_object_scores(c: _Cache, a: tuple, cands: list[tuple]) -> list[float]:
    """How well each candidate (image, mask, clean image) matches object ``a``: feature
    matches between the two masks, the epipolar line of a's centre crossing the candidate,
    and colour similarity."""
    ia, ma, ca = a
    ys, xs = np.nonzero(ma)
    centre = np.array([xs.mean(), ys.mean()])
    scores = []
    for ib, mb, cb in cands:
        m = c.matches(ia, ib)
        s = 0.0
        if m.F is not None:
            grow = cv2.dilate(mb.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
            in_a = ma[
                np.clip(m.uv0[:, 1].round().astype(int), 0, ma.shape[0] - 1),
                np.clip(m.uv0[:, 0].round().astype(int), 0, ma.shape[1] - 1),
            ]
            in_b = grow[
                np.clip(m.uv1[:, 1].round().astype(int), 0, mb.shape[0] - 1),
                np.clip(m.uv1[:, 0].round().astype(int), 0, mb.shape[1] - 1),
            ]
            s += 1.0 * float((in_a & in_b).sum())
            yb, xb = np.nonzero(mb)
            d = line_distance(m.F, centre, np.stack([xb, yb], 1)).min()
            s += 2.0 if d < 0.03 * mb.shape[1] else 0.0
        s += 2.0 * cv2.compareHist(hue_hist(ca, ma), hue_hist(cb, mb), cv2.HISTCMP_CORREL)
        scores.append(s)
    return scores


def solve_retrieval(q: Question) -> Answer:
    """Q1, Q2, Q3: which marked candidate is the same physical object as the query."""
    stem = q.colors(q.stem)
    if len(stem) != 1:
        raise Abstain("the question names no single query colour")
    c = _Cache(q)
    query = _locate(q, stem[0])
    cands = [_locate(q, col) for col in q.option_colors()]
    return LETTERS[_pick(_same_object_scores(c, query, cands), 1.0, "object match")]


def solve_same_object(q: Question) -> Answer:
    """Q5: are the two marked objects the same (Yes / No)?"""
    cols = q.colors(q.stem)
    if len(cols) != 2:
        raise Abstain("expected two marked objects")
    c = _Cache(q)
    a, b = (_locate(q, col) for col in cols)
    if a[0] == b[0]:
        raise Abstain("both marks in one image")
    m = c.matches(a[0], b[0])
    if m.F is None:
        raise Abstain("no reliable geometry between the images")
    ys, xs = np.nonzero(a[1])
    yb, xb = np.nonzero(b[1])
    d = line_distance(m.F, np.array([xs.mean(), ys.mean()]), np.stack([xb, yb], 1)).min()
    w = b[1].shape[1]
    sim = cv2.compareHist(hue_hist(a[2], a[1]), hue_hist(b[2], b[1]), cv2.HISTCMP_CORREL)
    yes = next(i for i, o in enumerate(q.options) if o.strip().lower().startswith("yes"))
    if d > 0.08 * w or sim < 0.2:
        return LETTERS[1 - yes]
    if d < 0.02 * w and sim > 0.6:
        return LETTERS[yes]
    raise Abstain(f"epipolar distance {d:.1f} px and colour similarity {sim:.2f} are inconclusive")


def _areas(q: Question, color: str) -> dict[int, int]:
    out = {}
    for i, img in enumerate(q.images):
        found = find_overlay(img, color)
        if found is not None:
            out[i] = int(found[0].sum())
    return out


def solve_scale(q: Question) -> Answer:
    """Q10: larger / smaller / about the same, from the marked areas in Image 1 and 2."""
    cols = q.colors(q.stem)
    if not cols:
        raise Abstain("no marked object")
    area = _areas(q, cols[0])
    if 0 not in area or 1 not in area:
        raise Abstain("the object is not marked in both images")
    r = area[1] / max(1, area[0])
    want = (
        "larger"
        if r >= 1.5
        else "smaller"
        if r <= 1 / 1.5
        else ("about the same" if 1 / 1.08 <= r <= 1.08 else None)
    )
    if want is None:
        raise Abstain(f"area ratio {r:.2f} is in the uncertain band")
    return LETTERS[next(i for i, o in enumerate(q.options) if o.strip().lower() == want)]


def solve_growth(q: Question) -> Answer:
    """Q16: the marked object whose area grows most from Image 1 to Image 2."""
    ratios = []
    for col in q.option_colors():
        area = _areas(q, col)
        if 0 not in area or 1 not in area:
            raise Abstain(f"the {col} object is not marked in both images")
        ratios.append(area[1] / max(1, area[0]))
    return LETTERS[_pick(list(np.log(ratios)), np.log(1.3), "area growth")]


def solve_left_right(q: Question) -> Answer:
    """Q13: is the left-right order of the two marked objects the same in Image 2?"""
    cols = list(dict.fromkeys(q.colors(q.stem)))
    if len(cols) != 2:
        raise Abstain("expected two marked objects")
    xs = {}
    for col in cols:
        for i, img in enumerate(q.images[:2]):
            found = find_overlay(img, col)
            if found is None:
                raise Abstain(f"the {col} object is not marked in Image {i + 1}")
            xs[(col, i)] = np.nonzero(found[0])[1].mean()
    d0 = xs[(cols[1], 0)] - xs[(cols[0], 0)]
    d1 = xs[(cols[1], 1)] - xs[(cols[0], 1)]
    w = q.images[0].shape[1]
    if min(abs(d0), abs(d1)) < 0.03 * w:
        raise Abstain("the two objects are too close horizontally")
    want = "the same" if (d0 > 0) == (d1 > 0) else "flipped"
    return LETTERS[next(i for i, o in enumerate(q.options) if o.strip().lower() == want)]


# ------------------------------------------------------------------------------ points


def _ref_dots(q: Question, images: Sequence[int], color: str) -> list[np.ndarray]:
    out = []
    for i in images:
        dots = find_dots(q.images[i], color)
        if len(dots) != 1:
            raise Abstain(f"expected one {color} dot in Image {i + 1}, found {len(dots)}")
        out.append(dots[0].uv)
    return out


def _option_dots(q: Question, image: int) -> list[np.ndarray]:
    out = []
    for col in q.option_colors():
        dots = find_dots(q.images[image], col)
        if len(dots) != 1:
            raise Abstain(f"expected one {col} dot in Image {image + 1}, found {len(dots)}")
        out.append(dots[0].uv)
    return out


def _ref_color(q: Question) -> str:
    opts = {c for o in q.options for c in q.colors(o)}
    cols = [c for c in q.colors(q.stem) if c not in opts]
    if not cols:
        raise Abstain("no reference colour in the question")
    return cols[0]


def solve_point_correspondence(q: Question) -> Answer:
    """XVR point correspondence: intersect the epipolar lines of the two reference dots."""
    c = _Cache(q)
    ref = _ref_dots(q, [0, 1], _ref_color(q))
    cands = _option_dots(q, 2)
    lines = []
    for i, uv in enumerate(ref):
        line = c.fmat(i, 2) @ np.array([uv[0], uv[1], 1.0])
        lines.append(line / (np.hypot(line[0], line[1]) + 1e-12))
    cost = [sum(abs(ln[:2] @ p + ln[2]) for ln in lines) for p in cands]
    return LETTERS[_pick([-x for x in cost], 0.04 * q.images[2].shape[1], "epipolar transfer")]


def solve_spatial_verification(q: Question) -> Answer:
    """XVR spatial verification: the dot inconsistent with the others' epipolar lines."""
    col = _ref_color(q)
    n = len(q.images)
    dots = _ref_dots(q, range(n), col)
    c = _Cache(q)
    tol = 0.02 * q.images[0].shape[1]
    consistent = np.zeros(n, int)
    pairs = 0
    for i in range(n):
        for j in range(i + 1, n):
            F = c.matches(i, j).F
            if F is None:
                continue
            pairs += 1
            if line_distance(F, dots[i], dots[j])[0] < tol:  # these two dots agree
                consistent[[i, j]] += 1
    if pairs < n - 1:
        raise Abstain("too few image pairs with reliable geometry")
    lonely = [k for k in range(n) if consistent[k] == 0]
    if len(lonely) != 1 or (consistent == 0).sum() != 1:
        raise Abstain(f"agreement counts {consistent.tolist()} single out no one image")
    k = lonely[0]
    return LETTERS[next(i for i, o in enumerate(q.options) if o.strip() == f"Image {k + 1}")]


def solve_judgement(q: Question) -> Answer:
    """CrossPoint correspondence judgement: the candidate dot on the reference's epipolar
    line, the one nearest the position the local feature matches predict when several are."""
    c = _Cache(q)
    ref = _ref_dots(q, [0], _ref_color(q))[0]
    cands = _option_dots(q, 1)
    F = c.fmat(0, 1)
    d = line_distance(F, ref, np.array(cands))
    guess = _local_transfer(c, ref)
    cost = d + (0.5 * np.linalg.norm(np.array(cands) - guess, axis=1) if guess is not None else 0)
    return LETTERS[_pick(list(-cost), 0.03 * q.images[1].shape[1], "epipolar line")]


def _local_transfer(c: _Cache, uv: np.ndarray, k: int = 6) -> np.ndarray | None:
    """Where the ``k`` inlier matches nearest ``uv`` in Image 1 say it lies in Image 2."""
    m = c.matches(0, 1)
    if m.F is None or len(m.uv0) < k:
        return None
    d = np.linalg.norm(m.uv0 - uv, axis=1)
    near = np.argsort(d)[:k]
    if d[near[-1]] > 0.2 * c.q.images[0].shape[1]:
        return None
    return np.median(m.uv1[near] - m.uv0[near], axis=0) + uv


def solve_pointing(q: Question) -> Answer:
    """CrossPoint correspondence pointing: local feature transfer, snapped onto the epipolar
    line of the marked point."""
    c = _Cache(q)
    cols = q.colors(q.stem)
    if not cols:
        raise Abstain("no dot colour in the question")
    ref = _ref_dots(q, [0], cols[0])[0]
    guess = _local_transfer(c, ref)
    if guess is None:
        raise Abstain("no feature matches near the marked point")
    line = c.fmat(0, 1) @ np.array([ref[0], ref[1], 1.0])
    line /= np.hypot(line[0], line[1]) + 1e-12
    p = guess - (line[:2] @ guess + line[2]) * line[:2]
    h, w = q.images[1].shape[:2]
    if not (0 <= p[0] < w and 0 <= p[1] < h):
        raise Abstain("the transferred point leaves the image")
    return (float(p[0]), float(p[1]))


SOLVERS: dict[str, Callable[[Question], Answer]] = {
    "Q1": solve_retrieval,
    "Q2": solve_retrieval,
    "Q3": solve_retrieval,
    "Q5": solve_same_object,
    "Q10": solve_scale,
    "Q13": solve_left_right,
    "Q16": solve_growth,
    "point_correspondence": solve_point_correspondence,
    "spatial_verification": solve_spatial_verification,
    "Correspondence-Judgement": solve_judgement,
    "Correspondence-Pointing": solve_pointing,
}


def solve(q: Question) -> Answer:
    """Answer ``q`` or raise :class:`Abstain` with the reason."""
    fn = SOLVERS.get(q.type)
    if fn is None:
        raise Abstain(f"the classical solver has no method for {q.type!r}")
    return fn(q)


__all__ = ["SOLVERS", "Abstain", "Question", "intersect_lines", "solve"]
