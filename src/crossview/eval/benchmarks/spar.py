"""SPAR-Bench (7,207 spatial questions over 20 tasks, from SPAR-7M) and SPAR-Bench-Tiny (1,000),
in the Hugging Face parquet release.

Facts from ``fudan-zvg/spar@1679885`` (``167988589c2d862e4b78b7d59d0d1eacfa437f31``):
``lmms-eval/lmms_eval/tasks/sparbench/utils.py`` (``sparbench_doc_to_text``: the prompt per task
type; ``sparbench_process_results``: ``exact_match`` on the raw reply for the 11 MCA tasks,
``process_na`` + ``mean_relative_accuracy`` for the 8 NA tasks, ``compute_vci_metric`` for
``view_change_infer``; ``sparbench_aggregate_results``: the overall is the unweighted mean of the
per-task scores, and the Low/Middle/High level means), ``.../sparbench/sparbench.yaml``
(``dataset_path: jasonzhango/SPAR-Bench``, split ``test``, the ``default`` prompt kwargs,
``doc_to_visual`` = the record's ``image`` list in order), ``.../sparbench_tiny/utils.py``
(identical apart from the yaml name) and ``readme.md`` (the task table and cognitive levels).
The layout: huggingface.co/datasets/jasonzhango/SPAR-Bench README front matter (``id`` int64,
``img_type``, ``format_type``, ``task``, ``source``, ``image``: a sequence of images,
``question``, ``answer``; ``data/test-*`` shards). Details and the quirks reproduced here in
docs/research/benchmarks-spar-impl.md and docs/research/benchmarks-b.md section 3.

The official scorer is reproduced as written, quirks included: an MCA reply is compared raw
(lower-cased, not stripped; an empty reply is right, a leading space is wrong); NA replies
give their first number (last for the ``*_mv`` tasks), unsigned; ``view_change_infer`` swaps
prediction and ground truth in the relative error; and its metric key drops it from the
official Middle level. The official code skips no record: ``skipped`` is always empty.

crossview's robust score reads MCA tasks as choice items (options parsed from the question),
NA tasks as number items (its own mean relative accuracy) and ``view_change_infer`` as a free
answer (an exact normalised match, 0 or 1; the official metric gives partial credit).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crossview.errors import BadInputError
from crossview.eval.benchmarks import (
    Official,
    PublicBenchmark,
    image_cell,
    need,
    parquet_columns,
    read_parquet,
    register,
)
from crossview.eval.items import LETTERS, EvalItem
from crossview.eval.loaders import infer_choice_kind

MCA_TASKS = (
    "obj_spatial_relation_oo",
    "obj_spatial_relation_oc_mv",
    "obj_spatial_relation_oo_mv",
    "spatial_imagination_oc",
    "spatial_imagination_oo",
    "spatial_imagination_oc_mv",
    "spatial_imagination_oo_mv",
    "position_matching",
    "camera_motion_infer",
    "distance_infer_center_oo",
    "distance_infer_center_oo_mv",
)
"""``MCA_QUESTION_TYPES``: scored by ``exact_match`` (``accuracy``)."""
NA_TASKS = (
    "depth_prediction_oc",
    "depth_prediction_oo",
    "distance_prediction_oc",
    "distance_prediction_oo",
    "depth_prediction_oc_mv",
    "depth_prediction_oo_mv",
    "distance_prediction_oo_mv",
    "distance_prediction_oc_mv",
)
"""``NA_QUESTION_TYPES``: scored by mean relative accuracy (``MRA:.5:.95:.05``)."""
MV_NA_TASKS = (
    "depth_prediction_oc_mv",
    "depth_prediction_oo_mv",
    "distance_prediction_oc_mv",
    "distance_prediction_oo_mv",
)
"""The NA tasks whose reply gives its *last* number (``process_na``); the others the first."""
VCI_TASK = "view_change_infer"
"""``SPECIAL_QUESTION_TYPES``: scored by ``compute_vci_metric`` (``vci_metric``)."""
TASKS = (*MCA_TASKS, *NA_TASKS, VCI_TASK)

LEVELS: dict[str, tuple[str, ...]] = {
    "Low": NA_TASKS,
    "Middle": (VCI_TASK, "position_matching", "camera_motion_infer"),
    "High": (
        "obj_spatial_relation_oo",
        "obj_spatial_relation_oc_mv",
        "obj_spatial_relation_oo_mv",
        "spatial_imagination_oc",
        "spatial_imagination_oo",
        "spatial_imagination_oc_mv",
        "spatial_imagination_oo_mv",
        "distance_infer_center_oo",
        "distance_infer_center_oo_mv",
    ),
}
"""The ``Low``/``Middle``/``High`` lists of ``utils.py`` (the README's cognitive levels)."""

METRIC_KEY = {
    **{t: "accuracy" for t in MCA_TASKS},
    **{t: "MRA:.5:.95:.05" for t in NA_TASKS},
    VCI_TASK: "vci_metric",
}
"""The metric name ``sparbench_aggregate_results`` appends to a task in its output keys."""

PRE_PROMPT = ""
"""``lmms_eval_specific_kwargs.default.pre_prompt``."""
NA_POST_PROMPT = "Please answer the question using a single word or phrase."
"""``default.na_post_prompt`` (the ``gemini_api``/``gpt4v`` kwargs ask instead "Do not response
anything other than a single number!")."""
MCA_POST_PROMPT = "Answer with the option's letter from the given choices directly."
"""Hard-coded in ``sparbench_doc_to_text`` (the yaml's ``mca_post_prompt`` is never read)."""
BBOX_NOTE = (
    "The values represent the bounding box coordinates normalized to a 0-1000 scale, with the "
    "top-left corner as the origin of the image."
)
"""The extra line of ``position_matching`` and ``camera_motion_infer``."""
BBOX_TASKS = ("position_matching", "camera_motion_infer")

_NUMBER = re.compile(r"(?<!\^)\d+\.\d+|(?<!\^)\d+")
_DETECT_COLUMNS = frozenset({"task", "image", "question", "answer", "format_type", "img_type"})
_COLUMNS = ("id", "task", "image", "question", "answer")
_EXTRA = ("img_type", "format_type", "source")
_SHARD = re.compile(r"^(?P<split>[A-Za-z]+)-(?P<k>\d{5})-of-(?P<n>\d{5})\.parquet$")
_LINE_OPTION = re.compile(r"^[ \t]*\(?([A-H])[.):][ \t]*(\S.*?)[ \t]*$", re.M)
_INLINE_OPTION = re.compile(
    r"(?:(?<=\s)|^)\(?([A-H])[.):]\s+(.*?)(?=\s+\(?[A-H][.):]\s|\s*$)", re.S
)


def prompt_of(task: str, question: str) -> str:
    """``sparbench_doc_to_text`` with the ``default`` kwargs: ``"\\n" + question + "\\n" +
    na_post_prompt`` (NA); ``"\\n" + question + "\\n" + note + "\\n" + MCA instruction`` (MCA,
    the note empty except for the bbox tasks, hence a blank line); ``"\\n" + question +
    "\\n\\n"`` (view_change_infer, no instruction)."""
    if task in NA_TASKS:
        return PRE_PROMPT + "\n" + question + "\n" + NA_POST_PROMPT
    if task in MCA_TASKS:
        note = BBOX_NOTE if task in BBOX_TASKS else ""
        return PRE_PROMPT + "\n" + question + "\n" + note + "\n" + MCA_POST_PROMPT
    if task == VCI_TASK:
        return PRE_PROMPT + "\n" + question + "\n" + "" + "\n" + ""
    raise ValueError(f"unknown SPAR-Bench task {task!r}")


def exact_match(pred: str, target: str) -> float:
    """``exact_match`` of ``utils.py``: both lower-cased (never stripped); right when equal,
    when the reply is a substring of the target (so an empty reply is right), or when its
    first character is the target. An empty reply never reaches ``pred[0]``."""
    pred, target = pred.lower(), target.lower()
    if pred == target or pred in target:
        return 1.0
    return 1.0 if pred[0] == target else 0.0


def abs_dist_norm(pred: float, target: float) -> float:
    """``abs_dist_norm``: the relative error, the absolute one when ``target`` is 0."""
    if target == 0.0:
        return abs(pred - target)
    return abs((pred - target) / target)


def mean_relative_accuracy(
    pred: float, target: float, start: float = 0.5, end: float = 0.95, interval: float = 0.05
) -> float:
    """``mean_relative_accuracy``: the share of the ``np.linspace(start, end, int((end -
    start) / interval + 2))`` thresholds (10 of them, 0.50 .. 0.95: the float count is
    10.999...) with ``abs_dist_norm(pred, target) <= 1 - threshold``, computed in floating
    point as written (an error of exactly 25% can fail the 0.75 threshold)."""
    num_pts = (end - start) / interval + 2
    conf_intervs = np.linspace(start, end, int(num_pts))
    accuracy = abs_dist_norm(pred, target) <= 1 - conf_intervs
    return float(accuracy.mean())


def process_na(pred: str, task: str) -> int | float:
    """``process_na``: every unsigned ``digits.digits`` or ``digits`` not preceded by ``^``;
    the first one, or for the ``*_mv`` tasks the last one (-1 when there is none).

    Raises:
        IndexError: a single-view task's reply holds no number (the official score is 0).
    """
    numbers = _NUMBER.findall(pred)
    extracted: list[int | float] = [float(n) if "." in n else int(n) for n in numbers]
    if task in MV_NA_TASKS:
        if not extracted:
            extracted = [-1]
        extracted = [extracted[-1]]
    return extracted[0]


def to_float(value: Any) -> float | None:
    """``to_float``: ``float(value)``, None when that fails."""
    try:
        return float(value)
    except BaseException:
        return None


def parse_instruction(instruction: str) -> dict[str, float]:
    """``parse_instruction``: ``k:v`` pairs split on ``","`` then ``":"``, values by ``float``
    and keys kept verbatim (``" rotate_right"`` is not ``rotate_right``).

    Raises:
        ValueError: a part without exactly one ``":"``, or a value ``float`` refuses.
    """
    return {k: float(v) for k, v in [part.split(":") for part in instruction.split(",")]}


def vci_axes(actions: Mapping[str, float]) -> list[float]:
    """The five signed axes of ``compute_vci_metric``, missing keys 0: right-left, up-down,
    forward-backward, rotate right-left, rotate up-down."""
    g = actions.get
    return [
        g("move_right", 0) - g("move_left", 0),
        g("move_up", 0) - g("move_down", 0),
        g("move_forward", 0) - g("move_backward", 0),
        g("rotate_right", 0) - g("rotate_left", 0),
        g("rotate_up", 0) - g("rotate_down", 0),
    ]


def compute_vci_metric(pred: str, answer: str) -> float:
    """``compute_vci_metric``: the mean over the five axes of ``mean_relative_accuracy(gt,
    predicted)``, the arguments as the official loop passes them, so the error is relative to
    the *prediction* (absolute where the predicted axis is 0).

    Raises:
        ValueError: either string is not ``k:v,k:v`` (the official score is then 0).
    """
    answer_list = vci_axes(parse_instruction(pred))
    gt_list = vci_axes(parse_instruction(answer))
    mra = [mean_relative_accuracy(gt, a, 0.5, 0.95, 0.05) for gt, a in zip(gt_list, answer_list)]
    return float(np.mean(mra))


def official_score(task: str, prediction: str, answer: str) -> Official:
    """``sparbench_process_results`` for one reply: the task's metric in ``[0, 1]`` and what
    the official code read (MCA: the lower-cased reply itself, compared raw; NA: the number
    taken, None when there was none; view_change_infer: the five predicted axes, None when the
    reply does not parse). Any exception of the official metric scores 0, as its ``except``
    does."""
    if task in MCA_TASKS:
        return Official(exact_match(prediction, answer), prediction.lower())
    if task in NA_TASKS:
        numbers = _NUMBER.findall(prediction)
        read = (numbers[-1] if task in MV_NA_TASKS else numbers[0]) if numbers else None
        try:
            got: Any = to_float(process_na(prediction, task))
            gold: Any = to_float(answer)  # None raises in the metric: 0, as officially
            credit = mean_relative_accuracy(got, gold, 0.5, 0.95, 0.05)
        except Exception:
            credit = 0.0
        return Official(credit, read)
    if task == VCI_TASK:
        try:
            read = ",".join(f"{v:g}" for v in vci_axes(parse_instruction(prediction)))
            credit = compute_vci_metric(prediction, answer)
        except Exception:
            return Official(0.0, None)
        return Official(credit, read)
    raise ValueError(f"unknown SPAR-Bench task {task!r}")


def split_options(question: str) -> list[str]:
    """The options written in an MCA question, in letter order from A: one per line
    (``A. x`` / ``A) x`` / ``(A) x`` / ``A: x``), else inline (``... A. x B. y``); empty when
    fewer than two are found. The official code never parses them (it matches letters)."""
    for pattern in (_LINE_OPTION, _INLINE_OPTION):
        found: dict[str, str] = {}
        for letter, text in pattern.findall(question):
            found.setdefault(letter, text.strip())
        out = []
        for letter in LETTERS:
            if letter not in found:
                break
            out.append(found[letter])
        if len(out) >= 2:
            return out
    return []


def _shards(path: Path) -> list[Path]:
    """The release's parquet files: ``path`` itself, or the ``*.parquet`` of ``path/data``
    (the Hugging Face snapshot) or of ``path``, sorted by name."""
    if path.is_file():
        return [path]
    for sub in (path / "data", path):
        if sub.is_dir():
            found = sorted(sub.glob("*.parquet"))
            if found:
                return found
    return []


def _check_complete(shards: Sequence[Path]) -> None:
    """Every ``split-KKKKK-of-NNNNN.parquet`` shard of a split is present."""
    groups: dict[tuple[str, int], set[int]] = {}
    for p in shards:
        m = _SHARD.match(p.name)
        if m:
            groups.setdefault((m["split"], int(m["n"])), set()).add(int(m["k"]))
    for (split, n), have in sorted(groups.items()):
        missing = [k for k in range(n) if k not in have]
        if missing:
            name = f"{split}-{missing[0]:05d}-of-{n:05d}.parquet"
            raise BadInputError(
                f"shard {name} is missing ({len(have)} of {n} {split} shards here); the "
                "official score is over the whole split (name one shard to read it alone)",
                file=shards[0].parent,
            )


def _is_shard(path: Path) -> bool:
    return path.suffix == ".parquet" and parquet_columns(path) >= _DETECT_COLUMNS


@register
class SparBench(PublicBenchmark):
    name = "spar"
    title = "SPAR-Bench"
    layout = "data/test-0000K-of-0000N.parquet shards (id, img_type, format_type, task, source, image: list of image structs {bytes, path}, question with the options written in it, answer), as the Hugging Face snapshot has them; a folder, its data/ or one shard"  # noqa: E501
    published = "huggingface.co/datasets/jasonzhango/SPAR-Bench (and SPAR-Bench-Tiny)"
    source = "fudan-zvg/spar@1679885: lmms-eval/lmms_eval/tasks/sparbench/{utils.py,sparbench.yaml}, readme.md"  # noqa: E501
    overall_rule = "unweighted mean of the per-task scores (sparbench_aggregate_results)"

    def detect(self, path: Path) -> bool:
        if path.is_dir():
            shards = _shards(path)
            return bool(shards) and _is_shard(shards[0])
        return path.is_file() and _is_shard(path)

    def load(self, path: Path) -> tuple[list[EvalItem], dict[str, int]]:
        shards = _shards(path)
        if not shards:
            raise BadInputError("no SPAR-Bench parquet shard here (data/test-*.parquet)", file=path)
        if path.is_dir():
            _check_complete(shards)
        items: list[EvalItem] = []
        for shard in shards:
            extra = [c for c in _EXTRA if c in parquet_columns(shard)]
            for n, row in read_parquet(shard, (*_COLUMNS, *extra)):
                iid = str(row["id"]) if row.get("id") is not None else None
                where = f"row {n} ({iid})"
                if iid is None:
                    raise BadInputError("missing field", file=shard, record=where, field="id")
                items.append(self._item(shard, where, iid, row, extra))
        return items, {}  # sparbench_process_results scores every record

    def _item(
        self, file: Path, where: str, iid: str, row: Mapping[str, Any], extra: Sequence[str]
    ) -> EvalItem:
        task = str(need(row, "task", file, where))
        if task not in TASKS:
            raise BadInputError(
                f"unknown task {task!r} (the official code raises on it; known: "
                f"{', '.join(TASKS)})",
                file=file,
                record=where,
                field="task",
            )
        question = need(row, "question", file, where)
        answer = need(row, "answer", file, where)
        for key, value in (("question", question), ("answer", answer)):
            if not isinstance(value, str):
                raise BadInputError(
                    f"{key} must be a string, got {type(value).__name__}",
                    file=file,
                    record=where,
                    field=key,
                )
        cells = row.get("image")
        if not isinstance(cells, list) or not cells:
            raise BadInputError(
                "image must be a non-empty list of images", file=file, record=where, field="image"
            )
        images = [image_cell(c, file, where, f"image[{k}]") for k, c in enumerate(cells)]
        level = next(lv for lv, tasks in LEVELS.items() if task in tasks)
        meta: dict[str, Any] = {"answer": answer, "level": level}
        meta.update({k: row[k] for k in extra if row.get(k) is not None})
        common: dict[str, Any] = dict(
            id=iid,
            type=task,
            question=question,
            images=images,
            categories=(task,),
            family=self.name,
            prompt_text=prompt_of(task, question),
        )

        def bad(message: str, field: str = "answer") -> BadInputError:
            return BadInputError(message, file=file, record=where, field=field)

        if task in MCA_TASKS:
            options = split_options(question)
            if len(options) < 2:
                raise bad("question has no options 'A. ...' (one per line or inline)", "question")
            gold = answer.strip().upper()
            if gold not in LETTERS[: len(options)]:
                raise bad(f"answer {answer!r} is not one of the {len(options)} option letters")
            return EvalItem(
                options=options,
                answer=gold,
                answer_kind="choice",
                choice_kind=infer_choice_kind(options),
                options_in_question=True,
                meta={**meta, "metric": METRIC_KEY[task]},
                **common,
            )
        if task in NA_TASKS:
            value = to_float(answer)
            if value is None or not math.isfinite(value):
                raise bad(f"answer {answer!r} is not a number (an NA task's gold)")
            return EvalItem(
                options=[],
                answer=answer.strip(),
                answer_kind="number",
                meta={**meta, "metric": METRIC_KEY[task]},
                **common,
            )
        try:
            parse_instruction(answer)
        except ValueError:
            raise bad(
                f"answer {answer!r} is not 'action:value,...' (compute_vci_metric's format)"
            ) from None
        return EvalItem(
            options=[],
            answer=answer.strip(),
            answer_kind="free",
            meta={**meta, "metric": METRIC_KEY[task]},
            **common,
        )

    def official(self, item: EvalItem, response: str | None) -> Official:
        if response is None:
            return Official(0.0, None)
        return official_score(item.type, response, str(item.meta.get("answer", item.answer)))

    def aggregate(
        self,
        items: Sequence[EvalItem],
        credits: Mapping[str, float],
        flags: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """``sparbench_aggregate_results``: per-task means (``by_category``), the overall as
        the unweighted mean of the task scores present, and the levels as the official code
        forms them: a task counts in a level when its output key minus the last ``_`` part
        is listed, which ``view_change_infer_vci_metric`` (→ ``view_change_infer_vci``) never
        is, so the official Middle is position_matching and camera_motion_infer alone.
        ``levels_readme`` puts view_change_infer in Middle, as the README's table does. A
        level with no task present is None (the official ``np.mean([])`` is nan)."""
        out = super().aggregate(items, credits, flags)
        cats = out["by_category"]
        output = {f"{t}_{METRIC_KEY[t]}": cats[t]["score"] for t in TASKS if t in cats}
        out["overall"] = float(sum(output.values()) / len(output)) if output else 0.0
        out["n_tasks"] = len(output)
        out["sparbench_score"] = out["overall"] * 100.0

        def mean(xs: Sequence[float]) -> float | None:
            return float(np.mean(xs)) if xs else None

        out["levels"] = {
            lv: mean([v for k, v in output.items() if "_".join(k.split("_")[:-1]) in tasks])
            for lv, tasks in LEVELS.items()
        }
        out["levels_readme"] = {
            lv: mean([cats[t]["score"] for t in tasks if t in cats]) for lv, tasks in LEVELS.items()
        }
        out["labels"] = {
            "overall": "unweighted mean of the per-task scores (the task returns it x100 as "
            "sparbench_score)",
            "levels": "Low/Middle/High as utils.py computes them (view_change_infer is left "
            "out of Middle by its metric key)",
            "levels_readme": "Low/Middle/High with view_change_infer in Middle (README table)",
        }
        return out
