"""utils.py of the lmms-eval task that ``crossview export --format lmms-eval`` writes.

This file is copied as it is into the task folder, beside ``crossviewbench.yaml``, and loaded by
lmms-eval (``!function utils.<name>``). It follows lmms-eval's task conventions (0.7):
``doc_to_visual(doc)`` returns the images as PIL images, ``doc_to_text(doc,
lmms_eval_specific_kwargs)`` the prompt with the ``pre_prompt`` / ``post_prompt`` around it,
``process_results(doc, results)`` a value per metric of the YAML's ``metric_list``, and each
aggregation function reduces the list of those values to a number. A doc is a row of the
task's Parquet file (columns of ``crossview export --format parquet``), whose ``record`` holds
the native record: the prompt, answer extraction and scoring are crossview's own
(:mod:`crossview.eval.harness`), so lmms-eval scores exactly as ``crossview eval`` does.
Needs ``pip install crossview`` in lmms-eval's environment.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any


def _harness() -> Any:
    try:
        from crossview.eval import harness
    except ImportError as exc:  # pragma: no cover - only outside crossview's environment
        raise ImportError(
            "this lmms-eval task scores with crossview: pip install crossview"
        ) from exc
    return harness


def _item(doc: dict[str, Any]) -> Any:
    return _harness().item_from_record(json.loads(doc["record"]), doc.get("protocol") or "auto")


def doc_to_visual(doc: dict[str, Any]) -> list[Any]:
    """The doc's images in order ("Image 1" first), RGB PIL images."""
    from PIL import Image

    out = []
    for img in doc["images"]:
        if isinstance(img, dict):  # not decoded by datasets: {"bytes", "path"}
            img = Image.open(io.BytesIO(img["bytes"]))
        out.append(img.convert("RGB"))
    return out


def doc_to_text(
    doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None
) -> str:
    """The prompt ``crossview eval`` sends (question, lettered options, answer instruction)."""
    kwargs = lmms_eval_specific_kwargs or {}
    text = _harness().prompt_text(_item(doc))
    return f"{kwargs.get('pre_prompt', '')}{text}{kwargs.get('post_prompt', '')}"


def doc_to_target(doc: dict[str, Any]) -> str:
    """The gold answer: a letter, a short phrase, or ``point`` (the mask is in the record)."""
    return str(doc["answer"])


def slug(question_type: str) -> str:
    """A metric-name-safe form of a question type (``Fine-grained Grounding`` ->
    ``fine_grained_grounding``)."""
    return re.sub(r"[^a-z0-9]+", "_", question_type.lower()).strip("_")


def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, Any]:
    """Score the model's reply; every metric gets the same entry, each aggregation keeps the
    entries of its question type."""
    ok = _harness().score_response(_item(doc), results[0] if results else None)
    entry = {"id": doc["id"], "type": doc["question_type"], "correct": bool(ok)}
    names = ["accuracy", *(f"acc_{slug(t)}" for t in METRIC_TYPES)]
    return {name: entry for name in names}


def aggregate_accuracy(entries: list[dict[str, Any]]) -> float:
    """Accuracy over every item, in percent."""
    return 100.0 * sum(e["correct"] for e in entries) / max(len(entries), 1)


def _aggregate_type(kind: str) -> Any:
    def aggregate(entries: list[dict[str, Any]]) -> float:
        """Accuracy over the items of one type, in percent; NaN when the split has none."""
        mine = [e for e in entries if slug(e["type"]) == kind]
        return 100.0 * sum(e["correct"] for e in mine) / len(mine) if mine else float("nan")

    aggregate.__name__ = f"aggregate_acc_{kind}"
    return aggregate


def __getattr__(name: str) -> Any:
    """``aggregate_acc_<type>`` for every question type of the task (the YAML names them)."""
    if name.startswith("aggregate_acc_"):
        return _aggregate_type(name[len("aggregate_acc_") :])
    raise AttributeError(name)


METRIC_TYPES: list[str] = []
"""The question types of the exported data (filled in when the task is written)."""
