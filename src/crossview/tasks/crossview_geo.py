"""CrossView family, geometric and physical types: Q9-Q17 (docs/tasks.md, section A).

Answers come from 3D centres (poses), projected areas (amodal when known), visible fractions,
camera-frame depth, projected centres and contacts; each type drops candidates whose answer
is within its margin (:class:`crossview.tasks.base.QualityConfig`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from crossview.scene.model import View
from crossview.tasks._common import (
    YES_NO,
    argmax_with_margin,
    label_options,
    object_option,
    only,
    shuffled,
    time_pairs,
    view_pairs,
)
from crossview.tasks.base import (
    Candidate,
    Grounded,
    Option,
    Ref,
    SceneContext,
    TaskGenerator,
    TaskInfo,
    register_task,
)

GEO = "Geometric"
PHYS = "Physical Reasoning"


def _margin_ratio(ratio: float, floor: float = 0.0):
    return lambda best, second: best >= ratio * second and best - second >= floor


def _most_of_four(
    gen: TaskGenerator,
    ctx: SceneContext,
    rng: np.random.Generator,
    va: View,
    vb: View,
    shared: list[int],
    value,
    margin_ok,
    rule: str,
    meta_key: str,
) -> Candidate | None:
    """Four objects marked in both images (same colour in each); the gold is the one with the
    largest ``value(track)``, which must beat the runner-up by ``margin_ok(best, second)``."""
    cands = [int(t) for t in rng.choice(shared, 4, replace=False)]
    vals = [value(t) for t in cands]
    k = argmax_with_margin(vals, margin_ok)
    if k is None:
        gen.drop(ctx, rule)
        return None
    cands.insert(0, cands.pop(k))
    return Candidate(
        gen.info.type_id,
        [ctx.key(va), ctx.key(vb)],
        [Ref(0, t) for t in cands] + [Ref(1, t) for t in cands],
        gen.phrase(rng),
        [object_option(i) for i in range(4)],
        gold=0,
        same_color=[[i, i + 4] for i in range(4)],
        meta={meta_key: sorted(vals, reverse=True)},
    )


@register_task
class Q9(TaskGenerator):
    info = TaskInfo("Q9", "Cross-view nearest-neighbour retrieval", "crossview", GEO, 4)
    phrasings = (
        "Which of the objects marked in Image 2 is closest in 3D space to {R0} in Image 1?",
        "In the real scene, which marked object in Image 2 is nearest to {R0} from Image 1?",
        "Of the candidates marked in Image 2, which one is physically nearest to {R0} "
        "shown in Image 1?",
    )

    def distances(self, ctx: SceneContext, t: int, tid: int, cands: list[int]) -> list[float]:
        c = ctx.center(tid, t)
        return [float(np.linalg.norm(ctx.center(o, t) - c)) for o in cands]

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        q = ctx.q
        for va, vb in view_pairs(ctx, rng):
            for tid in shuffled(rng, ctx.well_visible_ids(va)):
                if ctx.center(tid, va.timestep) is None:
                    self.drop(ctx, "no_3d_pose")
                    continue
                pool = [o for o in ctx.well_visible_ids(vb) if o != tid]
                if len(pool) < 4:
                    self.drop(ctx, "too_few_candidates")
                    continue
                cands = [int(o) for o in rng.choice(pool, 4, replace=False)]
                d = self.distances(ctx, va.timestep, tid, cands)
                k = argmax_with_margin(
                    [-x for x in d],
                    lambda b, s: (-s) - (-b) >= max(q.nn_gap_m, q.nn_gap_ratio * -b),
                )
                if k is None:
                    self.drop(ctx, "nearest_not_unique")
                    continue
                cands.insert(0, cands.pop(k))
                refs = [Ref(0, tid)] + [Ref(1, o) for o in cands]
                yield Candidate(
                    "Q9",
                    [ctx.key(va), ctx.key(vb)],
                    refs,
                    self.phrase(rng),
                    [object_option(i) for i in range(1, 5)],
                    gold=0,
                    meta={"distances_m": sorted(d)},
                )

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        t = q.views[0].timestep
        d = self.distances(ctx, t, q.query[0].track_id, [r[0].track_id for r in q.option_refs])
        best = min(d)
        return only([k for k, x in enumerate(d) if x - best < ctx.q.nn_gap_m], "Q9")


@register_task
class Q10(TaskGenerator):
    info = TaskInfo("Q10", "Scale change detection", "crossview", GEO, 3)
    phrasings = (
        "Compared with Image 1, does {R0} look larger, smaller or about the same "
        "size in Image 2, where it is {R1}?",
        "{R0} in Image 1 and {R1} in Image 2 are the same object. Does it appear larger, "
        "smaller or about the same in Image 2 than in Image 1?",
        "How does the apparent size of {R0} in Image 1 change in Image 2, where it is "
        "{R1}: larger, smaller, or about the same?",
    )
    LABELS = (("Larger", "larger"), ("Smaller", "smaller"), ("About the same", "about the same"))

    def label(self, ctx: SceneContext, va: View, vb: View, tid: int) -> str | None:
        """The size change by amodal area, when the visible area says the same (a change in
        occlusion must not make the object look the other way); None in a dead band."""
        amodal = self._label(ctx, ctx.apparent_area(vb, tid) / max(1, ctx.apparent_area(va, tid)))
        visible = self._label(ctx, vb.visible_area(tid) / max(1, va.visible_area(tid)))
        return amodal if amodal == visible else None

    @staticmethod
    def _label(ctx: SceneContext, ratio: float) -> str | None:
        q = ctx.q
        if ratio >= q.scale_larger:
            return "larger"
        if ratio <= 1 / q.scale_larger:
            return "smaller"
        if 1 / q.scale_same <= ratio <= q.scale_same:
            return "about the same"
        return None

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        for va, vb in view_pairs(ctx, rng):
            ids_b = ctx.well_visible_ids(vb)
            for tid in shuffled(rng, ctx.well_visible_ids(va)):
                if tid not in ids_b:
                    self.drop(ctx, "not_visible_in_both")
                    continue
                label = self.label(ctx, va, vb, tid)
                if label is None:
                    self.drop(ctx, "ratio_in_dead_band_or_visible_disagrees")
                    continue
                options = label_options(*self.LABELS)
                gold = [o.label for o in options].index(label)
                yield Candidate(
                    "Q10",
                    [ctx.key(va), ctx.key(vb)],
                    [Ref(0, tid), Ref(1, tid)],
                    self.phrase(rng),
                    options,
                    gold=gold,
                    same_color=[[0, 1]],
                )

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        label = self.label(ctx, q.views[0], q.views[1], q.query[0].track_id)
        return q.option_labels.index(label)


def _completeness(view: View, tid: int) -> float:
    frac = view.visible_fraction(tid)
    if frac is None:
        raise ValueError("completeness needs amodal masks")
    return frac


def _cut_off(view: View, tid: int) -> bool:
    """Whether the object's completeness is only bounded: it reaches the image border and the
    source did not measure its silhouette beyond it, so its true completeness is at most the
    measured one. It may then be a distractor, never the most complete."""
    return not view.fraction_exact(tid)


def _distinct_triples(pool: list[int], n: int, rng: np.random.Generator) -> list[list[int]]:
    """Up to ``n`` different random 3-subsets of ``pool`` (each in random order)."""
    out: list[list[int]] = []
    seen: set[frozenset[int]] = set()
    for _ in range(4 * n):
        pick = [int(t) for t in rng.choice(pool, 3, replace=False)]
        if frozenset(pick) not in seen:
            seen.add(frozenset(pick))
            out.append(pick)
        if len(out) == n:
            break
    return out


@register_task
class Q11(TaskGenerator):
    info = TaskInfo("Q11", "Single-view completeness comparison", "crossview", GEO, 4)
    phrasings = (
        "Which of the marked objects is the most completely visible in this image?",
        "Of the objects marked in the image, which one is least hidden (the largest part of it "
        "visible)?",
        "Which marked object shows the largest fraction of itself, with the least of it occluded "
        "or cut off?",
    )

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        first: list[Candidate] = []
        later: list[Candidate] = []
        for view in shuffled(rng, ctx.scene.views):
            if view.masks.amodal is None:
                self.drop(ctx, "no_amodal_masks")
                continue
            ids = [t for t in view.track_ids if view.visible_area(t) >= ctx.min_px(view)]
            if len(ids) < 4:
                self.drop(ctx, "too_few_objects")
                continue
            frac = {t: _completeness(view, t) for t in ids}
            for gold in shuffled(rng, ids):
                if _cut_off(view, gold):
                    self.drop(ctx, "gold_cut_off_by_the_image_border")
                    continue
                # distractors clearly less complete than the gold, so the answer is unique
                pool = [t for t in ids if frac[t] <= frac[gold] - ctx.q.completeness_gap]
                if len(pool) < 3:
                    self.drop(ctx, "completeness_not_unique")
                    continue
                # with more clearly less complete objects than needed, other sets of
                # distractors make other questions (views where one object stands out against
                # three others are few: 14 of 120 on the quickstart scenes); up to 4 sets, so
                # that the balancer finds some where the gold is not the largest object. Sets
                # after the first are proposed after every first set (a scene's cap takes
                # distinct golds first)
                tries = 4 if len(pool) >= 4 else 1
                for n, others in enumerate(_distinct_triples(pool, tries, rng)):
                    cands = [gold, *others]
                    (first if n == 0 else later).append(
                        Candidate(
                            "Q11",
                            [ctx.key(view)],
                            [Ref(0, t) for t in cands],
                            self.phrase(rng),
                            [object_option(i) for i in range(4)],
                            gold=0,
                            meta={"fractions": [frac[t] for t in cands]},
                        )
                    )
        yield from first
        yield from later

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        fr = [_completeness(q.views[0], r[0].track_id) for r in q.option_refs]
        return only([k for k, f in enumerate(fr) if f >= max(fr) - 1e-12], "Q11")


@register_task
class Q12(TaskGenerator):
    info = TaskInfo("Q12", "Cross-view completeness comparison", "crossview", GEO, 4)
    phrasings = (
        "{R0} is marked in every image. In which image is it most completely visible?",
        "Which image shows {R0}, marked in each image, most completely, with the "
        "least of it hidden?",
        "The same physical object, {R0}, is marked in all four images. In "
        "which image is the largest fraction of it visible?",
    )

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        # any four views of the scene, across cameras and timesteps
        views = ctx.scene.views
        if len(views) < 4 or views[0].masks.amodal is None:
            self.drop(ctx, "fewer_than_4_views_or_no_amodal")
            return
        first: list[Candidate] = []
        later: list[Candidate] = []
        for tid in shuffled(rng, sorted(ctx.scene.instances)):
            seen = [v for v in views if v.visible_area(tid) >= ctx.min_px(v)]
            if len(seen) < 4:
                self.drop(ctx, "visible_in_fewer_than_4_views")
                continue
            frac = {v.view_id: _completeness(v, tid) for v in seen}
            for best in shuffled(rng, seen):
                if _cut_off(best, tid):
                    self.drop(ctx, "gold_cut_off_by_the_image_border")
                    continue
                worse = [
                    v
                    for v in seen
                    if frac[v.view_id] <= frac[best.view_id] - ctx.q.completeness_gap
                ]
                if len(worse) < 3:
                    self.drop(ctx, "completeness_not_unique")
                    continue
                # a second set of other views when more than three are clearly less complete,
                # as in Q11 (the views where one stands out are few); proposed after every
                # first set, so that a scene's cap takes distinct golds first
                sets = _distinct_triples(list(range(len(worse))), 2 if len(worse) >= 4 else 1, rng)
                for n, picks in enumerate(sets):
                    chosen = [best, *(worse[k] for k in picks)]
                    (first if n == 0 else later).append(
                        Candidate(
                            "Q12",
                            [ctx.key(v) for v in chosen],
                            [Ref(i, tid) for i in range(4)],
                            self.phrase(rng),
                            [Option(text=f"Image {i + 1}", view=i) for i in range(4)],
                            gold=0,
                            same_color=[[0, 1, 2, 3]],
                            meta={"fractions": [frac[v.view_id] for v in chosen]},
                        )
                    )
        yield from first
        yield from later

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        tid = q.query[0].track_id
        fr = [_completeness(q.views[v], tid) for v in q.option_views]
        return only([k for k, f in enumerate(fr) if f >= max(fr) - 1e-12], "Q12")


class _PairOrder(TaskGenerator):
    """Two objects in a stated order in Image 1 (left of / nearer than): is that order kept
    in Image 2? Subclasses give the signed measure, its drop reason and the two labels."""

    too_close = ""
    """Drop reason when the measure is within its margin in either image."""
    kept_flipped: tuple[tuple[str, str], tuple[str, str]] = (("", ""), ("", ""))
    """(text, label) of the option for "order kept", then for "order flipped"."""

    def signed(self, ctx: SceneContext, view: View, a: int, b: int) -> float | None:
        """The measure from a to b in ``view``, positive in the stated order; None within its
        margin."""
        raise NotImplementedError

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        for va, vb in view_pairs(ctx, rng):
            shared = [t for t in ctx.well_visible_ids(va) if t in ctx.well_visible_ids(vb)]
            for _ in range(min(6, len(shared) * (len(shared) - 1) // 2)):
                a, b = (int(x) for x in rng.choice(shared, 2, replace=False))
                sa, sb = self.signed(ctx, va, a, b), self.signed(ctx, vb, a, b)
                if sa is None or sb is None:
                    self.drop(ctx, self.too_close)
                    continue
                if sa < 0:  # name them in the order Image 1 shows
                    a, b, sb = b, a, -sb
                refs = [Ref(0, a), Ref(0, b), Ref(1, a), Ref(1, b)]
                yield Candidate(
                    self.info.type_id,
                    [ctx.key(va), ctx.key(vb)],
                    refs,
                    self.phrase(rng),
                    label_options(*self.kept_flipped),
                    gold=0 if sb > 0 else 1,
                    permutable=False,
                    same_color=[[0, 2], [1, 3]],
                )

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        a, b = q.query[0].track_id, q.query[1].track_id
        sa, sb = self.signed(ctx, q.views[0], a, b), self.signed(ctx, q.views[1], a, b)
        if sa is None or sb is None or sa <= 0:
            raise ValueError(
                f"{self.info.type_id}: the stated order in Image 1 is wrong or too close"
            )
        return q.option_labels.index(self.kept_flipped[0 if sb > 0 else 1][1])


@register_task
class Q13(_PairOrder):
    info = TaskInfo("Q13", "Left-right arrangement flip detection", "crossview", GEO, 2)
    phrasings = (
        "In Image 1, {R0} is to the left of {R1}. In Image 2 the same two "
        "objects are {R2} and {R3}. Is their left-right order the same or flipped?",
        "{R0} appears left of {R1} in Image 1. Seen in Image 2, where they are "
        "{R2} and {R3}, is the left-right order kept or reversed?",
        "Image 1: {R0} is left of {R1}. Image 2 shows the same objects as {R2} and {R3}. Same "
        "left-right order, or flipped?",
    )

    too_close = "left_right_too_close"
    kept_flipped = (("The same", "same"), ("Flipped", "flipped"))

    def signed(self, ctx: SceneContext, view: View, a: int, b: int) -> float | None:
        """u(b) - u(a) of the projected centres when clearly separated, else None."""
        pa, pb = ctx.project_center(view, a), ctx.project_center(view, b)
        if pa is None or pb is None:
            return None
        du = float(pb[0][0] - pa[0][0])
        return du if abs(du) >= ctx.q.lr_min_px * view.camera.width else None


@register_task
class Q14(TaskGenerator):
    info = TaskInfo("Q14", "Cross-view displacement comparison", "crossview", GEO, 4)
    phrasings = (
        "Image 1 was taken before Image 2. Which of the marked objects moved the farthest "
        "between the two moments?",
        "Between Image 1 (earlier) and Image 2 (later), which marked object was displaced the "
        "most in the scene?",
        "The marked objects appear in Image 1 and again, later, in Image 2. Which one travelled "
        "the largest distance?",
    )

    def displacement(self, ctx: SceneContext, t0: int, t1: int, tid: int) -> float:
        return float(np.linalg.norm(ctx.center(tid, t1) - ctx.center(tid, t0)))

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        q = ctx.q
        pairs = time_pairs(ctx, rng)
        if not pairs:
            self.drop(ctx, "single_timestep")
        for va, vb in pairs:
            shared = [
                t
                for t in ctx.well_visible_ids(va)
                if t in ctx.well_visible_ids(vb) and ctx.center(t, 0) is not None
            ]
            if len(shared) < 4:
                self.drop(ctx, "too_few_objects_in_both")
                continue
            cand = _most_of_four(
                self,
                ctx,
                rng,
                va,
                vb,
                shared,
                lambda t, va=va, vb=vb: self.displacement(ctx, va.timestep, vb.timestep, t),
                lambda b, s: b >= q.displacement_ratio * s and b >= q.displacement_min_m,
                "largest_move_not_unique",
                "displacements_m",
            )
            if cand is not None:
                yield cand

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        t0, t1 = q.views[0].timestep, q.views[1].timestep
        d = [self.displacement(ctx, t0, t1, r[0].track_id) for r in q.option_refs]
        return only([k for k, x in enumerate(d) if x >= max(d) - 1e-9], "Q14")


@register_task
class Q15(_PairOrder):
    info = TaskInfo("Q15", "Depth-relation consistency", "crossview", GEO, 2)
    phrasings = (
        "In Image 1, {R0} is closer to the camera than {R1}. In Image 2, "
        "where they are {R2} and {R3}, is {R2} still closer to the camera than {R3}?",
        "From the camera of Image 1, {R0} is nearer than {R1}. From the camera of Image 2, "
        "where the same objects are {R2} and {R3}, is {R2} still the nearer one?",
        "Image 1: {R0} is in front of {R1} in depth. Does that still hold in Image 2, for {R2} "
        "and {R3}?",
    )

    too_close = "depth_gap_too_small"
    kept_flipped = YES_NO

    def signed(self, ctx: SceneContext, view: View, a: int, b: int) -> float | None:
        """z(b) - z(a) in the view's camera frame (m) when beyond the margin, else None."""
        pa, pb = ctx.project_center(view, a), ctx.project_center(view, b)
        if pa is None or pb is None:
            return None
        dz = pb[1] - pa[1]
        return dz if abs(dz) >= ctx.q.depth_gap_m else None


@register_task
class Q16(TaskGenerator):
    info = TaskInfo("Q16", "Relative scale-growth comparison", "crossview", GEO, 4)
    phrasings = (
        "From Image 1 to Image 2, which of the marked objects grows the most in apparent size?",
        "Going from the view of Image 1 to the view of Image 2, which marked object becomes "
        "relatively the largest compared to how it looked before?",
        "Which marked object has the biggest increase in apparent size from Image 1 to Image 2?",
    )

    def growth(self, ctx: SceneContext, va: View, vb: View, tid: int) -> float:
        return ctx.apparent_area(vb, tid) / max(1, ctx.apparent_area(va, tid))

    def visible_growth(self, va: View, vb: View, tid: int) -> float:
        return vb.visible_area(tid) / max(1, va.visible_area(tid))

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        for va, vb in view_pairs(ctx, rng):
            shared = [t for t in ctx.well_visible_ids(va) if t in ctx.well_visible_ids(vb)]
            if len(shared) < 4:
                self.drop(ctx, "too_few_objects_in_both")
                continue
            cand = _most_of_four(
                self,
                ctx,
                rng,
                va,
                vb,
                shared,
                lambda t, va=va, vb=vb: self.growth(ctx, va, vb, t),
                lambda b, s: b >= ctx.q.growth_ratio * s,
                "growth_not_unique",
                "growth",
            )
            if cand is None:
                continue
            # the visible areas must tell the same story, by the same margin: an object that
            # is uncovered between the views grows visibly without growing in amodal size
            vis = [self.visible_growth(va, vb, r.track_id) for r in cand.refs[:4]]
            if argmax_with_margin(vis, lambda b, s: b >= ctx.q.growth_ratio * s) != 0:
                self.drop(ctx, "visible_growth_disagrees")
                continue
            yield cand

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        g = [self.growth(ctx, q.views[0], q.views[1], r[0].track_id) for r in q.option_refs]
        return only([k for k, x in enumerate(g) if x >= max(g) - 1e-12], "Q16")


def images_overlap(ctx: SceneContext, view: View, a: int, b: int) -> bool:
    """Whether two objects overlap in the image: amodal masks intersect, or visible masks touch."""
    am_a, am_b = ctx.amodal(view, a), ctx.amodal(view, b)
    if am_a is not None and (am_a & am_b).any():
        return True
    import cv2

    grown = cv2.dilate(ctx.mask(view, a).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return bool((grown & ctx.mask(view, b)).any())


def box_gap(ctx: SceneContext, t: int, a: int, b: int) -> float | None:
    """Gap (m) between the world bounding boxes of two objects at t; 0 when they intersect."""
    ba, bb = ctx.world_box(a, t), ctx.world_box(b, t)
    if ba is None or bb is None:
        return None
    sep = np.maximum(0.0, np.maximum(ba[0] - bb[1], bb[0] - ba[1]))
    return float(np.linalg.norm(sep))


@register_task
class Q17(TaskGenerator):
    info = TaskInfo("Q17", "Visual overlap vs. physical contact", "crossview", PHYS, 2)
    phrasings = (
        "{R0} and {R1} overlap in Image 1. Are they physically touching each other "
        "in 3D? Image 2 shows them from another camera, as {R2} and {R3}.",
        "In Image 1, {R0} and {R1} overlap on screen. Image 2 shows them as {R2} and "
        "{R3}. Are the two objects in contact in the real scene?",
        "Do {R0} and {R1}, which overlap in Image 1, actually touch each other? "
        "In Image 2 they are {R2} and {R3}.",
    )

    def touching(self, ctx: SceneContext, t: int, a: int, b: int) -> bool | None:
        contact = ctx.scene.in_contact(a, b, t)
        if contact:
            return True
        gap = box_gap(ctx, t, a, b)
        if contact is None or gap is None or gap < ctx.q.contact_gap_m:
            return None
        return False

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        if ctx.scene.contacts is None:
            self.drop(ctx, "no_contact_data")
            return
        for va, vb in view_pairs(ctx, rng):
            ids = ctx.well_visible_ids(va)
            ids_b = ctx.well_visible_ids(vb)
            pairs = [
                (a, b) for i, a in enumerate(ids) for b in ids[i + 1 :] if a in ids_b and b in ids_b
            ]
            for a, b in shuffled(rng, pairs):
                if not images_overlap(ctx, va, a, b):
                    self.drop(ctx, "no_overlap_in_image")
                    continue
                touch = self.touching(ctx, va.timestep, a, b)
                if touch is None:
                    self.drop(ctx, "contact_ambiguous")
                    continue
                if rng.random() < 0.5:
                    a, b = b, a
                refs = [Ref(0, a), Ref(0, b), Ref(1, a), Ref(1, b)]
                yield Candidate(
                    "Q17",
                    [ctx.key(va), ctx.key(vb)],
                    refs,
                    self.phrase(rng),
                    label_options(*YES_NO),
                    gold=0 if touch else 1,
                    permutable=False,
                    same_color=[[0, 2], [1, 3]],
                )

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        a, b = q.query[0].track_id, q.query[1].track_id
        if not images_overlap(ctx, q.views[0], a, b):
            raise ValueError("Q17: the objects do not overlap in Image 1")
        touch = self.touching(ctx, q.views[0].timestep, a, b)
        if touch is None:
            raise ValueError("Q17: contact is ambiguous")
        return q.option_labels.index("yes" if touch else "no")
