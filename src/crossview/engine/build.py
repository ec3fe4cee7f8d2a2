"""Turn a balanced candidate into a dataset record, for every protocol.

The candidate's templates are rendered twice: for the ``region`` protocol (``<region>``
placeholders plus ``region_refs``; what CrossViewer reads) and for the ``overlay`` protocol
(object references rewritten to overlay colours, rendered images written to the dataset).
Record fields are documented in docs/dataset-format.md.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from crossview.dataset.record import Record
from crossview.eval.items import LETTERS
from crossview.geometry import mask_bbox, rle_encode
from crossview.render.overlay import draw_overlays
from crossview.render.palette import PALETTE, color_rgb, contrasting_colors
from crossview.scene.model import View
from crossview.scene.store import save_image
from crossview.tasks.base import Candidate, SceneContext, TaskInfo, ViewKey, alternatives

TOKEN = re.compile(r"\{([RC])(\d+)\}|\{CANDIDATES\}")
REGION = "<region>"
SENTENCE_START = re.compile(r"(^|[.?!]\s+)([a-z])")


@dataclass
class Rendered:
    """Text of a question under one protocol."""

    question: str
    options: list[str]
    placeholders: list[int]  # ref index of each <region>, in text order (region protocol)
    option_refs: list[list[int]]  # per option (or candidate), placeholder indices
    answer: str


class _Renderer:
    """Renders templates with ``{Rk}``, ``{Ck}`` and ``{CANDIDATES}`` tokens for one protocol."""

    def __init__(self, cand: Candidate, colors: list[str] | None) -> None:
        self.cand = cand
        self.colors = colors  # None: region protocol
        self.placeholders: list[int] = []
        self.first: dict[int, int] = {}

    def ref(self, k: int, short: bool) -> str:
        """``{Rk}``: a noun phrase ("the object <region>", "the object outlined in red");
        ``{Ck}`` (short): just the mark ("<region>", "red")."""
        if self.colors is None:
            self.first.setdefault(k, len(self.placeholders))
            self.placeholders.append(k)
            return REGION if short else f"the object {REGION}"
        self.first.setdefault(k, k)
        return self.colors[k] if short else f"the object outlined in {self.colors[k]}"

    def text(self, template: str, candidates: list[int] | None = None) -> str:
        def sub(m: re.Match) -> str:
            if m.group(0) == "{CANDIDATES}":
                parts = [self.ref(k, False) for k in candidates or []]
                return ", ".join(parts[:-1]) + (" or " if len(parts) > 1 else "") + parts[-1]
            return self.ref(int(m.group(2)), m.group(1) == "C")

        out = TOKEN.sub(sub, template)
        # a token that opened a sentence: capitalise what it became
        return SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), out)

    def short_name(self, k: int) -> str:
        """How an open answer names the object of ref k under this protocol."""
        if self.colors is None:
            return f"region {self.first[k] + 1}"
        return self.colors[k]


def _open_suffix(cand: Candidate) -> tuple[str, bool]:
    """(text appended to an open-ended question, whether it lists the object candidates)."""
    gold = cand.gold_option
    if cand.answer_hint:
        return cand.answer_hint, False
    if gold.ref is not None:
        return " The candidates are {CANDIDATES}. Answer by naming the right object.", True
    if gold.label is not None:
        labels = ", ".join(o.label for o in cand.options)
        return f" Answer with one of: {labels}.", False
    if gold.view is not None:
        return " Answer with the image number.", False
    return " Answer with the matching pairs, written as in the question.", False


def _refs_in(template: str) -> list[int]:
    return [int(m.group(2)) for m in TOKEN.finditer(template) if m.group(2) is not None]


def render(cand: Candidate, colors: list[str] | None, open_ended: bool) -> Rendered:
    """Render a candidate's texts for the region protocol (``colors`` None) or overlay."""
    r = _Renderer(cand, colors)
    if not open_ended:
        question = r.text(cand.question)
        options, option_refs = [], []
        for i, o in enumerate(cand.options):
            start = len(r.placeholders)
            options.append(f"{LETTERS[i]}. {r.text(o.text)}")
            option_refs.append(list(range(start, len(r.placeholders))) if colors is None else [])
        return Rendered(question, options, r.placeholders, option_refs, LETTERS[cand.gold])
    suffix, lists = _open_suffix(cand)
    obj_refs = [o.ref for o in cand.options] if lists else None
    question = r.text(cand.question + suffix, candidates=obj_refs)
    option_refs = [
        [r.first[k] for k in ([o.ref] if lists else _refs_in(o.text))] for o in cand.options
    ]
    gold = cand.gold_option
    if gold.ref is not None:
        answer = r.short_name(gold.ref)
    elif gold.label is not None:
        answer = gold.label
    elif gold.view is not None:
        answer = f"image {gold.view + 1}"
    else:
        answer = TOKEN.sub(lambda m: r.short_name(int(m.group(2))), gold.text)
    if colors is not None:
        option_refs = [[] for _ in cand.options]
    return Rendered(question, [], r.placeholders, option_refs, answer)


def overlay_colors(
    cand: Candidate, ctx: SceneContext, rng: np.random.Generator
) -> list[str] | None:
    """One palette colour per ref, legible on what it marks; None when no colouring exists.

    Refs in a ``same_color`` group share a colour, others differ. Each colour is at least
    ``OBJECT_CONTRAST_DE`` (CIEDE2000) from the median colour of the pixels it covers and
    from the marked object's own colour name, and ``SEPARATION_DE`` from the item's other
    colours (:func:`crossview.render.palette.contrasting_colors`); it is never a colour word of
    the option texts, and avoids the colours of the other referenced objects while the
    palette allows, so an overlay is not confused with what it marks or with an answer.
    """
    groups = [list(g) for g in cand.same_color]
    grouped = {k for g in groups for k in g}
    groups += [[k] for k in range(len(cand.refs)) if k not in grouped]

    def own(k: int) -> str:
        inst = ctx.scene.instances.get(cand.refs[k].track_id)
        return inst.attributes.get("color", "") if inst else ""

    def covered(k: int) -> list[np.ndarray]:
        ref = cand.refs[k]
        med = ctx.median_rgb(ctx.view(cand.views[ref.view]), ref.track_id)
        out = [] if med is None else [med]
        if own(k) in PALETTE:
            out.append(np.array(color_rgb(own(k)), float))
        return out

    words = " ".join(o.text.lower() for o in cand.options)
    banned = {c for c in PALETTE if re.search(rf"\b{c}\b", words)}
    soft = {own(k) for k in range(len(cand.refs))} & set(PALETTE)
    under = [[rgb for k in g for rgb in covered(k)] for g in groups]
    names = contrasting_colors(under, rng, banned=banned | soft)
    if names is None:
        names = contrasting_colors(under, rng, banned=banned)
    if names is None:
        return None
    color_of = {k: name for g, name in zip(groups, names, strict=True) for k in g}
    return [color_of[k] for k in range(len(cand.refs))]


def view_record(view: View, key: ViewKey, image_path: str, objects: list[dict]) -> dict:
    """The ``views[k]`` entry of a record (docs/dataset-format.md)."""
    return {
        "view_id": view.view_id,
        "scene_id": key.scene_id,
        "camera": key.camera,
        "timestep": key.timestep,
        "width": view.camera.width,
        "height": view.camera.height,
        "image_path": image_path,
        "objects": objects,
    }


def _rel(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def build_record(
    cand: Candidate,
    ctx: SceneContext,
    *,
    info: TaskInfo,
    sample_id: str,
    split: str,
    open_ended: bool,
    dataset_dir: Path,
    image_paths: dict[tuple[str, str, int], Path],
    rng: np.random.Generator,
    provenance: dict[str, Any],
    write_images: bool = True,
    paraphrases: bool = False,
) -> dict[str, Any]:
    """The native record of a candidate (docs/dataset-format.md), overlay images written.

    Args:
        image_paths: (scene, camera, timestep) -> path of the base image in the store.
        rng: seeded generator for the overlay colours.
        write_images: False to compute the record without writing rendered images.
        paraphrases: also write the question in the type's other phrasings, per protocol
            (``paraphrases`` beside each ``question``).
    """
    if cand.protocol == "marker":
        from crossview.engine.build_marker import build_marker_record

        return build_marker_record(
            cand,
            ctx,
            info=info,
            sample_id=sample_id,
            split=split,
            open_ended=open_ended,
            dataset_dir=dataset_dir,
            image_paths=image_paths,
            provenance=provenance,
            write_images=write_images,
            paraphrases=paraphrases,
        )
    views: list[View] = [ctx.view(k) for k in cand.views]
    colors = overlay_colors(cand, ctx, rng)
    if colors is None:  # proposals without a legible colouring are dropped (pipeline)
        raise ValueError(f"{sample_id}: no legible overlay colours")
    region = render(cand, None, open_ended)
    overlay = render(cand, colors, open_ended)

    # region protocol: objects per view in order of first reference, region_refs into them
    objects: list[list[int]] = [[] for _ in views]
    for k in region.placeholders:
        ref = cand.refs[k]
        if ref.track_id not in objects[ref.view]:
            objects[ref.view].append(ref.track_id)
    region_refs = [
        [cand.refs[k].view, objects[cand.refs[k].view].index(cand.refs[k].track_id)]
        for k in region.placeholders
    ]
    # every ref (also those only drawn under overlay) must be listed in its view
    for ref in cand.refs:
        if ref.track_id not in objects[ref.view]:
            objects[ref.view].append(ref.track_id)

    view_records = []
    overlay_images = []
    for i, (key, view) in enumerate(zip(cand.views, views, strict=False)):
        objs = []
        for tid in objects[i]:
            m = ctx.mask(view, tid)
            box = mask_bbox(m)
            objs.append(
                {
                    "track_id": tid,
                    "mask_rle": rle_encode(m),
                    "bbox_xyxy": None if box is None else [float(x) for x in box],
                }
            )
        base = image_paths[(key.scene_id, key.camera, key.timestep)]
        view_records.append(view_record(view, key, _rel(base, dataset_dir), objs))
        drawn = [
            (ctx.mask(view, r.track_id), colors[k]) for k, r in enumerate(cand.refs) if r.view == i
        ]
        out = dataset_dir / "renders" / "overlay" / f"{sample_id}_{i}.png"
        if write_images:
            out.parent.mkdir(parents=True, exist_ok=True)
            img = draw_overlays(view.image, [d[0] for d in drawn], [d[1] for d in drawn])
            save_image(out, img)
        overlay_images.append(_rel(out, dataset_dir))

    gold = cand.gold_option
    answer_kind = "free" if open_ended else "choice"
    labels = [o.label for o in cand.options]
    rec = Record(
        sample_id=sample_id,
        question_type=info.type_id,
        family=info.family,
        category=info.category,
        task_name=info.name,
        question=region.question,
        options=region.options,
        answer=region.answer,
        answer_kind=answer_kind,
        answer_text=gold.label
        or (
            f"image {gold.view + 1}"
            if gold.view is not None
            else overlay.answer
            if open_ended
            else overlay.options[cand.gold][3:]
        ),
        open_ended=open_ended,
        views=view_records,
        region_refs=region_refs,
        choices={
            "query_refs": _query_placeholders(region, cand, open_ended),
            "option_refs": region.option_refs,
            "labels": labels,
            "views": [o.view for o in cand.options],
        },
        protocols={
            "overlay": {
                "question": overlay.question,
                "options": overlay.options,
                "images": overlay_images,
                "answer": overlay.answer,
                "marks": [
                    {"view": r.view, "track_id": r.track_id, "color": colors[k]}
                    for k, r in enumerate(cand.refs)
                ],
            }
        },
        gold=None,
        split=split,
        provenance=provenance,
        meta=_jsonable(cand.meta),
    )
    if paraphrases and alternatives(cand.question):
        rec.paraphrases = paraphrased(cand, None, open_ended)
        rec.protocols["overlay"]["paraphrases"] = paraphrased(cand, colors, open_ended)
    return rec.to_json()


def paraphrased(cand: Candidate, colors: list[str] | None, open_ended: bool) -> list[str]:
    """The question of ``cand`` in each of its other phrasings, rendered for a protocol
    (``colors`` None: region; the overlay colours otherwise), options and answer unchanged.

    Under the region protocol only phrasings that name the objects in the same order, as
    often, are kept: ``region_refs`` give the masks of the question's ``<region>`` in order.
    """
    refs = _refs_in(cand.question)
    return [
        render(replace(cand, question=alt), colors, open_ended).question
        for alt in alternatives(cand.question)
        if colors is not None or _refs_in(alt) == refs
    ]


def _query_placeholders(r: Rendered, cand: Candidate, open_ended: bool) -> list[int]:
    """Placeholder indices of the refs named in the question stem: the stem comes first."""
    return list(range(len(_refs_in(cand.question))))


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x
