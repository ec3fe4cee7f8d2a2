"""MMSI-Bench (1,000 multi-image spatial questions, 11 categories), parquet or VLMEvalKit TSV.

Facts from ``OpenRobotLab/MMSI-Bench@4e28bff``: ``vlmeval/dataset/mmsi_bench.py``
(``MMSIBenchDataset.build_prompt``, ``extract_single_choice_with_word_boundary``, ``evaluate``)
and ``README.md`` ("Load Dataset"); details in docs/research/benchmarks-b.md section 1.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

from crossview.errors import BadInputError
from crossview.eval.benchmarks import (
    Official,
    PublicBenchmark,
    image_cell,
    need,
    need_letter,
    parquet_columns,
    read_parquet,
    register,
)
from crossview.eval.items import LETTERS, EvalItem, ImageSource

POST_PROMPT = (
    "Answer with the option's letter from the given choices directly. "
    "Enclose the option's letter within ``."
)
_OPTIONS = re.compile(r"([A-D])\s*:\s*(.*?)(?=\s+[A-D]\s*:|,\s*[A-D]\s*:|$)", re.S)
_COLUMNS = ("id", "images", "question_type", "question", "answer")


def official_parse(pred: str) -> str | None:
    """``extract_single_choice_with_word_boundary`` of ``mmsi_bench.py``: the text inside
    double backticks, then inside single backticks, then the first standalone capital A-D not
    followed by a space and a letter; None when none is found."""
    m = re.search(r"``([^`]*)``", pred)
    if m:
        pred = m.group(1)
    m = re.search(r"`([^`]*)`", pred)
    if m:
        pred = m.group(1)
    m = re.search(r"\b[A-D]\b(?!\s[a-zA-Z])", pred)
    return m.group() if m else None


def official_match(answer: str, predict: str | None) -> bool:
    """``MMSIBenchDataset.evaluate``'s comparison (both lower-cased and stripped)."""
    if predict is None:
        return False
    a, p = answer.strip().lower(), predict.strip().lower()
    if not p:
        return False
    if a == p[0]:
        return True
    if p[0] == "(" and len(p) > 1 and a == p[1]:
        return True
    if p.startswith("option ") and len(p) > 7 and a == p[7]:
        return True
    return p.startswith("the answer is ") and len(p) > 14 and a == p[14]


def split_options(question: str) -> list[str]:
    """The options written after ``Options:`` in the question (the official circular code's
    parse), in letter order; empty when the question has none."""
    if "Options:" not in question:
        return []
    tail = question.split("Options:", 1)[1].strip()
    found = {k: v.strip().rstrip(",").strip() for k, v in _OPTIONS.findall(tail)}
    out = []
    for letter in LETTERS[:4]:
        if letter not in found:
            break
        out.append(found[letter])
    return out


def _released(folder: Path) -> tuple[Path, Path]:
    return folder / "MMSI_Bench.parquet", folder / "MMSI_bench.tsv"


@register
class MMSIBench(PublicBenchmark):
    name = "mmsi"
    title = "MMSI-Bench"
    layout = "MMSI_Bench.parquet (id, images: list of JPEG bytes, question_type, question, answer) or MMSI_bench.tsv (VLMEvalKit: index, image, question, answer, category)"  # noqa: E501
    published = "huggingface.co/datasets/RunsenXu/MMSI-Bench"
    source = "OpenRobotLab/MMSI-Bench@4e28bff: vlmeval/dataset/mmsi_bench.py, README.md"

    def detect(self, path: Path) -> bool:
        if path.is_dir():
            return any(self.detect(p) for p in _released(path))
        if not path.is_file():
            return False
        if path.name in ("MMSI_Bench.parquet", "MMSI_bench.tsv"):
            return True  # the released names (a corrupt copy then fails loudly in load)
        if path.suffix == ".parquet":
            return path.name.lower().startswith("mmsi") and set(_COLUMNS) <= parquet_columns(path)
        return path.suffix == ".tsv" and path.name.lower().startswith("mmsi")

    def load(self, path: Path) -> list[EvalItem]:
        if path.is_dir():
            path = next(p for p in _released(path) if p.is_file())
        if path.suffix == ".tsv":
            return list(self._tsv(path))
        items = []
        for n, row in read_parquet(path, _COLUMNS):
            iid = str(row["id"] if row["id"] is not None else n)
            where = f"row {n} ({iid})"
            cells = need(row, "images", path, where)
            if not isinstance(cells, list) or not cells:
                raise BadInputError(
                    "images must be a non-empty list", file=path, record=where, field="images"
                )
            images = [image_cell(c, path, where, f"images[{k}]") for k, c in enumerate(cells)]
            items.append(
                self._item(
                    path, where, iid, row, images, str(need(row, "question_type", path, where))
                )
            )
        return items

    def _tsv(self, path: Path):
        csv.field_size_limit(sys.maxsize)
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        for n, row in enumerate(rows):
            iid = str(row.get("index") or n)
            where = f"row {n} ({iid})"
            raw = str(need(row, "image", path, where)).strip()
            cells = json.loads(raw) if raw.startswith("[") else [raw]
            images = [image_cell(c, path, where, f"image[{k}]") for k, c in enumerate(cells)]
            yield self._item(path, where, iid, row, images, str(need(row, "category", path, where)))

    def _item(
        self, path: Path, where: str, iid: str, row: dict, images: list[ImageSource], category: str
    ) -> EvalItem:
        question = str(need(row, "question", path, where))
        answer = str(need(row, "answer", path, where)).strip()
        options = split_options(question)
        if len(options) < 2:
            raise BadInputError(
                "question has no 'Options: A: ..., B: ...' part",
                file=path,
                record=where,
                field="question",
            )
        need_letter(answer, len(options), path, where)
        # released copies write "(Cam.-Obj.)" or "(Cam.\u2013Obj.)": one name per category
        category = category.replace(".-", ".\u2013")
        return EvalItem(
            id=iid,
            type=category,
            question=question,
            options=options,
            answer=answer,
            answer_kind="choice",
            images=images,
            categories=(category,),
            family=self.name,
            options_in_question=True,
            prompt_text=f"{question}\n{POST_PROMPT}",
        )

    def official(self, item: EvalItem, response: str | None) -> Official:
        parsed = official_parse(response) if response is not None else None
        return Official(float(official_match(item.answer, parsed)), parsed)
