"""CrossView family, correspondence and visibility types: Q1-Q8 (docs/tasks.md, section A).

Each type proposes candidates from ground truth (track ids, visible and amodal masks) and
solves a grounded question from ground truth again, for the oracle.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from crossview.tasks._common import (
    YES_NO,
    label_options,
    object_option,
    only,
    shuffled,
    similar_first,
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

CORR = "Correspondence"
VIS = "Visibility & Occlusion"


def _retrieval(
    gen: TaskGenerator, ctx: SceneContext, rng: np.random.Generator, n: int, query_first: bool
) -> Iterator[Candidate]:
    """Object retrieval across two views: one query object, ``n`` candidates in the other view.

    ``query_first``: the query is in Image 1 and the candidates in Image 2 (Q1, Q2); otherwise
    the candidates are in Image 1 and the query in Image 2 (Q3).
    """
    qv, cv = (0, 1) if query_first else (1, 0)
    for va, vb in view_pairs(ctx, rng):
        vq, vc = (va, vb) if query_first else (vb, va)
        cand_ids = ctx.well_visible_ids(vc)
        for tid in shuffled(rng, ctx.well_visible_ids(vq)):
            if tid not in cand_ids:
                gen.drop(ctx, "query_not_visible_in_other_view")
                continue
            others = similar_first(ctx, tid, [t for t in cand_ids if t != tid], n - 1, rng)
            if others is None:
                gen.drop(ctx, "too_few_candidates")
                continue
            refs = [Ref(qv, tid), Ref(cv, tid), *(Ref(cv, t) for t in others)]
            yield Candidate(
                gen.info.type_id,
                [ctx.key(va), ctx.key(vb)],
                refs,
                gen.phrase(rng),
                [object_option(k) for k in range(1, n + 1)],
                gold=0,
                meta={"track_ids": [r.track_id for r in refs]},
            )


def _solve_same(q: Grounded, what: str) -> int:
    target = q.query[0].track_id
    return only([k for k, r in enumerate(q.option_refs) if r[0].track_id == target], what)


@register_task
class Q1(TaskGenerator):
    info = TaskInfo("Q1", "Single-object cross-view retrieval", "crossview", CORR, 4)
    phrasings = (
        "Which of the objects marked in Image 2 is the same physical object as {R0} in Image 1?",
        "{R0} in Image 1 is also seen from another camera in Image 2. Which marked "
        "object in Image 2 is it?",
        "Find {R0} from Image 1 in Image 2: which of the marked candidates is the same instance?",
    )

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        return _retrieval(self, ctx, rng, 4, query_first=True)

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        return _solve_same(q, "Q1")


@register_task
class Q2(TaskGenerator):
    info = TaskInfo("Q2", "Two-candidate retrieval", "crossview", CORR, 2)
    phrasings = (
        "Which of the two objects marked in Image 2 is {R0} from Image 1?",
        "{R0} in Image 1 appears in Image 2 as one of two marked objects. Which one?",
        "Of the two candidates marked in Image 2, which is the same physical object as "
        "{R0} in Image 1?",
    )

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        return _retrieval(self, ctx, rng, 2, query_first=True)

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        return _solve_same(q, "Q2")


@register_task
class Q3(TaskGenerator):
    info = TaskInfo("Q3", "One-of-three identification", "crossview", CORR, 3)
    phrasings = (
        "Three objects are marked in Image 1. Which of them is {R0} in Image 2?",
        "Which of the three objects marked in Image 1 is the same physical object as "
        "{R0} shown in Image 2?",
        "{R0} in Image 2 is one of the three objects marked in Image 1. Which one?",
    )

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        return _retrieval(self, ctx, rng, 3, query_first=False)

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        return _solve_same(q, "Q3")


@register_task
class Q4(TaskGenerator):
    """Three objects marked in each of two views; which pairing matches them."""

    info = TaskInfo("Q4", "Multi-object group matching", "crossview", CORR, 4)
    phrasings = (
        "Image 1 marks three objects ({C0}, {C1}, {C2}) and Image 2 marks the same three "
        "objects ({C3}, {C4}, {C5}) in another order. Which pairing matches each object in "
        "Image 1 with itself in Image 2?",
        "The objects marked {C0}, {C1} and {C2} in Image 1 are the objects marked {C3}, {C4} "
        "and {C5} in Image 2, in some order. Which matching is correct?",
        "Match the three marked objects of Image 1 ({C0}, {C1}, {C2}) to the three marked "
        "objects of Image 2 ({C3}, {C4}, {C5}). Which option pairs them correctly?",
    )

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        for va, vb in view_pairs(ctx, rng):
            shared = [t for t in ctx.well_visible_ids(va) if t in ctx.well_visible_ids(vb)]
            if len(shared) < 3:
                self.drop(ctx, "fewer_than_3_shared_objects")
                continue
            for _ in range(3):
                trio = [int(t) for t in rng.choice(shared, 3, replace=False)]
                order_b = [trio[i] for i in rng.permutation(3)]
                refs = [Ref(0, t) for t in trio] + [Ref(1, t) for t in order_b]
                perms = list(itertools.permutations(range(3)))
                # a permutation p pairs Image-1 object i with Image-2 marked object p[i]
                gold_p = tuple(order_b.index(t) for t in trio)
                wrong = [p for p in perms if p != gold_p]
                picks = [gold_p] + [wrong[i] for i in rng.choice(len(wrong), 3, replace=False)]
                options = [
                    Option(text=", ".join(f"{{C{i}}}-{{C{3 + p[i]}}}" for i in range(3)))
                    for p in picks
                ]
                yield Candidate(
                    "Q4",
                    [ctx.key(va), ctx.key(vb)],
                    refs,
                    self.phrase(rng),
                    options,
                    gold=0,
                    meta={"trio": trio, "order_b": order_b},
                )

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        good = [
            k
            for k, refs in enumerate(q.option_refs)
            if all(a.track_id == b.track_id for a, b in zip(refs[0::2], refs[1::2], strict=False))
        ]
        return only(good, "Q4")


@register_task
class Q5(TaskGenerator):
    info = TaskInfo("Q5", "Binary instance verification", "crossview", CORR, 2)
    phrasings = (
        "Are {R0} in Image 1 and {R1} in Image 2 the same physical object?",
        "Do {R0} in Image 1 and {R1} in Image 2 show the same instance?",
        "Is {R1} in Image 2 the same object as {R0} in Image 1?",
    )

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        for va, vb in view_pairs(ctx, rng):
            ids_b = ctx.well_visible_ids(vb)
            for tid in shuffled(rng, ctx.well_visible_ids(va)):
                same = tid in ids_b
                if rng.random() < 0.5 or not same:
                    other = similar_first(ctx, tid, [t for t in ids_b if t != tid], 1, rng)
                    if other is None:
                        self.drop(ctx, "no_other_object")
                        continue
                    same, partner = False, other[0]
                else:
                    partner = tid
                yield Candidate(
                    "Q5",
                    [ctx.key(va), ctx.key(vb)],
                    [Ref(0, tid), Ref(1, partner)],
                    self.phrase(rng),
                    label_options(*YES_NO),
                    gold=0 if same else 1,
                    permutable=False,
                )

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        a, b = q.query
        return q.option_labels.index("yes" if a.track_id == b.track_id else "no")


@register_task
class Q6(TaskGenerator):
    info = TaskInfo("Q6", "Cross-view visibility detection", "crossview", VIS, 2)
    phrasings = (
        "Is {R0} in Image 1 visible in Image 2?",
        "Can {R0} from Image 1 be seen in Image 2?",
        "Does {R0} in Image 1 appear anywhere in Image 2?",
    )

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        for va, vb in view_pairs(ctx, rng):
            for tid in shuffled(rng, ctx.well_visible_ids(va)):
                if vb.visible_area(tid) >= ctx.min_px(vb):
                    gold = 0
                elif ctx.absent(vb, tid):
                    gold = 1
                else:
                    self.drop(ctx, "barely_visible")
                    continue
                yield Candidate(
                    "Q6",
                    [ctx.key(va), ctx.key(vb)],
                    [Ref(0, tid)],
                    self.phrase(rng),
                    label_options(*YES_NO),
                    gold=gold,
                    permutable=False,
                    meta={"area_b": vb.visible_area(tid)},
                )

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        vb, tid = q.views[1], q.query[0].track_id
        if vb.visible_area(tid) >= ctx.min_px(vb):
            return q.option_labels.index("yes")
        if ctx.absent(vb, tid):
            return q.option_labels.index("no")
        raise ValueError("Q6: visibility is ambiguous")


@register_task
class Q7(TaskGenerator):
    info = TaskInfo("Q7", "Exclusive-presence identification", "crossview", VIS, 4)
    phrasings = (
        "Which of the objects marked in Image 1 cannot be seen in Image 2?",
        "One of the objects marked in Image 1 is not visible in Image 2. Which one?",
        "Of the marked objects in Image 1, which one is missing from Image 2?",
    )

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        for va, vb in view_pairs(ctx, rng):
            seen = ctx.well_visible_ids(va)
            hidden = [t for t in seen if ctx.absent(vb, t)]
            present = [t for t in seen if vb.visible_area(t) >= ctx.min_px(vb)]
            if not hidden:
                self.drop(ctx, "nothing_hidden_in_other_view")
                continue
            for tid in shuffled(rng, hidden):
                others = similar_first(ctx, tid, present, 3, rng)
                if others is None:
                    self.drop(ctx, "too_few_visible_distractors")
                    continue
                refs = [Ref(0, t) for t in [tid, *others]]
                yield Candidate(
                    "Q7",
                    [ctx.key(va), ctx.key(vb)],
                    refs,
                    self.phrase(rng),
                    [object_option(k) for k in range(4)],
                    gold=0,
                )

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        vb = q.views[1]
        absent = [k for k, r in enumerate(q.option_refs) if ctx.absent(vb, r[0].track_id)]
        present = [
            k
            for k, r in enumerate(q.option_refs)
            if vb.visible_area(r[0].track_id) >= ctx.min_px(vb)
        ]
        if len(absent) + len(present) != len(q.option_refs):
            raise ValueError("Q7: an option is barely visible")
        return only(absent, "Q7")


def occluder_shares(ctx: SceneContext, view, tid: int) -> tuple[float, dict[int, float]] | None:
    """(hidden fraction of ``tid``, share of its hidden pixels covered by each other object)."""
    amodal = ctx.amodal(view, tid)
    if amodal is None or not amodal.any():
        return None
    hidden = amodal & ~ctx.mask(view, tid)
    n_hidden = int(hidden.sum())
    frac = n_hidden / int(amodal.sum())
    if n_hidden == 0:
        return frac, {}
    shares = {
        o: float((hidden & ctx.mask(view, o)).sum()) / n_hidden for o in view.track_ids if o != tid
    }
    return frac, shares


@register_task
class Q8(TaskGenerator):
    info = TaskInfo("Q8", "Occluder source localization", "crossview", VIS, 4)
    phrasings = (
        "{R0} in Image 1 is partly hidden in Image 2. Which of the objects marked in "
        "Image 2 hides it?",
        "In Image 2 something blocks part of {R0} from Image 1. Which marked object "
        "in Image 2 is the occluder?",
        "Which marked object in Image 2 occludes {R0} seen in Image 1?",
    )

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        q = ctx.q
        for va, vb in view_pairs(ctx, rng):
            if vb.masks.amodal is None:
                self.drop(ctx, "no_amodal_masks")
                continue
            for tid in shuffled(rng, ctx.well_visible_ids(va)):
                if vb.visible_area(tid) < ctx.min_px(vb):
                    self.drop(ctx, "not_visible_in_other_view")
                    continue
                frac, shares = occluder_shares(ctx, vb, tid) or (0.0, {})
                if frac < q.occluded_min_fraction:
                    self.drop(ctx, "not_occluded_enough")
                    continue
                best = max(shares, key=shares.get, default=None)
                if best is None or shares[best] < q.occluder_share:
                    self.drop(ctx, "occluder_not_an_object_or_not_unique")
                    continue
                if not ctx.well_visible(vb, best):
                    self.drop(ctx, "occluder_barely_visible")
                    continue
                pool = [
                    o
                    for o in ctx.well_visible_ids(vb)
                    if o not in (tid, best) and shares.get(o, 0.0) <= q.occluder_other_max
                ]
                others = similar_first(ctx, best, pool, 3, rng)
                if others is None:
                    self.drop(ctx, "too_few_candidates")
                    continue
                refs = [Ref(0, tid)] + [Ref(1, t) for t in [best, *others]]
                yield Candidate(
                    "Q8",
                    [ctx.key(va), ctx.key(vb)],
                    refs,
                    self.phrase(rng),
                    [object_option(k) for k in range(1, 5)],
                    gold=0,
                    meta={"hidden_fraction": frac, "share": shares[best]},
                )

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        vb = q.views[1]
        _, shares = occluder_shares(ctx, vb, q.query[0].track_id) or (0.0, {})
        good = [
            k
            for k, r in enumerate(q.option_refs)
            if shares.get(r[0].track_id, 0.0) >= ctx.q.occluder_share
        ]
        return only(good, "Q8")
