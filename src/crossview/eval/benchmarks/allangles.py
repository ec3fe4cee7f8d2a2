"""All-Angles Bench (2,132 multi-view questions over 90 scenes, six tasks), in its Hugging Face
release layout: ``data.json`` beside the image folders (``ch-chenyu/All-Angles-Bench``).

The benchmark's own evaluation is a vendored VLMEvalKit fork, ``Chenyu-Wang567/All-Angles-Bench
@0e1d210`` (evaluation files as of ``b5ced8e``), with no All-Angles-specific scorer:

- ``VLMEvalkit/vlmeval/dataset/image_mcq.py``: ``All_Angles_Bench`` is a plain
  ``ImageMCQDataset`` (l. 104-106); ``build_prompt`` (l. 167-206; all images first, then
  ``Question: ...`` / ``Options:`` / ``X. text`` lines / the instruction, the ``Hint:`` line
  commented out); ``evaluate`` (l. 208-290: vanilla, not circular, since the name holds none
  of mmbench/ccbench/circular; predictions read back from the ``.xlsx`` file and ``str()``-ed).
- ``VLMEvalkit/vlmeval/utils/matching_util.py``: ``can_infer`` = ``can_infer_option``, else
  ``can_infer_text`` (reproduced by :func:`can_infer`).
- ``VLMEvalkit/vlmeval/dataset/utils/multiple_choice.py``: ``extract_answer_from_item``
  (l. 262-298: ``can_infer`` first; the LLM judge only when it reads nothing; without a judge,
  ``'Z'``), ``eval_vanilla`` (hit = extracted letter == gold), ``report_acc`` (l. 68-91:
  ``Overall`` = mean hit, then the mean hit per ``category``, names sorted).

crossview runs no judge: a response ``can_infer`` reads nothing from scores 0 (what
VLMEvalKit's ``exact_matching`` mode gives) and is counted in ``needs_llm_judge``. The
``pair_idx`` field is kept in ``meta``; the official code computes nothing from it. The
``data.json`` fields come from third-party loaders of the release (the official code reads
the TSV its Hugging Face preprocessing writes). Details: docs/research/benchmarks-allangles-
impl.md and docs/research/benchmarks-a.md section 3.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from crossview.errors import BadInputError
from crossview.eval.benchmarks import Official, PublicBenchmark, need, need_letter, register
from crossview.eval.items import LETTERS, EvalItem
from crossview.eval.loaders import Resolver, infer_choice_kind

RELEASED = "data.json"
INSTRUCTION = "Please select the correct answer from the options above. \n"
"""The last line of ``ImageMCQDataset.build_prompt`` (trailing space and newline kept)."""

CATEGORIES = (
    "attribute_identification",
    "camera_pose_estimation",
    "counting",
    "manipulation",
    "relative_direction",
    "relative_distance",
)
"""The ``category`` values (third-party counts; README: the six tasks). Informative only:
the loader takes the file's value as it is."""

REFUSALS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)
"""``can_infer_option``'s ``reject_to_answer``: any of them makes the answer ``'Z'``."""

API_FAILURE = "Failed to obtain answer via API"
_PUNCT = ".()[],:;!*#{}"

# What a response goes through between the model and can_infer: run.py/inference.py write the
# predictions to an .xlsx file (pandas + xlsxwriter) and evaluate() reads it back
# (pd.read_excel) and str()-s every cell. XlsxWriter truncates a cell to 32,767 characters;
# pandas reads its default NA strings (and an empty cell) as NaN, which str() makes "nan".
NEEDS_JUDGE = "needs_llm_judge"
"""Flag of a response ``can_infer`` reads nothing from (VLMEvalKit asks its judge)."""
ANSWERED_Z = "answered_z"
"""Flag of a response read as ``'Z'`` (a refusal or a bare Z): wrong, never judged."""
XLSX_CELL_LIMIT = 32767
PANDAS_NA = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)

_KEYS = ("index", "category", "pair_idx", "image_path", "question", "answer")


def build_prompt(question: str, options: Sequence[str]) -> str:
    """The text message of ``ImageMCQDataset.build_prompt`` (the fork's: no ``Hint:`` line)."""
    lines = "".join(f"{LETTERS[k]}. {o}\n" for k, o in enumerate(options))
    return f"Question: {question}\nOptions:\n{lines}{INSTRUCTION}"


def as_prediction(response: str) -> str:
    """The prediction text ``evaluate`` scores: the response after its ``.xlsx`` round trip."""
    text = response[:XLSX_CELL_LIMIT]
    return "nan" if text in PANDAS_NA else text


def can_infer_option(answer: str, choices: Mapping[str, str]) -> str | None:
    """``can_infer_option`` of the fork's ``matching_util.py`` (``VERBOSE`` unset, as
    ``run.py`` leaves it): ``'Z'`` for a refusal; else, with ``.()[],:;!*#{}`` made spaces and
    the text split on whitespace, the one option letter that is a whole token, or ``'Z'`` when
    no option letter is and ``Z`` is; else None (its ``False``)."""
    if API_FAILURE in answer:
        return None
    if any(err in answer for err in REFUSALS):
        return "Z"
    for c in _PUNCT:
        answer = answer.replace(c, " ")
    tokens = answer.split()
    found = [ch for ch in choices if ch in tokens]
    if len(found) == 1:
        return found[0]
    if not found and "Z" in tokens:
        return "Z"
    return None


def can_infer_text(answer: str, choices: Mapping[str, str]) -> str | None:
    """``can_infer_text``: the one option whose lower-cased text is a substring of the
    lower-cased answer; None when none or several are."""
    low = answer.lower()
    found = [k for k, v in choices.items() if str(v).lower() in low]
    return found[0] if len(found) == 1 else None


def can_infer(answer: str, choices: Mapping[str, str]) -> str | None:
    """``can_infer``: the option reading, else the text reading (None: the judge's turn)."""
    answer = str(answer)
    return can_infer_option(answer, choices) or can_infer_text(answer, choices)


def _records_path(path: Path) -> Path:
    if path.is_dir():
        return path / RELEASED
    return path


def _head_matches(path: Path) -> bool:
    if path.suffix != ".json" or not path.is_file():
        return False
    with path.open(encoding="utf-8") as fh:
        head = fh.read(8192)
    return head.lstrip().startswith("[") and all(f'"{k}"' in head for k in (*_KEYS, "A", "B"))


def _options(rec: Mapping[str, Any], path: Path, where: str) -> list[str]:
    """Option texts from the letter fields, in letter order (``build_choices`` takes every
    capital-letter field that is not NaN; a gap is refused here)."""
    options: list[str] = []
    gap = None
    for letter in LETTERS:
        value = rec.get(letter)
        if value is None or (isinstance(value, str) and not value.strip()):
            gap = gap or letter
            continue
        if gap is not None:
            raise BadInputError(
                f"option {letter} follows the empty option {gap}",
                file=path,
                record=where,
                field=letter,
            )
        if isinstance(value, (dict, list, bool)):
            raise BadInputError(
                f"option must be text or a number, got {type(value).__name__}",
                file=path,
                record=where,
                field=letter,
            )
        options.append(str(value))
    if len(options) < 2:
        raise BadInputError(
            "fewer than two options (fields A, B, ...)", file=path, record=where, field="A"
        )
    return options


@register
class AllAngles(PublicBenchmark):
    name = "allangles"
    title = "All-Angles Bench"
    layout = "data.json (a list of {index, folder, category, pair_idx, sourced_dataset, image_path: [paths relative to the folder], question, A, B, C, answer}) with the image folders beside it"  # noqa: E501
    published = "huggingface.co/datasets/ch-chenyu/All-Angles-Bench (the Ego-Exo4D frames come from the benchmark's process scripts)"  # noqa: E501
    source = "Chenyu-Wang567/All-Angles-Bench@0e1d210: VLMEvalkit/vlmeval/dataset/image_mcq.py, VLMEvalkit/vlmeval/utils/matching_util.py, VLMEvalkit/vlmeval/dataset/utils/multiple_choice.py"  # noqa: E501
    overall_rule = "micro mean over items (report_acc 'Overall'); can_infer only, no LLM judge: what it cannot read counts 0 (needs_llm_judge)"  # noqa: E501

    def detect(self, path: Path) -> bool:
        return _head_matches(_records_path(path))

    def load(self, path: Path) -> list[EvalItem]:
        path = _records_path(path)
        if not path.is_file():
            raise BadInputError(f"no {RELEASED} in this folder", file=path.parent)
        try:
            records = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise BadInputError(f"not valid JSON ({exc})", file=path) from None
        if not isinstance(records, list):
            raise BadInputError("expected a JSON list of questions", file=path)
        # image paths are relative to the dataset repository's root, the folder of data.json
        res = Resolver(path, root=path.parent)
        items = []
        for n, rec in enumerate(records):
            where = f"item {n}"
            if not isinstance(rec, dict):
                raise BadInputError("record is not an object", file=path, record=where)
            index = need(rec, "index", path, where)
            if isinstance(index, (dict, list, bool)):
                raise BadInputError(
                    "index must be a number or text", file=path, record=where, field="index"
                )
            iid = str(index)
            where = f"item {n} (index {iid})"
            category = need(rec, "category", path, where)
            if not isinstance(category, str):
                raise BadInputError(
                    "category must be text", file=path, record=where, field="category"
                )
            question = need(rec, "question", path, where)
            if not isinstance(question, str):
                raise BadInputError(
                    "question must be text", file=path, record=where, field="question"
                )
            options = _options(rec, path, where)
            answer = need(rec, "answer", path, where)
            # eval_vanilla compares the read letter with the answer as it is (no strip)
            need_letter(answer, len(options), path, where)
            paths = need(rec, "image_path", path, where)
            if isinstance(paths, str):
                paths = [paths]
            if not isinstance(paths, list) or not paths:
                raise BadInputError(
                    "image_path must be a non-empty list of paths",
                    file=path,
                    record=where,
                    field="image_path",
                )
            images = [res.image(p, where, f"image_path[{k}]") for k, p in enumerate(paths)]
            items.append(
                EvalItem(
                    id=iid,
                    type=category,
                    question=question,
                    options=options,
                    answer=answer,
                    answer_kind="choice",
                    images=images,
                    categories=(category,),
                    family=self.name,
                    choice_kind=infer_choice_kind(options),
                    prompt_text=build_prompt(question, options),
                    meta={
                        k: rec[k]
                        for k in ("index", "folder", "pair_idx", "sourced_dataset")
                        if k in rec
                    },
                )
            )
        return items

    def official(self, item: EvalItem, response: str | None) -> Official:
        if response is None:
            return Official(0.0, None)
        choices = {LETTERS[k]: o for k, o in enumerate(item.options)}
        parsed = can_infer(as_prediction(response), choices)
        if parsed is None:  # VLMEvalKit would ask its judge
            return Official(0.0, None, NEEDS_JUDGE)
        return Official(float(parsed == item.answer), parsed, ANSWERED_Z if parsed == "Z" else None)

    def aggregate(
        self,
        items: Sequence[EvalItem],
        credits: Mapping[str, float],
        flags: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """``report_acc``'s Overall and per-category accuracy, plus what a judge would have
        been asked (the summary's ``flags``: ``needs_llm_judge``, answered items ``can_infer``
        read nothing from, scored 0; ``answered_z``, read as ``'Z'``: a refusal or a bare Z,
        wrong) and ``overall_if_judge_right``, the overall had a judge matched every
        ``needs_llm_judge`` response right."""
        out = super().aggregate(items, credits, flags)
        judged = sum(1 for f in (flags or {}).values() if f == NEEDS_JUDGE)
        n = len(items)
        out["overall_if_judge_right"] = (
            float((sum(credits.get(it.id, 0.0) for it in items) + judged) / n) if n else 0.0
        )
        return out
