"""BLINK's multi-view subtasks, ``Multi-view_Reasoning`` (133 val questions) and
``Visual_Correspondence`` (172), in the Hugging Face parquet release.

Facts from ``zeyofu/BLINK_Benchmark@2d6a779``: ``eval/test_benchmark.py`` (``load_prompt``: the
record's ``prompt`` verbatim, images ``image_1``..``image_4`` where present, in that order;
``analyze_answer``: the rule-based choice reader and its GPT-3.5 fallback;
``query_model``: the gold is the record's ``answer``), ``eval/multiple_choice.py`` (the
fallback), ``eval/evaluate.py`` (``eval_prediction``: exact string match per item, the subtask
from the ``idx``, ``Total`` = the unweighted mean of the subtask accuracies) and
``eval/val_answers.json`` / ``eval/saved_outputs`` (gold ``"(A)"``..``"(D)"``, test answers
``"hidden"``); the layout from huggingface.co/datasets/BLINK-Benchmark/BLINK (one folder per
config holding ``val-00000-of-00001.parquet`` and ``test-00000-of-00001.parquet``). Details in
docs/research/benchmarks-blink-impl.md and docs/research/benchmarks-b.md section 4.

Two departures, both counted in the run's summary:

- ``analyze_answer`` asks GPT-3.5-turbo to match a response it cannot read by rule (no or
  several ``(X)`` tokens). crossview never calls it (no network in scoring): such a response
  scores 0 and is counted under ``flags.needs_llm_matcher`` (and, read nothing from,
  ``unparsed``).
- The test split's answers are hidden (``"hidden"``; BLINK scores it on EvalAI). A test shard
  named directly is refused with a pointer to the val split; in a folder, test shards are not
  read and their rows are counted in ``skipped_records``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

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
from crossview.eval.items import EvalItem, ImageSource

CONFIGS = ("Multi-view_Reasoning", "Visual_Correspondence")
"""The multi-view subtasks of BLINK's 14 (Hugging Face config names)."""
CHOICE_TOKENS = ("(A)", "(B)", "(C)", "(D)", "(E)")
"""``analyze_answer``'s ``all_choices`` before the cut to the item's number of choices."""
IMAGE_COLUMNS = ("image_1", "image_2", "image_3", "image_4")
HIDDEN = "hidden"
"""The ``answer`` of every test record."""
NEEDS_LLM = "needs_llm_matcher"
"""Key of :attr:`EvalItem.meta` where :meth:`BlinkMultiView.official` records whether the
official reader would have asked GPT-3.5 (``aggregate`` sees only credits)."""
TEST_SKIP_REASON = "test split: answers hidden (BLINK scores it on EvalAI); the val split is scored"

_BARE_LETTERS = ("A", "B", "C", "D", "E")
_COLUMNS = ("idx", "question", "choices", "answer", "prompt")
_SHARD = re.compile(r"^(val|test)(?:-.*)?\.parquet$")
_HIDDEN_HELP = (
    "BLINK's test answers are hidden (answer 'hidden'; the test split is scored on EvalAI, "
    "eval.ai challenge 2287): point crossview at the val split, e.g. "
    "Multi-view_Reasoning/val-00000-of-00001.parquet, or at the dataset folder"
)


class Analysis(NamedTuple):
    """What ``analyze_answer`` makes of a response without its GPT step.

    Attributes:
        prediction: the returned choice (``"(A)"``...), compared verbatim with the gold; None
            when the function would ask the LLM matcher (or, on a non-string, fail).
        needs_llm: True when the rule-based part gives up and the official code calls
            ``match_multiple_choice`` (GPT-3.5-turbo).
    """

    prediction: str | None
    needs_llm: bool


def analyze_answer(response: str, n_choices: int) -> Analysis:
    """``analyze_answer`` of ``test_benchmark.py`` up to its GPT-3.5 fallback.

    1. A response that is exactly ``A``..``E`` becomes ``"(X)"``; exactly ``(A)``..``(E)`` is
       returned as is (both before the cut to the item's choices, so ``(E)`` on a two-choice
       item is returned, and scored wrong).
    2. Otherwise the whitespace tokens equal to one of the item's ``(A)``.. tokens are
       collected over the whole response and over its last paragraph (after the last
       ``"\\n\\n"``). When the whole response has none, or neither set has exactly one, the
       official code asks GPT-3.5 (here: ``needs_llm``). Else the last paragraph's single
       token wins, then the whole response's.
    """
    all_choices = set(CHOICE_TOKENS[:n_choices])
    intersect = all_choices & set(response.split())
    intersect_last = all_choices & set(response.split("\n\n")[-1].split())
    if response in _BARE_LETTERS:
        return Analysis(f"({response})", False)
    if response in CHOICE_TOKENS:
        return Analysis(response, False)
    if (len(intersect) != 1 and len(intersect_last) != 1) or len(intersect) < 1:
        return Analysis(None, True)
    (got,) = intersect_last if len(intersect_last) == 1 else intersect
    return Analysis(got, False)


def task_of(idx: str, split: str) -> str:
    """``eval_prediction``'s subtask of an ``idx``:
    ``'_'.join(idx.split(split)[1][1:].split('_')[:-1])``
    (``val_Multi-view_Reasoning_7`` -> ``Multi-view_Reasoning``)."""
    return "_".join(idx.split(split)[1][1:].split("_")[:-1])


def _shards(folder: Path, split: str) -> list[Path]:
    return sorted(
        p
        for p in folder.glob(f"{split}*.parquet")
        if p.is_file() and (m := _SHARD.match(p.name)) and m.group(1) == split
    )


def _config_folders(path: Path) -> list[Path]:
    """The multi-view config folders of a release: ``path`` itself when it is one, else its
    ``Multi-view_Reasoning/`` and ``Visual_Correspondence/`` that hold shards."""
    candidates = [path] if path.name in CONFIGS else [path / c for c in CONFIGS]
    return [d for d in candidates if d.is_dir() and (_shards(d, "val") or _shards(d, "test"))]


def _first_idx(path: Path) -> str | None:
    """The first ``idx`` of a parquet file (one column of one row group), or None."""
    try:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        if pf.metadata.num_rows == 0:
            return None
        col = pf.read_row_group(0, columns=["idx"]).column("idx")
        return str(col[0].as_py()) if len(col) else None
    except Exception:
        return None


def _split_of(path: Path) -> str | None:
    m = _SHARD.match(path.name)
    return m.group(1) if m else None


@register
class BlinkMultiView(PublicBenchmark):
    name = "blink"
    title = "BLINK (multi-view subtasks)"
    layout = "the Hugging Face snapshot's config folders Multi-view_Reasoning/ and Visual_Correspondence/, each with val-00000-of-00001.parquet (and test-...parquet, answers hidden): columns idx, question, sub_task, image_1..image_4 ({bytes, path} structs, null when unused), choices (list), answer ('(A)'..), prompt (options included); or one val shard"  # noqa: E501
    published = "huggingface.co/datasets/BLINK-Benchmark/BLINK (configs Multi-view_Reasoning, Visual_Correspondence; split val)"  # noqa: E501
    source = "zeyofu/BLINK_Benchmark@2d6a779: eval/test_benchmark.py (load_prompt, analyze_answer), eval/multiple_choice.py, eval/evaluate.py, eval/val_answers.json"  # noqa: E501
    overall_rule = (
        "mean of the per-subtask accuracies (evaluate.py's Total, over the subtasks present; "
        "BLINK's Total averages all 14)"
    )

    def detect(self, path: Path) -> bool:
        if path.is_dir():
            return bool(_config_folders(path))
        if path.suffix != ".parquet" or not path.is_file() or _split_of(path) is None:
            return False
        if path.parent.name in CONFIGS:
            return True  # the release's own place (a corrupt copy then fails loudly in load)
        if not {*_COLUMNS, "image_1"} <= parquet_columns(path):
            return False
        idx = _first_idx(path)
        split = _split_of(path)
        return idx is not None and split is not None and task_of(idx, split) in CONFIGS

    def load(self, path: Path) -> tuple[list[EvalItem], dict[str, int]]:
        skipped: dict[str, int] = defaultdict(int)
        if path.is_file():
            if _split_of(path) == "test":
                raise BadInputError(_HIDDEN_HELP, file=path)
            return self._shard(path), {}
        folders = _config_folders(path)
        if not folders:
            raise BadInputError(
                f"no {' or '.join(c + '/' for c in CONFIGS)} folder with val-*.parquet shards",
                file=path,
            )
        items: list[EvalItem] = []
        tests: list[Path] = []
        for folder in folders:
            for shard in _shards(folder, "val"):
                items.extend(self._shard(shard))
            tests.extend(_shards(folder, "test"))
        if tests:
            import pyarrow.parquet as pq

            for shard in tests:
                try:
                    skipped[TEST_SKIP_REASON] += pq.ParquetFile(shard).metadata.num_rows
                except Exception as exc:
                    raise BadInputError(
                        f"not a readable parquet file ({exc})", file=shard
                    ) from None
        if not items:
            raise BadInputError(
                "no val shard (val-*.parquet) in "
                + ", ".join(f.name + "/" for f in folders)
                + "; "
                + _HIDDEN_HELP,
                file=path,
            )
        return items, dict(skipped)

    def _shard(self, path: Path) -> list[EvalItem]:
        """The items of one val shard."""
        present = parquet_columns(path)
        images_in = [c for c in IMAGE_COLUMNS if c in present]  # load_prompt: `if k in d`
        columns = [*_COLUMNS, *images_in, *(["sub_task"] if "sub_task" in present else [])]
        file_split = _split_of(path)
        items = []
        for n, row in read_parquet(path, columns):
            where = f"row {n}"
            idx = str(need(row, "idx", path, where))
            where = f"row {n} ({idx})"
            split = file_split or idx.split("_", 1)[0]
            if not idx.startswith(f"{split}_"):
                raise BadInputError(
                    f"idx does not start with the split name {split + '_'!r}",
                    file=path,
                    record=where,
                    field="idx",
                )
            answer = str(need(row, "answer", path, where))
            if split == "test" or answer == HIDDEN:
                raise BadInputError(_HIDDEN_HELP, file=path, record=where, field="answer")
            task = task_of(idx, split)
            if task not in CONFIGS:
                raise BadInputError(
                    f"idx names subtask {task!r}; crossview reads BLINK's multi-view subtasks "
                    f"{', '.join(CONFIGS)} only",
                    file=path,
                    record=where,
                    field="idx",
                )
            choices = need(row, "choices", path, where)
            if (
                not isinstance(choices, list)
                or not 2 <= len(choices) <= len(CHOICE_TOKENS)
                or not all(isinstance(c, str) and c.strip() for c in choices)
            ):
                raise BadInputError(
                    f"choices must be a list of 2 to {len(CHOICE_TOKENS)} non-empty strings",
                    file=path,
                    record=where,
                    field="choices",
                )
            if answer not in CHOICE_TOKENS[: len(choices)]:
                raise BadInputError(
                    f"answer {answer!r} is not one of {', '.join(CHOICE_TOKENS[: len(choices)])}",
                    file=path,
                    record=where,
                    field="answer",
                )
            images: list[ImageSource] = [
                image_cell(row[c], path, where, c) for c in images_in if row.get(c)
            ]
            if len(images) < 2:
                missing = next((c for c in IMAGE_COLUMNS[:2] if not row.get(c)), "image_2")
                raise BadInputError(
                    "a multi-view question needs two images (image_1 and image_2)",
                    file=path,
                    record=where,
                    field=missing,
                )
            prompt = str(need(row, "prompt", path, where))
            question = str(need(row, "question", path, where))
            items.append(
                EvalItem(
                    id=idx,
                    type=task,
                    question=question,
                    options=[str(c) for c in choices],
                    answer=answer[1],
                    answer_kind="choice",
                    images=images,
                    categories=(task,),
                    family=self.name,
                    options_in_question=True,
                    # load_prompt: d['prompt'] as is (no disclaimer for these tasks; the
                    # "\nAnswer:" suffix is for BLIP models only)
                    prompt_text=prompt,
                    meta={
                        "split": split,
                        "gold": answer,
                        **({"sub_task": row["sub_task"]} if row.get("sub_task") else {}),
                    },
                )
            )
        return items

    def official(self, item: EvalItem, response: str | None) -> Official:
        if response is None:  # analyze_answer's try/except: None, scored wrong
            return Official(0.0, None)
        got = analyze_answer(response, len(item.options))
        gold = item.meta.get("gold", f"({item.answer})")
        return Official(
            float(got.prediction == gold), got.prediction, NEEDS_LLM if got.needs_llm else None
        )

    def aggregate(
        self,
        items: Sequence[EvalItem],
        credits: Mapping[str, float],
        flags: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        out = super().aggregate(items, credits, flags)
        cats = out["by_category"]
        out["micro"] = out["overall"]
        out["overall"] = float(sum(c["score"] for c in cats.values()) / len(cats)) if cats else 0.0
        out["labels"] = {
            "overall": "mean of the per-subtask accuracies, as evaluate.py forms its Total "
            "(over the subtasks present, not BLINK's 14)",
            "micro": "micro mean over items",
            "needs_llm_matcher": "responses analyze_answer hands to GPT-3.5 "
            "(match_multiple_choice), not run by crossview: scored 0",
        }
        return out
