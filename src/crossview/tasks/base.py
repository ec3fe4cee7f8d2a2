"""What every question generator shares: candidates, the registry, the scene context, quality.

A generator (one per question type) proposes :class:`Candidate` questions from a scene with
seeded randomness and solves questions from the scene's ground truth (the oracle). It never
decides where the gold option goes: the engine balances answer positions across a whole
dataset and applies the permutation (:meth:`Candidate.permuted`).

Question text is a template: ``{R3}`` stands for the object of ``refs[3]`` and is rendered per
protocol (``<region>`` for region-aware models, "outlined in red" for the overlay protocol),
``{CANDIDATES}`` for the list of candidates in open-ended variants. Image numbers ("Image 2")
are written directly: ``views[k]`` is "Image k+1".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from crossview.geometry import project_points
from crossview.render.markers import Mark
from crossview.scene.model import Scene, View

REF_TOKEN = re.compile(r"\{R(\d+)\}")


@dataclass(frozen=True)
class Ref:
    """An object reference: the object ``track_id`` as seen in the question's ``view`` (index)."""

    view: int
    track_id: int


@dataclass(frozen=True)
class ViewKey:
    """Which scene view an image of a question is: scene, camera and timestep."""

    scene_id: str
    camera: str
    timestep: int


@dataclass
class Option:
    """One answer option.

    Attributes:
        text: template text (may hold ``{Rk}`` tokens).
        label: the short normalised answer this option stands for (``yes``, ``larger``,
            ``image 2``); for object options, None (the answer is the object itself).
        ref: for object options, the index in ``Candidate.refs`` of the object it names.
        view: for options that are images (``Image 3``), the index of that view.
    """

    text: str
    label: str | None = None
    ref: int | None = None
    view: int | None = None


@dataclass
class Candidate:
    """A proposed question, before balancing, splitting and rendering.

    Attributes:
        type_id: the question type (``Q1``).
        views: the images of the question in order; ``views[k]`` is "Image k+1".
        refs: referenced objects; ``{Rk}`` in texts means ``refs[k]``.
        question: template of the multiple-choice question stem.
        options: the options in their current order; ``gold`` indexes them.
        gold: index of the correct option.
        permutable: the option order may be changed by the balancer. Fixed-order types
            (yes / no) are balanced by choosing candidates so each answer is equally common.
        open_question: template of the open-ended variant (``{CANDIDATES}`` lists the object
            options), or None when the type has none.
        same_color: groups of ref indices drawn in one overlay colour (the same object
            shown in several views, when the question says so).
        meta: facts the generator used (margins, areas, distances); never shown to a model.
    """

    type_id: str
    views: list[ViewKey]
    refs: list[Ref]
    question: str
    options: list[Option]
    gold: int
    permutable: bool = True
    open_question: str | None = None
    same_color: list[list[int]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    protocol: str = "region"
    """``region`` (object references, rendered as regions and overlays) or ``marker`` (the
    question's own dots and arrows in :attr:`marks`; its text is final)."""
    marks: list[Mark] = field(default_factory=list)
    """Dots and arrows drawn for the ``marker`` protocol."""
    answer_kind: str = "choice"
    """``choice`` or ``point`` (a coordinate answer scored inside :attr:`gold_mask`)."""
    gold_mask: tuple[int, np.ndarray] | None = None
    """For point answers: (view index, (H, W) bool mask a correct point lies in)."""
    gold_point: tuple[float, float] | None = None
    """For point answers: a representative correct (u, v)."""
    level: str | None = None
    """CrossPoint level: ``object`` or ``part``."""
    answer_hint: str | None = None
    """How an open-ended variant asks for its answer ("Answer with the colour of the dot.")."""
    target: dict[str, Any] | None = None
    """What the text names without a mark (grounding: the attributes of the described object,
    or a camera description); shown to the oracle as part of the question."""
    rows: list[list[tuple[int, float]]] = field(default_factory=list)
    """Per option, (view index, image row as a fraction of the height) of each region or mark
    that shows what it names, for balancing (:func:`crossview.engine.pipeline.balance_keys`);
    filled by the engine, empty when unknown."""
    sizes: list[list[tuple[int, float]]] = field(default_factory=list)
    """Per option, (view index, visible area as a share of the image) of each region that
    shows what it names (object options only), for balancing like :attr:`rows`."""

    @property
    def gold_option(self) -> Option:
        return self.options[self.gold]

    def key(self) -> tuple:
        """Identity of the question for de-duplication (ignores option order)."""
        return (
            self.type_id,
            tuple(self.views),
            tuple(self.refs),
            frozenset((o.text, o.label, o.ref, o.view) for o in self.options),
            frozenset(self.marks),
            repr(sorted((self.target or {}).items())),
            self.gold_point,
        )

    def permuted(self, order: list[int]) -> Candidate:
        """A copy with options reordered so that new option k is old option ``order[k]``.

        When options are images, the images move with their options: the slots the option
        images occupy are refilled in the new option order (other images, such as a
        reference image, stay where they are), so "Image k" in an option's text stays true.
        View indices of refs, options and marks are remapped accordingly.
        """
        options = [self.options[i] for i in order]
        gold = order.index(self.gold)
        rows = [self.rows[i] for i in order] if self.rows else []
        if not all(o.view is not None for o in self.options):
            return replace(self, options=options, gold=gold, rows=rows)
        slots = sorted(o.view for o in self.options)
        new_of_old = {v: v for v in range(len(self.views))}
        for slot, o in zip(slots, options):
            new_of_old[o.view] = slot
        views = list(self.views)
        for old, new in new_of_old.items():
            views[new] = self.views[old]
        return replace(
            self,
            views=views,
            refs=[Ref(new_of_old[r.view], r.track_id) for r in self.refs],
            options=[
                replace(o, view=new_of_old[o.view], text=f"Image {new_of_old[o.view] + 1}")
                for o in options
            ],
            gold=gold,
            rows=rows,
            marks=[replace(m, view=new_of_old[m.view]) for m in self.marks],
        )


# ------------------------------------------------------------------------------ quality


@dataclass
class QualityConfig:
    """Thresholds of the quality rules (docs/tasks.md). Defaults defined once here.

    Pixel thresholds are for the store's image size; ``min_visible_px`` is scaled by
    image area relative to 320x240 so that one setting serves every resolution.
    """

    min_visible_px: int = 120
    """Least visible pixels (at 320x240) for an object a question refers to."""
    min_visible_fraction: float = 0.3
    """Least visible / amodal fraction for a referenced object (when amodal masks exist)."""
    absent_max_px: int = 0
    """At most this many visible pixels for an object said to be not visible."""
    nn_gap_ratio: float = 0.25
    """Q9: the second-nearest candidate is at least this much (relative) farther."""
    nn_gap_m: float = 0.03
    """Q9: ... and at least this many metres farther."""
    scale_larger: float = 1.4
    """Q10: area ratio at or above this is "larger" (at or below its inverse "smaller")."""
    scale_same: float = 1.1
    """Q10: area ratio within [1/this, this] is "about the same"; between is dropped."""
    completeness_gap: float = 0.15
    """Q11, Q12: the most complete beats the runner-up by at least this fraction."""
    lr_min_px: float = 0.04
    """Q13: horizontal separation of the two centres, as a fraction of image width."""
    displacement_ratio: float = 1.5
    """Q14: the farthest mover moved at least this many times the runner-up ..."""
    displacement_min_m: float = 0.03
    """Q14: ... and at least this far (m)."""
    depth_gap_m: float = 0.04
    """Q15: camera-frame depth difference of the two objects in each view (m)."""
    growth_ratio: float = 1.2
    """Q16: the fastest-growing object's area ratio beats the runner-up's by this factor."""
    contact_gap_m: float = 0.015
    """Q17: objects not in contact must be at least this far apart (bounding boxes, m)."""
    occluder_share: float = 0.7
    """Q8: the occluder covers at least this share of the hidden pixels ..."""
    occluder_other_max: float = 0.1
    """Q8: ... and no other candidate covers more than this share."""
    occluded_min_fraction: float = 0.15
    """Q8: at least this fraction of the object is hidden in the view asked about."""


class Rejections(Counter):
    """Counts of dropped candidates by (type, rule)."""

    def drop(self, type_id: str, rule: str) -> None:
        self[(type_id, rule)] += 1

    def by_type(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (t, rule), n in sorted(self.items()):
            out.setdefault(t, {})[rule] = n
        return out


class SceneContext:
    """A scene with cached ground-truth measures that generators and the oracle share.

    Args:
        scene: the scene.
        quality: thresholds.
        others: other scenes of the same rig (for cross-scenario questions), by scene id.
    """

    def __init__(
        self, scene: Scene, quality: QualityConfig | None = None, others: dict | None = None
    ) -> None:
        self.scene = scene
        self.q = quality or QualityConfig()
        self.others: dict[str, Scene] = others or {}
        self.rejections = Rejections()
        # by the view object (views of other scenes share camera names and timesteps)
        self._masks: dict[tuple[int, int, str], np.ndarray | None] = {}

    # views -------------------------------------------------------------------------------

    def key(self, view: View) -> ViewKey:
        return ViewKey(self.scene.scene_id, view.camera.name, view.timestep)

    def view(self, key: ViewKey) -> View:
        scene = self.scene if key.scene_id == self.scene.scene_id else self.others[key.scene_id]
        return scene.view(key.camera, key.timestep)

    @cached_property
    def timesteps(self) -> list[int]:
        return sorted({v.timestep for v in self.scene.views})

    def views_at(self, t: int) -> list[View]:
        return self.scene.views_at(t)

    # objects -----------------------------------------------------------------------------

    def mask(self, view: View, tid: int) -> np.ndarray:
        """(H, W) bool visible mask (cached)."""
        k = (id(view), tid, "visible")
        if k not in self._masks:
            self._masks[k] = view.mask(tid)
        return self._masks[k]  # type: ignore[return-value]

    def amodal(self, view: View, tid: int) -> np.ndarray | None:
        """(H, W) bool amodal mask (cached), or None when the view has no amodal masks."""
        k = (id(view), tid, "amodal")
        if k not in self._masks:
            self._masks[k] = view.amodal_mask(tid)
        return self._masks[k]

    def median_rgb(self, view: View, tid: int) -> np.ndarray | None:
        """Median RGB (3,) float of the object's visible pixels (cached), None when none."""
        k = (id(view), tid, "median_rgb")
        if k not in self._masks:
            px = view.image[self.mask(view, tid)]
            self._masks[k] = np.median(px, 0) if len(px) else None
        return self._masks[k]

    def min_px(self, view: View) -> float:
        return self.q.min_visible_px * view.camera.width * view.camera.height / (320 * 240)

    def well_visible(self, view: View, tid: int) -> bool:
        """Visible enough to be referred to: enough pixels and (with amodal) enough fraction."""
        if view.visible_area(tid) < self.min_px(view):
            return False
        frac = view.visible_fraction(tid)
        return frac is None or frac >= self.q.min_visible_fraction

    def absent(self, view: View, tid: int) -> bool:
        """Certainly not visible: at most ``absent_max_px`` visible pixels."""
        return view.visible_area(tid) <= self.q.absent_max_px

    def well_visible_ids(self, view: View) -> list[int]:
        return [t for t in view.track_ids if self.well_visible(view, t)]

    def center(self, tid: int, t: int) -> np.ndarray | None:
        inst = self.scene.instances.get(tid)
        return None if inst is None else inst.center_at(t)

    def project_center(self, view: View, tid: int) -> tuple[np.ndarray, float] | None:
        """(uv (2,), camera z in m) of the object's 3D centre in ``view``; None without poses."""
        c = self.center(tid, view.timestep)
        if c is None:
            return None
        uv, z = project_points(c[None], view.camera.K, view.camera.cam_to_world)
        return uv[0], float(z[0])

    def apparent_area(self, view: View, tid: int) -> int:
        """Projected size: amodal pixel count when known, else visible pixel count."""
        a = view.amodal_area(tid)
        return view.visible_area(tid) if a is None else a

    def world_box(self, tid: int, t: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Axis-aligned world bounding box (lo (3,), hi (3,)) of the object at t, in metres."""
        inst = self.scene.instances.get(tid)
        if inst is None or inst.poses is None or inst.extent_m is None:
            return None
        half = inst.extent_m / 2
        corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        pts = (corners * half) @ inst.poses[t, :3, :3].T + inst.poses[t, :3, 3]
        return pts.min(0), pts.max(0)


# ------------------------------------------------------------------------------ registry


@dataclass(frozen=True)
class TaskInfo:
    """Static facts of a question type."""

    type_id: str
    name: str
    family: str
    category: str
    n_options: int


class TaskGenerator:
    """Base class of a question type: proposes candidates and answers from ground truth.

    Subclasses set :attr:`info` and implement :meth:`propose` and :meth:`solve`.
    """

    info: ClassVar[TaskInfo]
    phrasings: ClassVar[tuple[str, ...]] = ()
    needs: ClassVar[frozenset[str]] = frozenset({"calibration", "instances"})
    """What a scene must have for this type: ``calibration`` (every camera's intrinsics and
    pose) and ``instances`` (objects with masks and track ids). A scene without one of them
    is skipped for this type with the drop ``scene_lacks_<need>`` (robot datasets without
    calibration still give the metadata-based XVR types, as in the XVR paper)."""
    intended_cues: ClassVar[dict[str, str]] = {}
    """Audit probes (``crossview audit``) that read what the question is about, with the reason:
    their scores are reported but not flagged. Kept to the cases where the probe's cue is the
    evidence itself, never to excuse a prior."""

    def propose(self, ctx: SceneContext, rng: np.random.Generator) -> Iterator[Candidate]:
        """Yield candidate questions; call ``ctx.rejections.drop(type, rule)`` for each drop."""
        raise NotImplementedError

    def solve(self, ctx: SceneContext, q: Grounded) -> int:
        """The index of the correct option of a grounded question, from ground truth alone."""
        raise NotImplementedError

    def solve_point(self, ctx: SceneContext, q: Grounded) -> tuple[int, np.ndarray]:
        """For coordinate answers: (view index, (H, W) bool mask of the correct points)."""
        raise NotImplementedError

    def drop(self, ctx: SceneContext, rule: str) -> None:
        ctx.rejections.drop(self.info.type_id, rule)

    def unmet_needs(self, scene: Scene) -> list[str]:
        """The :attr:`needs` that ``scene`` does not meet, sorted."""
        have = {"calibration": scene.calibrated, "instances": scene.has_instances}
        return sorted(n for n in self.needs if not have[n])

    def colored(
        self, ctx: SceneContext, marks: list[Mark], views: list[View], rng: np.random.Generator
    ) -> tuple[list[Mark], list[str]] | None:
        """:func:`crossview.tasks._points.color_marks`, or None with the drop counted."""
        from crossview.tasks._points import color_marks

        got = color_marks(marks, views, rng)
        if got is None:
            self.drop(ctx, "no_marker_colours_that_stand_out")
        return got

    def phrase(self, rng: np.random.Generator, **fields: Any) -> Phrasing:
        """One of :attr:`phrasings`, chosen by ``rng`` and filled with ``fields``
        (``str.format``); the others, filled alike, ride along as its ``alternatives``."""
        k = int(rng.integers(len(self.phrasings)))
        filled = [p.format(**fields) if fields else p for p in self.phrasings]
        return Phrasing(filled[k], tuple(t for i, t in enumerate(filled) if i != k))


class Phrasing(str):
    """A question template as chosen, carrying the type's other phrasings of it: the same
    question, the same answer, other words (written as paraphrases on request)."""

    alternatives: tuple[str, ...]

    def __new__(cls, text: str, alternatives: tuple[str, ...] = ()) -> Phrasing:
        obj = super().__new__(cls, text)
        obj.alternatives = alternatives
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return (Phrasing, (str(self), self.alternatives))


def alternatives(question: str) -> tuple[str, ...]:
    """The other phrasings a candidate's question carries (none for a plain string)."""
    return tuple(getattr(question, "alternatives", ()))


@dataclass
class Grounded:
    """A question as the oracle sees it: images, the objects each text part refers to.

    Attributes:
        views: scene views, in image order.
        query: track ids and view indices of the objects referenced in the question stem.
        options: per option, the referenced objects (``[(view, track_id)]``), and its label.
    """

    views: list[View]
    query: list[Ref]
    option_refs: list[list[Ref]]
    option_labels: list[str | None]
    option_views: list[int | None]
    marks: list[Mark] = field(default_factory=list)
    target: dict[str, Any] | None = None


_REGISTRY: dict[str, type[TaskGenerator]] = {}


def register_task(cls: type[TaskGenerator]) -> type[TaskGenerator]:
    """Class decorator: add a question type to the registry under its ``info.type_id``."""
    tid = cls.info.type_id
    if tid in _REGISTRY:
        raise ValueError(f"question type {tid} registered twice")
    _REGISTRY[tid] = cls
    return cls


def _load_families() -> None:
    # importing the family modules registers their types; done on first use, not at import
    from crossview.tasks import crosspoint, crossview, xvr  # noqa: F401


FAMILY_ORDER = ("crossview", "xvr", "crosspoint")


def all_tasks() -> dict[str, type[TaskGenerator]]:
    """Every registered question type by id: by family, then in registration order."""
    _load_families()
    rank = {f: i for i, f in enumerate(FAMILY_ORDER)}
    ids = sorted(_REGISTRY, key=lambda t: rank.get(_REGISTRY[t].info.family, len(rank)))
    return {t: _REGISTRY[t] for t in ids}


def get_task(type_id: str) -> TaskGenerator:
    """An instance of the named question type; unknown names fail listing the valid ones."""
    tasks = all_tasks()
    if type_id not in tasks:
        raise KeyError(f"unknown question type {type_id!r}; valid: {', '.join(tasks)}")
    return tasks[type_id]()


def point_tasks() -> list[str]:
    """Type ids whose answer is a point (no options: ``TaskInfo.n_options == 0``)."""
    return [t for t, c in all_tasks().items() if c.info.n_options == 0]


def tasks_of_family(family: str) -> list[str]:
    """Type ids of one family (``crossview``, ``xvr``, ``crosspoint``) or of ``all``."""
    tasks = all_tasks()
    families = sorted({c.info.family for c in tasks.values()})
    if family != "all" and family not in families:
        raise KeyError(f"unknown family {family!r}; valid: {', '.join([*families, 'all'])}")
    return [t for t, c in tasks.items() if family in ("all", c.info.family)]
