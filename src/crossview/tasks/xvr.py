"""The XVR family: point-, arrow- and camera-level cross-view questions (docs/tasks.md, section B).

Markers (coloured dots and arrows) are drawn into the images (the ``marker`` protocol); answers
are colours or image numbers. The oracle re-derives each answer from the drawn markers and the
cameras alone: it triangulates marked points from the reference images, projects them, and
compares; camera questions compare camera poses, roles and timestamps.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import ClassVar

import numpy as np

from crossview.geometry import camera_relation, epipolar_distance, fundamental_matrix, triangulate
from crossview.render.markers import Mark
from crossview.render.metrics import ssim
from crossview.scene.model import Scene, View
from crossview.tasks._common import only, shuffled
from crossview.tasks._points import (
    distractor_dots,
    free_points,
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
    ViewKey,
    register_task,
)

# XVR's three categories (Correspondence, Verification, Localization), qualified so that a
# report over several families does not merge them with CrossView's "Correspondence"
CORR_X = "Correspondence (XVR)"
VERIFY = "Verification (XVR)"
LOCATE = "Localization (XVR)"
COLOR_HINT = " Answer with the colour of the marker."
IMAGE_HINT = " Answer with the image number."


def _triples(ctx: SceneContext, rng: np.random.Generator, k: int) -> list[list[View]]:
    """Ordered k-tuples of views of distinct cameras at one timestep, shuffled (capped)."""
    out = []
    for t in ctx.timesteps:
        vs = ctx.views_at(t)
        out += [list(c) for c in itertools.permutations(vs, k)]
    out = shuffled(rng, out)
    return out[:60]


def _color_options(colors: list[str]) -> list[Option]:
    return [Option(text=c, label=c) for c in colors]


def _image_options(views: list[int]) -> list[Option]:
    return [Option(text=f"Image {v + 1}", view=v) for v in views]


def _point(ctx: SceneContext, ref: View, rng: np.random.Generator) -> np.ndarray | None:
    """A 3D point: on a visible surface of ``ref`` (70%) or in free space above the table."""
    if rng.random() < 0.7:
        pts, _ = surface_points(ctx, ref, rng, 1)
        if len(pts):
            return pts[0]
    return free_points(ctx, ref.timestep, rng, 1)[0]


def _marks_of(q: Grounded, view: int, color: str | None = None) -> list[Mark]:
    return [m for m in q.marks if m.view == view and (color is None or m.color == color)]


def _tri(q: Grounded, marks: list[Mark], end: bool = False) -> tuple[np.ndarray, np.ndarray]:
    uv = np.array([m.uv_end if end else m.uv for m in marks])
    K = np.array([q.views[m.view].camera.K for m in marks])
    c2w = np.array([q.views[m.view].camera.cam_to_world for m in marks])
    return triangulate(uv, K, c2w)


@register_task
class PointCorrespondence(TaskGenerator):
    info = TaskInfo("point_correspondence", "Point correspondence", "xvr", CORR_X, 5)
    needs: ClassVar[frozenset[str]] = frozenset({"calibration"})
    phrasings = (
        "Images 1 and 2 mark one 3D point with a {ref} dot. Image 3 shows several coloured dots. "
        "Which dot in Image 3 marks the same 3D point?",
        "The {ref} dots in Image 1 and Image 2 are the same point in space. Which of the coloured "
        "dots in Image 3 is that point (it may be hidden behind an object)?",
        "A point in the scene is marked {ref} in Images 1 and 2. Which coloured dot in Image 3 "
        "lies on the same point?",
    )

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        n = self.info.n_options
        for r1, r2, tg in _triples(ctx, rng, 3):
            P = _point(ctx, r1, rng)
            uvs = [project(v, P) for v in (r1, r2, tg)]
            if not all(inside(v, uv, z)[0] for v, (uv, z) in zip((r1, r2, tg), uvs)):
                self.drop(ctx, "point_outside_an_image")
                continue
            gold_uv = uvs[2][0][0]
            # distractors drawn as the gold point is: on a surface (70%) or in free space
            surf = surface_points(ctx, tg, rng, 60)[0]
            free = free_points(ctx, tg.timestep, rng, 60)
            use_free = rng.random(60) >= 0.7
            pool = np.concatenate([surf[~use_free[: len(surf)]], free[use_free]])
            pool = pool[rng.permutation(len(pool))]
            chosen = distractor_dots(tg, gold_uv, P, pool, n)
            if chosen is None:
                self.drop(ctx, "too_few_separated_distractors")
                continue
            marks = [
                Mark(0, "dot", tuple(uvs[0][0][0]), "0"),
                Mark(1, "dot", tuple(uvs[1][0][0]), "0"),
            ]
            marks += [Mark(2, "dot", tuple(uv), str(i + 1)) for i, uv in enumerate(chosen)]
            got = self.colored(ctx, marks, [r1, r2, tg], rng)
            if got is None:
                continue
            marks, (ref, *colors) = got
            yield Candidate(
                self.info.type_id,
                [ctx.key(v) for v in (r1, r2, tg)],
                [],
                self.phrase(rng, ref=ref),
                _color_options(colors),
                gold=0,
                protocol="marker",
                marks=marks,
                answer_hint=COLOR_HINT,
                meta={"point_world": P.tolist()},
            )

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        labels = set(q.option_labels)
        ref = [m for m in q.marks if m.view in (0, 1) and m.color not in labels]
        P, err = _tri(q, ref)
        if err.max() > 1.0:
            raise ValueError("reference dots are not one 3D point")
        uv = project(q.views[2], P)[0][0]
        d = {m.color: float(np.linalg.norm(np.asarray(m.uv) - uv)) for m in _marks_of(q, 2)}
        return only([k for k, c in enumerate(q.option_labels) if d[c] < 1.0], "point_corr")


@register_task
class DirectionalCorrespondence(TaskGenerator):
    info = TaskInfo("directional_correspondence", "Directional correspondence", "xvr", CORR_X, 4)
    needs: ClassVar[frozenset[str]] = frozenset({"calibration"})
    phrasings = (
        "Images 1 and 2 show one direction in 3D space as a {ref} arrow. Which coloured arrow in "
        "Image 3 points in the same 3D direction?",
        "The {ref} arrows in Image 1 and Image 2 are the same 3D arrow. Which of the arrows in "
        "Image 3 is it?",
        "A 3D direction is drawn as a {ref} arrow in Images 1 and 2. In Image 3, which coloured "
        "arrow shows the same direction?",
    )

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        n = self.info.n_options
        for r1, r2, tg in _triples(ctx, rng, 3):
            A = _point(ctx, r1, rng)
            length = float(rng.uniform(0.08, 0.14))
            dirs = rng.normal(size=(24, 3))
            dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
            gold = dirs[0]
            ok_views = True
            ends = []
            for v in (r1, r2, tg):
                (a_uv, b_uv), z = project(v, np.stack([A, A + length * gold]))
                if (
                    not inside(v, np.stack([a_uv, b_uv]), z).all()
                    or np.linalg.norm(b_uv - a_uv) < 0.08 * v.camera.width
                ):
                    ok_views = False
                    break
                ends.append((a_uv, b_uv))
            if not ok_views:
                self.drop(ctx, "arrow_outside_or_too_short")
                continue
            a_t = ends[2][0]
            angles = [np.arctan2(*(ends[2][1] - a_t)[::-1])]
            chosen = [(ends[2][1], gold)]
            for d in dirs[1:]:
                if np.degrees(np.arccos(np.clip(d @ gold, -1, 1))) < 60:
                    continue
                (_, b_uv), z = project(tg, np.stack([A, A + length * d]))
                if (
                    z.min() <= 1e-3
                    or not inside(tg, b_uv[None], z[1:])[0]
                    or np.linalg.norm(b_uv - a_t) < 0.08 * tg.camera.width
                ):
                    continue
                ang = np.arctan2(*(b_uv - a_t)[::-1])
                if all(
                    abs((ang - a + np.pi) % (2 * np.pi) - np.pi) >= np.radians(35) for a in angles
                ):
                    angles.append(ang)
                    chosen.append((b_uv, d))
                if len(chosen) == n:
                    break
            if len(chosen) < n:
                self.drop(ctx, "too_few_distinct_directions")
                continue
            marks = [Mark(i, "arrow", tuple(ends[i][0]), "0", tuple(ends[i][1])) for i in (0, 1)]
            marks += [
                Mark(2, "arrow", tuple(a_t), str(i + 1), tuple(b))
                for i, (b, _) in enumerate(chosen)
            ]
            got = self.colored(ctx, marks, [r1, r2, tg], rng)
            if got is None:
                continue
            marks, (ref, *colors) = got
            yield Candidate(
                self.info.type_id,
                [ctx.key(v) for v in (r1, r2, tg)],
                [],
                self.phrase(rng, ref=ref),
                _color_options(colors),
                gold=0,
                protocol="marker",
                marks=marks,
                answer_hint=COLOR_HINT,
                meta={"tail_world": A.tolist(), "direction": gold.tolist()},
            )

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        labels = set(q.option_labels)
        ref = [m for m in q.marks if m.view in (0, 1) and m.color not in labels]
        A, ea = _tri(q, ref)
        B, eb = _tri(q, ref, end=True)
        if max(ea.max(), eb.max()) > 1.0:
            raise ValueError("reference arrows are not one 3D arrow")
        (a_uv, b_uv), _ = project(q.views[2], np.stack([A, B]))
        want = np.arctan2(*(b_uv - a_uv)[::-1])
        diffs = {}
        for m in _marks_of(q, 2):
            got = np.arctan2(*(np.asarray(m.uv_end) - np.asarray(m.uv))[::-1])
            diffs[m.color] = abs((got - want + np.pi) % (2 * np.pi) - np.pi)
        return only(
            [k for k, c in enumerate(q.option_labels) if diffs[c] < np.radians(1)],
            "directional_corr",
        )


@register_task
class SpatialVerification(TaskGenerator):
    info = TaskInfo("spatial_verification", "Spatial verification", "xvr", VERIFY, 4)
    needs: ClassVar[frozenset[str]] = frozenset({"calibration"})
    phrasings = (
        "Each image marks what should be the same 3D point with a {ref} dot, but in one image the "
        "dot is in the wrong place. Which image?",
        "The {ref} dots in these four images are meant to mark one point in space. One of them "
        "does not. Which image has the wrong dot?",
        "All images but one mark the same 3D point with a {ref} dot. In which image is the dot "
        "inconsistent with the others?",
    )

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        for views in _triples(ctx, rng, 4):
            P = _point(ctx, views[0], rng)
            proj = [project(v, P) for v in views]
            if not all(inside(v, uv, z)[0] for v, (uv, z) in zip(views, proj)):
                self.drop(ctx, "point_outside_an_image")
                continue
            k = int(rng.integers(4))
            vk = views[k]
            true_uv = proj[k][0][0]
            cands = np.concatenate(
                [surface_points(ctx, vk, rng, 30)[0], free_points(ctx, vk.timestep, rng, 10)]
            )
            cuv, cz = project(vk, cands)
            wrong = None
            for uv, ok in zip(cuv, inside(vk, cuv, cz)):
                if not ok or np.linalg.norm(uv - true_uv) < 0.2 * vk.camera.width:
                    continue
                far = True
                for j, vj in enumerate(views):
                    if j == k:
                        continue
                    F = fundamental_matrix(
                        vj.camera.K, vj.camera.cam_to_world, vk.camera.K, vk.camera.cam_to_world
                    )
                    if epipolar_distance(proj[j][0], uv[None], F)[0] < 0.1 * vk.camera.width:
                        far = False
                        break
                if far:
                    wrong = uv
                    break
            if wrong is None:
                self.drop(ctx, "no_wrong_spot_far_from_epipolar_lines")
                continue
            marks = [
                Mark(i, "dot", tuple(wrong if i == k else proj[i][0][0]), "0") for i in range(4)
            ]
            got = self.colored(ctx, marks, views, rng)
            if got is None:
                continue
            marks, (ref,) = got
            yield Candidate(
                self.info.type_id,
                [ctx.key(v) for v in views],
                [],
                self.phrase(rng, ref=ref),
                _image_options(list(range(4))),
                gold=k,
                protocol="marker",
                marks=marks,
                answer_hint=IMAGE_HINT,
            )

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        dots = sorted(q.marks, key=lambda m: m.view)
        resid = []
        for k in range(len(dots)):
            _, err = _tri(q, [m for m in dots if m.view != k])
            resid.append(float(err.max()))
        wrong_view = only([k for k, r in enumerate(resid) if r < 1.0], "spatial_verification")
        return q.option_views.index(wrong_view)


@register_task
class TemporalVerification(TaskGenerator):
    info = TaskInfo("temporal_verification", "Temporal verification", "xvr", VERIFY, 3)
    needs: ClassVar[frozenset[str]] = frozenset()  # camera identities and timestamps
    phrasings = (
        "These images should show the scene at the same moment from different cameras, but one "
        "was taken at a different time. Which image?",
        "Three cameras photographed the scene together, except that one image comes from another "
        "moment. Which one is out of sync?",
        "One of these images was not taken at the same time as the others. Which image?",
    )
    MOTION_M = 0.03

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        ts = ctx.timesteps
        if len(ts) < 2:
            self.drop(ctx, "single_timestep")
            return
        poses = all(ctx.center(t, 0) is not None for t in ctx.scene.instances)
        poses = poses and bool(ctx.scene.instances)
        # XVR's robot-domain filter (appendix 10): the robot's state must move by more than
        # the dataset's threshold between the two frames, and then SSIM <= 0.9 suffices
        states = robot_states(ctx.scene)
        limit = 0.9 if poses or states is not None else 0.8
        for t, t2 in shuffled(rng, [(a, b) for a in ts for b in ts if a != b]):
            if states is not None:
                threshold, s = states
                if float(np.linalg.norm(s[t2] - s[t])) <= threshold:
                    self.drop(ctx, "robot_moved_too_little")
                    continue
            moved = [
                tid
                for tid in ctx.scene.instances
                if poses
                and np.linalg.norm(ctx.center(tid, t2) - ctx.center(tid, t)) >= self.MOTION_M
            ]
            if poses and not moved:
                self.drop(ctx, "nothing_moved")
                continue
            for trio, k in _odd_choices(ctx, rng, t):
                odd = ctx.scene.view(trio[k].camera.name, t2)
                if poses and not any(odd.visible_area(m) + trio[k].visible_area(m) for m in moved):
                    self.drop(ctx, "motion_not_seen_by_the_camera")
                    continue
                s = ssim(trio[k].image, odd.image)
                if s > limit:
                    self.drop(ctx, "ssim_too_similar")
                    continue
                views = [ctx.key(v) for v in trio]
                views[k] = ctx.key(odd)
                yield Candidate(
                    self.info.type_id,
                    views,
                    [],
                    self.phrase(rng),
                    _image_options([0, 1, 2]),
                    gold=k,
                    protocol="marker",
                    answer_hint=IMAGE_HINT,
                    meta={"ssim": s},
                )

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        ts = [v.timestep for v in q.views]
        odd = only([i for i, t in enumerate(ts) if ts.count(t) == 1], "temporal_verification")
        return q.option_views.index(odd)


def robot_states(scene: Scene) -> tuple[float, dict[int, np.ndarray]] | None:
    """``(threshold, {timestep: state})`` when the scene records the robot's state at every
    timestep and its source set a motion threshold (``provenance["motion_threshold"]``, the
    dataset's 80th percentile of the largest one-second state displacement, XVR eq. 7);
    else None."""
    meta = scene.timestep_meta
    threshold = scene.provenance.get("motion_threshold")
    if meta is None or threshold is None or any(m.get("state") is None for m in meta):
        return None
    return float(threshold), {t: np.asarray(m["state"], dtype=float) for t, m in enumerate(meta)}


def _odd_choices(
    ctx: SceneContext, rng: np.random.Generator, t: int
) -> list[tuple[list[View], int]]:
    """(three views at t, the position of the one to replace), every choice, shuffled and
    taken in turn by the odd camera: each camera of a trio may be the odd one, so the cameras
    whose frames change most over time (the wrist camera) are not the only odd ones on offer
    before the per-scene cap is reached."""
    trios = [list(c) for c in itertools.combinations(ctx.views_at(t), 3)]
    by_cam: dict[str, list[tuple[list[View], int]]] = {}
    for choice in shuffled(rng, [(trio, k) for trio in trios for k in range(3)]):
        by_cam.setdefault(choice[0][choice[1]].camera.name, []).append(choice)
    rows = itertools.zip_longest(*(by_cam[c] for c in sorted(by_cam)))
    return [c for row in rows for c in row if c is not None]


@register_task
class ViewpointLocalization(TaskGenerator):
    info = TaskInfo("viewpoint_localization", "Viewpoint localization", "xvr", LOCATE, 3)
    needs: ClassVar[frozenset[str]] = frozenset({"calibration"})
    phrasings = (
        "The {ref} dot in Image 1 marks where a camera stands. Which of the other images was "
        "taken from that position?",
        "A camera position is marked with a {ref} dot in Image 1. Which of Images 2, 3 and 4 was "
        "taken by the camera at that spot?",
        "Image 1 shows a {ref} dot at the location of a camera. Which image was taken from there?",
    )

    MIN_APART_M = 0.06
    """Candidate cameras stand at least this far apart (metres)."""

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        # Every candidate image is one whose camera the reference image sees, and the gold is
        # any of them: so which camera (or which kind) is gold says nothing. On a rig whose
        # fixed cameras do not see each other that leaves the wrist camera at its places over
        # the episode (the reference may show the arm elsewhere: the dot is where the camera
        # stood when its image was taken).
        used: set[tuple] = set()
        for ref in shuffled(rng, list(ctx.scene.views)):
            seen = []
            for v in shuffled(rng, list(ctx.scene.views)):
                if np.linalg.norm(v.camera.center - ref.camera.center) < self.MIN_APART_M:
                    continue  # the reference's own camera (at any time)
                (uv,), (z,) = project(ref, v.camera.center)
                if inside(ref, uv[None], np.array([z]))[0]:
                    seen.append((v, uv))
            picked: list[tuple[View, np.ndarray]] = []
            for v, uv in seen:
                if all(
                    np.linalg.norm(v.camera.center - o.camera.center) >= self.MIN_APART_M
                    and np.linalg.norm(uv - ouv) >= min_sep_px(ref)
                    for o, ouv in picked
                ):
                    picked.append((v, uv))
                if len(picked) == 3:
                    break
            if len(picked) < 3:
                self.drop(ctx, "fewer_than_3_distinct_cameras_in_view")
                continue
            # each of the three may be the one marked; the same camera's reference at another
            # time with the same candidates and gold would ask the same question again
            for g in range(3):
                key = (ref.camera.name, frozenset(ctx.key(v) for v, _ in picked), g)
                if key in used:
                    self.drop(ctx, "same_question_from_another_time")
                    continue
                used.add(key)
                order = [picked[g]] + [p for i, p in enumerate(picked) if i != g]
                got = self.colored(ctx, [Mark(0, "dot", tuple(order[0][1]), "0")], [ref], rng)
                if got is None:
                    continue
                marks, (color,) = got
                yield Candidate(
                    self.info.type_id,
                    [ctx.key(ref)] + [ctx.key(v) for v, _ in order],
                    [],
                    self.phrase(rng, ref=color),
                    _image_options([1, 2, 3]),
                    gold=0,
                    protocol="marker",
                    marks=marks,
                    answer_hint=IMAGE_HINT,
                )

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        dot = np.asarray(q.marks[0].uv)
        d = []
        for v in q.option_views:
            (uv,), (z,) = project(q.views[0], q.views[v].camera.center)
            d.append(float(np.linalg.norm(uv - dot)) if z > 0 else np.inf)
        return only([k for k, x in enumerate(d) if x < 1.0], "viewpoint_localization")


@register_task
class DirectionalViewLocalization(TaskGenerator):
    info = TaskInfo(
        "directional_view_localization", "Directional view localization", "xvr", LOCATE, 2
    )
    needs: ClassVar[frozenset[str]] = frozenset({"calibration"})
    phrasings = (
        "Image 1 is taken by the reference camera. Which of the other two images was taken by a "
        "camera on its {side}?",
        "Standing at the camera of Image 1 and looking where it looks, which image comes from a "
        "camera to your {side}?",
        "Relative to the camera that took Image 1, which image was taken from the {side} side?",
    )
    MIN_AZ = 20.0

    def side(self, a: View, b: View) -> str | None:
        rel = camera_relation(a.camera.cam_to_world, b.camera.cam_to_world)
        if self.MIN_AZ <= abs(rel.azimuth_deg) <= 180 - self.MIN_AZ:
            return rel.lateral
        return None

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        for ref, x, y in _triples(ctx, rng, 3):
            sx, sy = self.side(ref, x), self.side(ref, y)
            if sx is None or sy is None or sx == sy:
                self.drop(ctx, "not_one_left_one_right")
                continue
            side = "left" if rng.random() < 0.5 else "right"
            gold = 0 if sx == side else 1
            yield Candidate(
                self.info.type_id,
                [ctx.key(v) for v in (ref, x, y)],
                [],
                self.phrase(rng, side=side),
                _image_options([1, 2]),
                gold=gold,
                protocol="marker",
                answer_hint=IMAGE_HINT,
                target={"side": side},
            )

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        side = q.target["side"]
        return only(
            [k for k, v in enumerate(q.option_views) if self.side(q.views[0], q.views[v]) == side],
            "directional_view",
        )


@register_task
class CrossScenarioLocalization(TaskGenerator):
    info = TaskInfo("cross_scenario_localization", "Cross-scenario localization", "xvr", LOCATE, 3)
    needs: ClassVar[frozenset[str]] = frozenset()  # camera identities and timestamps
    intended_cues: ClassVar[dict[str, str]] = {
        "most_similar": "a fixed camera sees the same static surroundings (table edges, floor, "
        "arm base) in both scenarios, whatever the objects, table cover and light; comparing "
        "the two views is the task",
    }
    phrasings = (
        "Image 1 shows scenario 1 from one of its cameras. Images 2-4 show another scenario filmed "
        "by the same cameras. Which of them was taken by the same camera as Image 1?",
        "The same camera rig filmed two different scenes. Image 1 is from the first; which of "
        "Images 2, 3 and 4 (from the second) was taken by the same camera?",
        "Which image from the second scenario (Images 2-4) shares its camera with Image 1?",
    )

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        if not ctx.others:
            self.drop(ctx, "no_other_scenario_of_the_rig")
            return
        here = ctx.views_at(0)
        for other_id in sorted(ctx.others):
            there = {v.camera.name: v for v in ctx.others[other_id].views if v.timestep == 0}
            for ref in shuffled(rng, here):
                if ref.camera.name not in there:
                    continue
                pool = [n for n in there if n != ref.camera.name]
                if len(pool) < 2:
                    self.drop(ctx, "too_few_cameras")
                    continue
                names = [ref.camera.name, *shuffled(rng, pool)[:2]]
                views = [ctx.key(ref)] + [ViewKey(other_id, n, 0) for n in names]
                yield Candidate(
                    self.info.type_id,
                    views,
                    [],
                    self.phrase(rng),
                    _image_options([1, 2, 3]),
                    gold=0,
                    protocol="marker",
                    answer_hint=IMAGE_HINT,
                )

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        ref = q.views[0].camera
        if not ref.calibrated:  # the camera identifier, as XVR's metadata-based pipeline
            same = [k for k, v in enumerate(q.option_views) if q.views[v].camera.name == ref.name]
            return only(same, "cross_scenario")
        same = [
            k
            for k, v in enumerate(q.option_views)
            if np.allclose(q.views[v].camera.cam_to_world, ref.cam_to_world, atol=1e-6)
            and np.allclose(q.views[v].camera.K, ref.K)
        ]
        return only(same, "cross_scenario")


CAMERA_WORDS = {
    "wrist": (
        "the camera mounted on the robot arm's wrist",
        "the robot's wrist camera",
        "the camera that moves with the robot gripper",
    ),
    "top-down": (
        "the camera looking straight down at the table from above",
        "the overhead, top-down camera",
        "the bird's-eye camera above the table",
    ),
    "low": (
        "a camera looking across the table from a low angle",
        "the low camera with a nearly horizontal view",
        "the camera that sees the table from close to its height",
    ),
}


def camera_class(view: View) -> str | None:
    """``wrist`` by role; else ``top-down`` (axis >= 65 deg below horizontal) or ``low``
    (<= 30 deg); None in between, so that classes are never borderline, and for an
    uncalibrated camera that is not a wrist camera."""
    if view.camera.role == "wrist" or view.camera.name == "wrist":
        return "wrist"
    if not view.camera.calibrated:
        return None  # only the role tells an uncalibrated camera's kind
    fwd = view.camera.cam_to_world[:3, 2]
    pitch = np.degrees(np.arcsin(np.clip(-fwd[2], -1, 1)))
    if pitch >= 65:
        return "top-down"
    if pitch <= 30:
        return "low"
    return None


@register_task
class LanguageConditionedLocalization(TaskGenerator):
    info = TaskInfo(
        "language_conditioned_localization", "Language-conditioned localization", "xvr", LOCATE, 2
    )
    needs: ClassVar[frozenset[str]] = frozenset()  # camera identities and timestamps
    phrasings = (
        "Which image was taken by {desc}?",
        "One of these images comes from {desc}. Which one?",
        "Find the view of {desc}: which image is it?",
    )

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        for a, b in _triples(ctx, rng, 2):
            ca, cb = camera_class(a), camera_class(b)
            if ca is None or ca == cb:
                self.drop(ctx, "camera_not_describable_or_same_kind")
                continue
            words = CAMERA_WORDS[ca]
            desc = words[int(rng.integers(len(words)))]
            yield Candidate(
                self.info.type_id,
                [ctx.key(a), ctx.key(b)],
                [],
                self.phrase(rng, desc=desc),
                _image_options([0, 1]),
                gold=0,
                protocol="marker",
                answer_hint=IMAGE_HINT,
                target={"class": ca},
            )

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        want = q.target["class"]
        return only(
            [k for k, v in enumerate(q.option_views) if camera_class(q.views[v]) == want],
            "language_localization",
        )
