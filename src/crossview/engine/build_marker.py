"""Records of ``marker``-protocol candidates (XVR and CrossPoint): dots and arrows drawn.

The question text is final (no object references); the images carrying markers are rendered
into ``renders/marker/``, images without markers are referenced from the store as they are.
Coordinate answers carry their gold mask (COCO RLE) and a representative gold point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crossview.dataset.record import Record
from crossview.engine.build import _jsonable, _rel, paraphrased, render, view_record
from crossview.geometry import rle_encode
from crossview.render.markers import draw_marks
from crossview.scene.store import save_image
from crossview.tasks.base import Candidate, SceneContext, TaskInfo, alternatives


def build_marker_record(
    cand: Candidate,
    ctx: SceneContext,
    *,
    info: TaskInfo,
    sample_id: str,
    split: str,
    open_ended: bool,
    dataset_dir: Path,
    image_paths: dict[tuple[str, str, int], Path],
    provenance: dict[str, Any],
    write_images: bool = True,
    paraphrases: bool = False,
) -> dict[str, Any]:
    """The native record of a marker candidate (docs/dataset-format.md); ``paraphrases``
    also writes the question in the type's other phrasings."""
    point = cand.answer_kind == "point"
    if point:
        question, options, answer = cand.question, [], "point"
        labels, opt_views = [], []
    else:
        r = render(cand, None, open_ended)
        question, options, answer = r.question, r.options, r.answer
        labels = [o.label for o in cand.options]
        opt_views = [o.view for o in cand.options]
    # marks in a neutral order (by image, then colour): the generator lists the gold first
    marks_all = sorted(cand.marks, key=lambda m: (m.view, m.color, m.kind))
    view_records, images = [], []
    for i, key in enumerate(cand.views):
        view = ctx.view(key)
        base = image_paths[(key.scene_id, key.camera, key.timestep)]
        view_records.append(view_record(view, key, _rel(base, dataset_dir), []))
        marks = [m for m in marks_all if m.view == i]
        if not marks:
            images.append(_rel(base, dataset_dir))
            continue
        out = dataset_dir / "renders" / "marker" / f"{sample_id}_{i}.png"
        if write_images:
            out.parent.mkdir(parents=True, exist_ok=True)
            save_image(out, draw_marks(view.image, marks))
        images.append(_rel(out, dataset_dir))
    gold = None
    if point:
        v, mask = cand.gold_mask
        gold = {"view": v, "mask_rle": rle_encode(mask), "point": list(cand.gold_point)}
    gold_opt = None if point else cand.gold_option
    answer_text = (
        "point"
        if point
        else (gold_opt.label or (f"image {gold_opt.view + 1}" if gold_opt.view is not None else ""))
    )
    rec = Record(
        sample_id=sample_id,
        question_type=info.type_id,
        family=info.family,
        category=info.category,
        task_name=info.name,
        question=question,
        options=options,
        answer=answer,
        answer_kind="point" if point else ("free" if open_ended else "choice"),
        answer_text=answer_text,
        open_ended=open_ended,
        views=view_records,
        region_refs=[],
        choices={
            "query_refs": [],
            "option_refs": [[] for _ in labels],
            "labels": labels,
            "views": opt_views,
            "target": _jsonable(cand.target),
        },
        protocols={
            "marker": {
                "question": question,
                "options": options,
                "images": images,
                "answer": answer,
                "marks": [m.to_json() for m in marks_all],
            }
        },
        gold=gold,
        split=split,
        provenance=provenance,
        meta=_jsonable(cand.meta),
    )
    if cand.level is not None:
        rec.level = cand.level
    if paraphrases and alternatives(cand.question):
        alts = list(alternatives(cand.question)) if point else paraphrased(cand, None, open_ended)
        rec.paraphrases = alts
        rec.protocols["marker"]["paraphrases"] = alts
    return rec.to_json()
