"""MindCube (21,154 questions) and MindCube-Tiny (1,050): spatial mental modelling from a few
views, in the released ``data/`` layout.

Facts from ``mll-lab-nu/MindCube@6d8fd9a`` (eval files as of ``cd682b4``):
``src/evaluation/core/extractors.py`` (``extract_answer``, ``get_setting_from_id``),
``src/evaluation/core/base_metrics.py`` (settings; translation excluded from the overall),
``src/evaluation/evaluator.py`` (skipped items, exact compare), ``src/prompt_generation/
templates.py`` (``RawQATemplate``), ``src/inference/base.py`` (image paths relative to
``data/``); details in docs/research/benchmarks-a.md section 1.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from crossview.errors import BadInputError
from crossview.eval.benchmarks import Official, PublicBenchmark, need_letter, register
from crossview.eval.items import LETTERS, EvalItem
from crossview.eval.loaders import Resolver
from crossview.scene.store import iter_jsonl

RAW_QA_INSTRUCTION = (
    "[Task]\n"
    "Your task is to analyze the spatial arrangement of objects in the scene by examining the "
    "provided images, which show the scene from different viewpoints.\n"
    "[Answer Instruction]\n"
    "You only need to provide *ONE* correct answer selecting from the options listed below. "
    "For example, if you think the correct answer is 'A. Above' from 'A. Above B. Under C. "
    "Front D. Behind', your response should **only** be '<answer>A. Above</answer>'.\n"
)
"""``RAW_QA_BACKGROUND_INSTRUCTION`` of ``templates.py`` (the raw-QA baseline prompt)."""

SETTINGS = ("around", "rotation", "translation", "among", "other")
EXCLUDED_FROM_OVERALL = ("translation",)
RELEASED = ("MindCube_tinybench.jsonl", "MindCube.jsonl")

_OPTION = re.compile(r"(?:(?<=\s)|^)([A-E])\.\s+(.*?)(?=\s+[A-E]\.\s|\s*$)", re.S)
_IN_ANSWER = (
    r"[Mm]y answer is ([A-E])",
    r"[Mm]y answer is ([A-E])\.",
    r"[Tt]he answer is ([A-E])",
    r"(?:Answer: )?([A-E])\.",
    r"\b([A-E])\b",
)
_WHOLE = (
    r"(?:Answer: )?([A-E])\. [A-Za-z0-9 \-\(\)\'\",]+(?=(?:\n|$|\.|\"))",
    r"(?:Answer: )?([A-E])\. [A-Za-z0-9 \-\(\)\'\"]+",
    r"(?:^|\n)(?:Answer: )?([A-E])(?:\.|$|\s)",
    r"[\*\"]([A-E])[\*\"]",
    r"\bAnswer:?\s*([A-E])\b",
    r"[Mm]y answer is ([A-E])",
    r"[Mm]y answer is ([A-E])\.",
    r"answer is ([A-E])",
)


def setting_of(item_id: str) -> str:
    """``get_setting_from_id``: the first of around, rotation, translation, among found in the
    lower-cased id, else ``other``."""
    low = item_id.lower()
    for s in SETTINGS[:-1]:
        if s in low:
            return s
    return "other"


def _last(pattern: str, text: str) -> str | None:
    found = re.findall(pattern, text)
    return found[-1] if found else None


def official_parse(text: str | None) -> str | None:
    """``extract_answer`` of ``extractors.py``: case-sensitive letters A-E, the last match of
    the first pattern that matches (``X.`` anywhere first; then a ``<Answer>`` section; then
    the whole text; then line by line from the bottom)."""
    if not text:
        return None
    got = _last(r"([A-E])\.", text)
    if got:
        return got
    section = re.search(r"<Answer>(.*?)(?:<|$)", text, re.DOTALL)
    if section:
        for pat in _IN_ANSWER:
            got = _last(pat, section.group(1))
            if got:
                return got
    for pat in _WHOLE:
        got = _last(pat, text)
        if got:
            return got
    lines = text.split("\n")
    hit = None
    for line in lines:
        m = re.search(r"([A-E])\. [A-Za-z0-9 \-\(\)\'\",]+", line)
        if m:
            hit = m.group(1)
    if hit:
        return hit
    for line in reversed(lines):
        m = re.search(r"\b([A-E])\b", line)
        if m:
            return m.group(1)
    return None


def split_question(question: str) -> tuple[str, list[str]]:
    """The stem and the inline options (``... A. x B. y C. z``) of a MindCube question."""
    first = re.search(r"(?:(?<=\s)|^)A\.\s", question)
    if first is None:
        return question, []
    options = []
    for letter, text in _OPTION.findall(question[first.start() :]):
        if letter != LETTERS[len(options)]:
            break
        options.append(text.strip())
    return question[: first.start()].strip(), options


def _records_path(path: Path) -> Path:
    if path.is_file():
        return path
    for sub in ("", "raw", "data/raw"):
        for name in RELEASED:
            if (path / sub / name).is_file():
                return path / sub / name
    raise BadInputError(f"no {' or '.join(RELEASED)} under this folder", file=path)


@register
class MindCube(PublicBenchmark):
    name = "mindcube"
    title = "MindCube"
    layout = "data/raw/MindCube.jsonl or MindCube_tinybench.jsonl (id, category, type, meta_info, question with inline 'A. x B. y' options, images: paths relative to data/, gt_answer) and data/other_all_image/"  # noqa: E501
    published = "huggingface.co/datasets/MLL-Lab/MindCube (data.zip)"
    source = "mll-lab-nu/MindCube@6d8fd9a: src/evaluation/core/{extractors,base_metrics}.py, src/evaluation/evaluator.py, src/prompt_generation/templates.py"  # noqa: E501
    overall_rule = "micro mean over items, translation excluded (reported on its own)"

    def detect(self, path: Path) -> bool:
        if path.is_dir():
            try:
                path = _records_path(path)
            except BadInputError:
                return False
        if path.suffix != ".jsonl" or not path.is_file():
            return False
        for _, rec in iter_jsonl(path):
            return {"id", "question", "images", "gt_answer"} <= set(rec)
        return False

    def load(self, path: Path) -> tuple[list[EvalItem], dict[str, int]]:
        path = _records_path(path)
        # image paths are relative to data/, the parent of raw/ in the release
        root = path.parent.parent if path.parent.name == "raw" else path.parent
        res = Resolver(path, root=root)
        items: list[EvalItem] = []
        skipped: dict[str, int] = defaultdict(int)
        for line_no, rec in iter_jsonl(path):
            iid = str(rec.get("id") or line_no)
            where = f"line {line_no + 1} ({iid})"
            gold = rec.get("gt_answer")
            if not gold:
                skipped["no gt_answer (the official evaluator skips it)"] += 1
                continue
            question = rec.get("question")
            if not isinstance(question, str) or not question.strip():
                raise BadInputError("missing field", file=path, record=where, field="question")
            _, options = split_question(question)
            if len(options) < 2:
                raise BadInputError(
                    "question has no inline options 'A. ... B. ...'",
                    file=path,
                    record=where,
                    field="question",
                )
            gold = str(gold).strip()
            need_letter(gold, len(options), path, where, "gt_answer")
            paths = rec.get("images")
            if not isinstance(paths, list) or not paths:
                raise BadInputError(
                    "images must be a non-empty list", file=path, record=where, field="images"
                )
            images = [res.image(p, where, f"images[{k}]") for k, p in enumerate(paths)]
            setting = setting_of(iid)
            items.append(
                EvalItem(
                    id=iid,
                    type=setting,
                    question=question,
                    options=options,
                    answer=gold,
                    answer_kind="choice",
                    images=images,
                    categories=(setting,),
                    family=self.name,
                    options_in_question=True,
                    prompt_text="\n".join([RAW_QA_INSTRUCTION, "[Question]\n" + question]),
                    meta={k: rec[k] for k in ("category", "type") if k in rec},
                )
            )
        return items, dict(skipped)

    def official(self, item: EvalItem, response: str | None) -> Official:
        parsed = official_parse(response)
        return Official(float(parsed == item.answer), parsed)

    def aggregate(
        self,
        items: Sequence[EvalItem],
        credits: Mapping[str, float],
        flags: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        out = super().aggregate(items, credits, flags)
        counted = [credits.get(it.id, 0.0) for it in items if it.type not in EXCLUDED_FROM_OVERALL]
        out["overall"] = float(sum(counted) / len(counted)) if counted else 0.0
        out["n_overall"] = len(counted)
        out["excluded_from_overall"] = [s for s in EXCLUDED_FROM_OVERALL if s in out["by_category"]]
        return out
