"""The CrossPoint family: point-level grounding and correspondence (docs/tasks.md, section C).

Type ids are the published CrossPoint-Bench names. Coordinate answers (grounding, pointing)
are scored inside a gold mask: the object's visible mask (``object`` level) or a part of it
(``part`` level: the top of the object for grounding; the object's pixels near the true point
for pointing). Choice answers are letters. Points are marked as coloured dots.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from crossview.geometry import unproject
from crossview.render.markers import Mark
from crossview.scene.model import View
from crossview.tasks._common import YES_NO, label_options, only, shuffled, view_pairs
from crossview.tasks._points import (
    distractor_dots,
    inside,
    min_sep_px,
    project,
    surface_points,
)
from crossview.tasks.base import (
    Candidate,
    Grounded,
    Option,
    SceneContext,
    TaskGenerator,
    TaskInfo,
    register_task,
)

FINE = "Grounding (CrossPoint)"
CORR = "Correspondence (CrossPoint)"
DESCRIBE = (
    ("shape",),
    ("color", "shape"),
    ("size", "color", "shape"),
    ("color", "material", "shape"),
    ("size", "color", "material", "shape"),
)


def describe(ctx: SceneContext, view: View, tid: int) -> dict[str, str] | None:
    """The shortest attribute description that names ``tid`` uniquely among the objects
    visible in ``view`` (any visible pixel), or None when no description is unique."""
    attrs = {
        t: ctx.scene.instances[t].attributes for t in view.track_ids if t in ctx.scene.instances
    }
    mine = attrs.get(tid)
    if not mine:
        return None
    for keys in DESCRIBE:
        if not all(k in mine for k in keys):
            continue
        d = {k: mine[k] for k in keys}
        if [t for t, a in attrs.items() if all(a.get(k) == v for k, v in d.items())] == [tid]:
            return d
    return None


def phrase_of(d: dict[str, str]) -> str:
    return " ".join(d[k] for k in ("size", "color", "material", "shape") if k in d)


def find_described(ctx: SceneContext, view: View, d: dict[str, str]) -> int:
    """The single object of ``view`` matching description ``d`` (ValueError otherwise)."""
    hits = [
        t
        for t in view.track_ids
        if t in ctx.scene.instances
        and all(ctx.scene.instances[t].attributes.get(k) == v for k, v in d.items())
    ]
    return only(hits, "description")


def top_part(ctx: SceneContext, view: View, tid: int, frac: float = 0.3) -> np.ndarray | None:
    """(H, W) bool: visible pixels of ``tid`` in the top ``frac`` of its height (world z)."""
    box = ctx.world_box(tid, view.timestep)
    if box is None or view.depth_m is None:
        return None
    mask = ctx.mask(view, tid)
    ys, xs = np.nonzero(mask)
    z = view.depth_m[ys, xs].astype(np.float64)
    ok = np.isfinite(z) & (z > 0)
    pts = unproject(
        np.stack([xs[ok], ys[ok]], 1).astype(np.float64),
        z[ok],
        view.camera.K,
        view.camera.cam_to_world,
    )
    lo, hi = box[0][2], box[1][2]
    keep = pts[:, 2] >= hi - frac * (hi - lo)
    part = np.zeros_like(mask)
    part[ys[ok][keep], xs[ok][keep]] = True
    return part


def _dot_point(q: Grounded) -> tuple[np.ndarray, int]:
    """The 3D point under the dot of Image 1 (from its depth) and the object it lies on."""
    v = q.views[0]
    m = next(m for m in q.marks if m.view == 0 and m.color == q.target["dot"])
    u, w = int(round(m.uv[0])), int(round(m.uv[1]))
    z = float(v.depth_m[w, u])
    P = unproject(np.array([[m.uv[0], m.uv[1]]]), np.array([z]), v.camera.K, v.camera.cam_to_world)[
        0
    ]
    tid = next((t for t in v.track_ids if v.mask(t)[w, u]), None)
    return P, tid


def _min_part_px(view: View) -> float:
    return 30 * view.camera.width * view.camera.height / (320 * 240)


@register_task
class FineGrainedGrounding(TaskGenerator):
    info = TaskInfo("Fine-grained Grounding", "Fine-grained grounding", "crosspoint", FINE, 0)
    phrasings = (
        "Point to {what} in the image. Answer with its pixel coordinates (x, y); the image is "
        "{w}x{h} pixels.",
        "Where is {what}? Give one point on it as pixel coordinates (x, y) in this {w}x{h} image.",
        "Locate {what} and answer with the (x, y) pixel coordinates of a point on it (image size "
        "{w}x{h}).",
    )

    def gold(self, ctx: SceneContext, view: View, tid: int, level: str) -> np.ndarray | None:
        return ctx.mask(view, tid) if level == "object" else top_part(ctx, view, tid)

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        for view in shuffled(rng, ctx.scene.views):
            for tid in shuffled(rng, ctx.well_visible_ids(view)):
                d = describe(ctx, view, tid)
                if d is None:
                    self.drop(ctx, "no_unique_description")
                    continue
                level = "object" if rng.random() < 0.5 else "part"
                mask = self.gold(ctx, view, tid, level)
                if mask is None or mask.sum() < _min_part_px(view):
                    self.drop(ctx, "gold_region_too_small")
                    continue
                what = (
                    f"the {phrase_of(d)}" if level == "object" else f"the top of the {phrase_of(d)}"
                )
                ys, xs = np.nonzero(mask)
                i = int(np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2))
                text = self.phrase(rng, what=what, w=view.camera.width, h=view.camera.height)
                yield Candidate(
                    self.info.type_id,
                    [ctx.key(view)],
                    [],
                    text,
                    [],
                    gold=0,
                    permutable=False,
                    protocol="marker",
                    answer_kind="point",
                    gold_mask=(0, mask),
                    gold_point=(float(xs[i]), float(ys[i])),
                    level=level,
                    target={"describe": d, "level": level},
                )

    def solve_point(self, ctx: SceneContext, q: Grounded) -> tuple[int, np.ndarray]:
        view = q.views[0]
        tid = find_described(ctx, view, q.target["describe"])
        return 0, self.gold(ctx, view, tid, q.target["level"])


@register_task
class VisibilityReasoning(TaskGenerator):
    info = TaskInfo("Visibility Reasoning", "Visibility reasoning", "crosspoint", CORR, 2)
    phrasings = (
        "A {dot} dot marks a point in Image 1. Is that point visible in Image 2?",
        "Is the 3D point marked with the {dot} dot in Image 1 visible (not hidden) in Image 2?",
        "Can the point under the {dot} dot of Image 1 be seen in Image 2?",
    )

    def visible(self, view: View, P: np.ndarray) -> bool | None:
        (uv,), (z,) = project(view, P)
        if not inside(view, uv[None], np.array([z]))[0]:
            return None
        d = float(view.depth_m[int(round(uv[1])), int(round(uv[0]))])
        # visible: the depth map agrees within a few mm; hidden: something at least 3 cm in
        # front; in between (grazing surfaces, edges) the answer is not certain: dropped
        if d > 0 and abs(z - d) <= max(0.004, 0.004 * z):
            return True
        if 0 < d < z - max(0.03, 0.03 * z):
            return False
        return None

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        for va, vb in view_pairs(ctx, rng):
            if va.depth_m is None or vb.depth_m is None:
                self.drop(ctx, "no_depth")
                continue
            pts, _ = surface_points(ctx, va, rng, 12)
            for P in pts:
                (uv,), (z,) = project(va, P)
                if not inside(va, uv[None], np.array([z]))[0]:
                    continue
                vis = self.visible(vb, P)
                if vis is None:
                    self.drop(ctx, "visibility_ambiguous_or_outside")
                    continue
                got = self.colored(ctx, [Mark(0, "dot", tuple(uv), "0")], [va], rng)
                if got is None:
                    continue
                marks, (dot,) = got
                yield Candidate(
                    self.info.type_id,
                    [ctx.key(va), ctx.key(vb)],
                    [],
                    self.phrase(rng, dot=dot),
                    label_options(*YES_NO),
                    gold=0 if vis else 1,
                    permutable=False,
                    protocol="marker",
                    marks=marks,
                    target={"dot": dot},
                    level="part",
                )

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        P, _ = _dot_point(q)
        vis = self.visible(q.views[1], P)
        if vis is None:
            raise ValueError("visibility is ambiguous")
        return q.option_labels.index("yes" if vis else "no")


def _correspondence(
    gen: TaskGenerator, ctx: SceneContext, rng: np.random.Generator
) -> Iterator[tuple[View, View, np.ndarray, int, np.ndarray]]:
    """(view a, view b, 3D point, its track, its pixel in b) for surface points of ``a`` that
    are visible in ``b``."""
    vr = VisibilityReasoning()
    for va, vb in view_pairs(ctx, rng):
        if va.depth_m is None or vb.depth_m is None:
            gen.drop(ctx, "no_depth")
            continue
        pts, tids = surface_points(ctx, va, rng, 8)
        for P, tid in zip(pts, tids):
            (uv,), (z,) = project(va, P)
            if not inside(va, uv[None], np.array([z]))[0] or not vr.visible(vb, P):
                gen.drop(ctx, "point_not_visible_in_both")
                continue
            yield va, vb, P, int(tid), project(vb, P)[0][0]


@register_task
class CorrespondenceJudgement(TaskGenerator):
    info = TaskInfo("Correspondence-Judgement", "Correspondence judgement", "crosspoint", CORR, 4)
    phrasings = (
        "The {dot} dot in Image 1 marks a point. Which of the coloured dots in Image 2 marks the "
        "same point?",
        "Which dot in Image 2 is the same 3D point as the {dot} dot in Image 1?",
        "Find the point of Image 1's {dot} dot in Image 2: which coloured dot is on it?",
    )

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        n = self.info.n_options
        for va, vb, P, _tid, uv_b in _correspondence(self, ctx, rng):
            pool, _ = surface_points(ctx, vb, rng, 40)
            chosen = distractor_dots(vb, uv_b, P, pool, n)
            if chosen is None:
                self.drop(ctx, "too_few_separated_distractors")
                continue
            (uv_a,), _ = project(va, P)
            marks = [Mark(0, "dot", tuple(uv_a), "0")]
            marks += [Mark(1, "dot", tuple(uv), str(i + 1)) for i, uv in enumerate(chosen)]
            got = self.colored(ctx, marks, [va, vb], rng)
            if got is None:
                continue
            marks, (dot, *colors) = got
            yield Candidate(
                self.info.type_id,
                [ctx.key(va), ctx.key(vb)],
                [],
                self.phrase(rng, dot=dot),
                [Option(text=f"the {c} dot", label=c) for c in colors],
                gold=0,
                protocol="marker",
                marks=marks,
                target={"dot": dot},
                answer_hint=" Answer with the colour of the dot.",
                level="part",
            )

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        P, _ = _dot_point(q)
        (uv,), _ = project(q.views[1], P)
        d = {m.color: float(np.linalg.norm(np.asarray(m.uv) - uv)) for m in q.marks if m.view == 1}
        return only([k for k, c in enumerate(q.option_labels) if d[c] < 1.0], "judgement")


@register_task
class CorrespondencePointing(TaskGenerator):
    info = TaskInfo("Correspondence-Pointing", "Correspondence pointing", "crosspoint", CORR, 0)
    phrasings = (
        "The {dot} dot in Image 1 marks a point. Give the pixel coordinates (x, y) of the same "
        "point in Image 2, which is {w}x{h} pixels.",
        "Where does the point under the {dot} dot of Image 1 appear in Image 2? Answer with (x, "
        "y) pixel coordinates in Image 2 ({w}x{h}).",
        "Find the point marked by the {dot} dot in Image 1 in Image 2 and answer with its pixel "
        "coordinates (x, y); Image 2 is {w}x{h} pixels.",
    )

    def gold(
        self, ctx: SceneContext, vb: View, tid: int, uv_b: np.ndarray, level: str
    ) -> np.ndarray:
        mask = ctx.mask(vb, tid)
        if level == "object":
            return mask
        yy, xx = np.mgrid[: mask.shape[0], : mask.shape[1]]
        r = min_sep_px(vb)
        return mask & ((xx - uv_b[0]) ** 2 + (yy - uv_b[1]) ** 2 <= r * r)

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        for va, vb, P, tid, uv_b in _correspondence(self, ctx, rng):
            level = "object" if rng.random() < 0.5 else "part"
            mask = self.gold(ctx, vb, tid, uv_b, level)
            u, v = int(round(uv_b[0])), int(round(uv_b[1]))
            if mask.sum() < _min_part_px(vb) or not mask[v, u]:
                self.drop(ctx, "gold_region_too_small")
                continue
            (uv_a,), _ = project(va, P)
            got = self.colored(ctx, [Mark(0, "dot", tuple(uv_a), "0")], [va], rng)
            if got is None:
                continue
            marks, (dot,) = got
            text = self.phrase(rng, dot=dot, w=vb.camera.width, h=vb.camera.height)
            yield Candidate(
                self.info.type_id,
                [ctx.key(va), ctx.key(vb)],
                [],
                text,
                [],
                gold=0,
                permutable=False,
                protocol="marker",
                answer_kind="point",
                marks=marks,
                gold_mask=(1, mask),
                gold_point=(float(uv_b[0]), float(uv_b[1])),
                level=level,
                target={"dot": dot, "level": level},
            )

    def solve_point(self, ctx: SceneContext, q: Grounded) -> tuple[int, np.ndarray]:
        P, tid = _dot_point(q)
        (uv,), _ = project(q.views[1], P)
        return 1, self.gold(ctx, q.views[1], tid, uv, q.target["level"])
