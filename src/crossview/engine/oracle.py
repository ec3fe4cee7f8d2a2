"""The oracle: answers every question of a dataset from the scenes' ground truth alone.

It never reads a record's stored answer to decide: it resolves each ``<region>`` to a track id
by matching the record's mask against the scene's masks, rebuilds the question's structure
(stem objects, options), asks the question type to solve it from the scene, and only then
compares with the stored answer. A dataset is correct when the oracle scores 100%.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crossview.dataset.record import Record
from crossview.errors import BadInputError
from crossview.eval.items import LETTERS
from crossview.geometry import rle_decode
from crossview.render.markers import Mark
from crossview.scene.model import Scene, View
from crossview.scene.store import iter_jsonl, read_scene
from crossview.tasks.base import Grounded, QualityConfig, Ref, SceneContext, get_task


@dataclass
class OracleReport:
    """Per-type agreement of the oracle with the stored answers."""

    total: int = 0
    correct: int = 0
    by_type: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def _resolve(view: View, obj: dict[str, Any], ctx: SceneContext) -> int:
    """The track id whose visible mask in ``view`` equals the record's mask (IoU > 0.99)."""
    mask = rle_decode(obj["mask_rle"])
    best, best_iou = None, 0.0
    for tid in view.track_ids:
        m = ctx.mask(view, tid)
        inter = np.logical_and(m, mask).sum()
        iou = inter / max(1, np.logical_or(m, mask).sum())
        if iou > best_iou:
            best, best_iou = tid, iou
    if best is None or best_iou < 0.99:
        raise ValueError(
            f"no scene object matches a region mask in {view.view_id} (best IoU {best_iou:.2f})"
        )
    return best


def open_answer(choices: dict[str, Any], k: int) -> str:
    """The region-protocol open answer naming option/candidate ``k`` (as the builder writes)."""
    label = choices["labels"][k]
    if label is not None:
        return label
    if choices["views"][k] is not None:
        return f"image {choices['views'][k] + 1}"
    refs = choices["option_refs"][k]
    if len(refs) == 1:
        return f"region {refs[0] + 1}"
    return ", ".join(
        f"region {a + 1}-region {b + 1}" for a, b in zip(refs[0::2], refs[1::2], strict=False)
    )


def solve_record(
    record: dict[str, Any], scenes: dict[str, Scene], quality: QualityConfig | None = None
) -> str:
    """The answer the ground truth gives to a record: a letter, or an open-ended short answer."""
    rec = Record.from_json(record)
    views_rec = rec.views
    main = scenes[(rec.provenance or {})["scene_id"]]
    ctx = SceneContext(main, quality, {k: v for k, v in scenes.items() if k != main.scene_id})
    views = [ctx.view(_key(v)) for v in views_rec]
    refs = []
    for vi, oi in rec.region_refs:
        refs.append(Ref(vi, _resolve(views[vi], views_rec[vi]["objects"][oi], ctx)))
    ch = rec.choices or {}
    marker = rec.protocols.get("marker")
    g = Grounded(
        views=views,
        query=[refs[p] for p in ch["query_refs"]],
        option_refs=[[refs[p] for p in opt] for opt in ch["option_refs"]],
        option_labels=ch["labels"],
        option_views=ch["views"],
        marks=[Mark.from_json(m) for m in marker["marks"]] if marker else [],
        target=ch.get("target"),
    )
    task = get_task(rec.question_type)
    if rec.answer_kind == "point":
        view, mask = task.solve_point(ctx, g)
        gold = rec.gold or {}
        want = rle_decode(gold["mask_rle"])
        iou = np.logical_and(mask, want).sum() / max(1, np.logical_or(mask, want).sum())
        u, v = (int(round(x)) for x in gold["point"])
        if view != gold["view"] or iou < 0.99 or not want[v, u]:
            raise ValueError(f"gold mask differs from ground truth (IoU {iou:.3f})")
        return "point"
    k = task.solve(ctx, g)
    if rec.open_ended:
        return open_answer(ch, k) if not marker else _marker_open_answer(ch, k)
    return LETTERS[k]


def _marker_open_answer(choices: dict[str, Any], k: int) -> str:
    if choices["labels"][k] is not None:
        return choices["labels"][k]
    return f"image {choices['views'][k] + 1}"


def _key(v: dict[str, Any]):
    from crossview.tasks.base import ViewKey

    return ViewKey(v["scene_id"], v["camera"], v["timestep"])


def verify_dataset(
    dataset: str | Path, store: str | Path, quality: QualityConfig | None = None
) -> OracleReport:
    """Run the oracle over ``DATASET/questions.jsonl`` with scenes read from ``store``."""
    dataset, store = Path(dataset), Path(store)
    path = dataset / "questions.jsonl"
    if not path.is_file():
        raise BadInputError("no questions.jsonl (is this a dataset folder?)", file=path)
    if quality is None:
        manifest = dataset / "manifest.json"
        q = json.loads(manifest.read_text())["config"]["quality"] if manifest.is_file() else {}
        quality = QualityConfig(**q)
    report = OracleReport()
    scenes: dict[str, Scene] = {}
    records = [rec for _, rec in iter_jsonl(path)]
    needed = Counter(v["scene_id"] for r in records for v in r["views"])
    for sid in needed:
        scenes[sid] = read_scene(store / sid)
    for r in records:
        t = r["question_type"]
        report.total += 1
        report.by_type[t][1] += 1
        try:
            got = solve_record(r, scenes, quality)
        except (ValueError, KeyError) as exc:
            got = f"error: {exc}"
        if got == r["answer"]:
            report.correct += 1
            report.by_type[t][0] += 1
        else:
            report.failures.append(
                {"sample_id": r["sample_id"], "stored": r["answer"], "oracle": got}
            )
    return report
