"""ViewSpatial-Bench (5,712 questions on camera and person perspectives), its JSON release.

Facts from ``ZJU-REAL/ViewSpatial-Bench@2e85a5e``: ``evaluate.py`` (prompt, ``extract_option``,
last-line rule, micro accuracy) and ``eval/ViewSpatial-Bench.json`` (5 keys per record, image
paths relative to the repository root, prefixed ``ViewSpatial-Bench/``); details in
docs/research/benchmarks-b.md section 2.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from crossview.errors import BadInputError
from crossview.eval.benchmarks import Official, PublicBenchmark, need, register
from crossview.eval.items import LETTERS, EvalItem
from crossview.eval.loaders import Resolver

PROMPT_FORMAT = "\nReply only to the corresponding option.\nAnswer:"
_KEYS = {"question_type", "image_path", "question", "choices", "answer"}
_LINE = re.compile(r"^\s*([A-Z])\.\s*(.*\S)\s*$")


def official_parse(text: str) -> str | None:
    """``extract_option``: the first standalone A-D, case-insensitive, upper-cased."""
    m = re.search(r"\b([A-D])\b", text, re.IGNORECASE)
    return m.group(1).upper() if m else None


@register
class ViewSpatialBench(PublicBenchmark):
    name = "viewspatial"
    title = "ViewSpatial-Bench"
    layout = "ViewSpatial-Bench.json (a list of {question_type, image_path: [ViewSpatial-Bench/...], question, choices, answer}) with the image folders ViewSpatial-Bench/{scannetv2_val,val2017}/ beside it or one level up"  # noqa: E501
    published = "github.com/ZJU-REAL/ViewSpatial-Bench (eval/ViewSpatial-Bench.json); images: huggingface.co/datasets/lidingm/ViewSpatial-Bench"  # noqa: E501
    source = "ZJU-REAL/ViewSpatial-Bench@2e85a5e: evaluate.py, eval/ViewSpatial-Bench.json"

    def detect(self, path: Path) -> bool:
        if path.is_dir():
            return any(
                self.detect(p)
                for p in (path / "ViewSpatial-Bench.json", path / "eval" / "ViewSpatial-Bench.json")
            )
        if path.suffix != ".json" or not path.is_file():
            return False
        with path.open(encoding="utf-8") as fh:
            head = fh.read(4096)
        return head.lstrip().startswith("[") and all(f'"{k}"' in head for k in _KEYS)

    def load(self, path: Path) -> list[EvalItem]:
        if path.is_dir():
            path = next(
                p
                for p in (path / "ViewSpatial-Bench.json", path / "eval" / "ViewSpatial-Bench.json")
                if p.is_file()
            )
        try:
            records = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise BadInputError(f"not valid JSON ({exc})", file=path) from None
        if not isinstance(records, list):
            raise BadInputError("expected a JSON list of questions", file=path)
        # paths start with "ViewSpatial-Bench/": relative to the repository root, which is the
        # json's folder or (as released, in eval/) its parent
        root = path.parent.parent if path.parent.name == "eval" else path.parent
        res = Resolver(path, root=root)
        items = []
        for n, rec in enumerate(records):
            where = f"item {n}"
            if not isinstance(rec, dict):
                raise BadInputError("record is not an object", file=path, record=where)
            paths = need(rec, "image_path", path, where)
            if isinstance(paths, str):
                paths = [paths]
            images = [res.image(p, where, f"image_path[{k}]") for k, p in enumerate(paths)]
            question = str(need(rec, "question", path, where))
            choices = str(need(rec, "choices", path, where))
            options = []
            for line in choices.splitlines():
                m = _LINE.match(line)
                if not m or m.group(1) != LETTERS[len(options)]:
                    raise BadInputError(
                        f"choice line {line!r} is not 'X. text' in letter order",
                        file=path,
                        record=where,
                        field="choices",
                    )
                options.append(m.group(2))
            gold = official_parse(str(need(rec, "answer", path, where)))
            if gold is None or gold not in LETTERS[: len(options)]:
                raise BadInputError(
                    "answer is not one of the choice lines", file=path, record=where, field="answer"
                )
            qtype = str(need(rec, "question_type", path, where))
            items.append(
                EvalItem(
                    id=str(n),
                    type=qtype,
                    question=question,
                    options=options,
                    answer=gold,
                    answer_kind="choice",
                    images=images,
                    categories=(qtype,),
                    family=self.name,
                    options_in_question=True,
                    # evaluate.py: question + choices + prompt_format, no separator
                    prompt_text=question + choices + PROMPT_FORMAT,
                )
            )
        return items

    def official(self, item: EvalItem, response: str | None) -> Official:
        if response is None:
            return Official(0.0, None)
        parsed = official_parse(response.split("\n")[-1])
        return Official(float(parsed == item.answer), parsed)
