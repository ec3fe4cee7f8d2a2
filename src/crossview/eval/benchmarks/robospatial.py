"""RoboSpatial-Home (350 questions: configuration, compatibility, context) in the layout its
official downloader writes, or as the Hugging Face parquet release.

Facts from ``chanhee-luke/RoboSpatial-Eval@19f04a5``: ``download_benchmark.py`` (the local
layout: ``annotations.json``, one list of ``{category, question, answer, img, depth_image,
mask}`` with paths relative to the root, images in ``images/``), ``main.py`` (the question is
sent verbatim; overall = micro over every item of every file) and ``evaluation.py``
(``evaluate_answer``: the yes/no prefix rule, the first-point regex cascade, ``point_in_polygon``;
``eval_pregenerated_results``: records with an empty question or answer are skipped) as of
``3af8ceb``; README "Leaderboard" (the macro "VQA avg" and "overall total"). Details in
docs/research/benchmarks-a.md section 2.

Context items are point items for crossview's robust score: the gold polygon (normalised
``(x, y)`` vertices, used by the official scorer) is rasterised at the image's size into the
item's :class:`~crossview.eval.items.GoldMask`. Their questions ask for coordinates between 0
and 1, so the items carry ``coord_format="relative"``: the robust score reads their points as
0-1 whatever the run's ``--coord-format``.

``main.py`` counts records with an empty question or answer in its denominator
(``num_total = len(json_data)``) although it never scores them; crossview skips them with a
counted reason (``skipped_records``) and leaves them out of the overall (the hub lists 350
rows; whether any of them is empty was not checked).
"""

from __future__ import annotations

import ast
import io
import json
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crossview.errors import BadInputError
from crossview.eval.benchmarks import (
    Official,
    PublicBenchmark,
    image_cell,
    parquet_columns,
    read_parquet,
    register,
)
from crossview.eval.items import EvalItem, GoldMask, ImageSource
from crossview.eval.loaders import Resolver

ANNOTATIONS = "annotations.json"
CATEGORIES = ("configuration", "compatibility", "context")
VQA_CATEGORIES = ("configuration", "compatibility")
SKIP_REASON = "empty question or answer (the official evaluator skips it)"
_COLUMNS = ("category", "question", "answer", "img")
_HF_COLUMNS = {*_COLUMNS, "depth_image", "mask"}

# evaluate_answer: the first "(x, y)", else the first "[x, y]"; unsigned decimals only
_TUPLE = re.compile(r"\(\s*(\d+\.?\d*)\s*,\s*(\d+\.?\d*)\s*\)")
_PAIR = re.compile(r"\[\s*(\d+\.?\d*)\s*,\s*(\d+\.?\d*)\s*\]")
_BRACKETS = re.compile(r"\[(.*?)\]", re.DOTALL)


def point_in_polygon(x: float, y: float, polygon: Sequence[Sequence[float]]) -> bool:
    """``point_in_polygon`` of ``evaluation.py``: the even-odd ray cast, edge ``(j, i)`` with
    ``j`` the previous vertex, crossing when ``(yi > y) != (yj > y)`` and ``x`` is left of the
    edge at height ``y``."""
    inside = False
    j = len(polygon) - 1
    for i in range(len(polygon)):
        xi, yi = polygon[i]
        xj, yj = polygon[j]
        if ((yi > y) != (yj > y)) and (x < (xj - xi) * (y - yi) / (yj - yi) + xi):
            inside = not inside
        j = i
    return inside


def official_point(text: str) -> tuple[float, float] | None:
    """The point ``evaluate_answer`` reads from a response, or None (unparsable).

    In order: the first ``(x, y)``; the first ``[x, y]`` (both: unsigned decimals, so ``-0.1``
    and ``.5`` do not match); else the first ``[...]`` with a space put after each comma and a
    trailing comma dropped, read by ``ast.literal_eval`` (a plain ``[x, y]``, or the first
    element of a list of tuples or of 2-lists); when that fails, the first ``(x, y)`` inside it.
    The coordinates are never rescaled.
    """
    for pattern in (_TUPLE, _PAIR):
        m = pattern.search(text)
        if m:
            return float(m.group(1)), float(m.group(2))
    m = _BRACKETS.search(text)
    if m is None:
        return None
    content = re.sub(r",(\S)", r", \1", m.group(1)).strip()
    if content.endswith(","):
        content = content[:-1]
    try:
        try:
            value = ast.literal_eval("[" + content + "]")
        except (SyntaxError, ValueError):
            inner = _TUPLE.search(content)
            return (float(inner.group(1)), float(inner.group(2))) if inner else None
        point: Any
        if not value:
            return None
        if len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
            point = tuple(value)
        elif isinstance(value[0], tuple):
            point = value[0]
        elif isinstance(value[0], list) and len(value[0]) == 2:
            point = tuple(value[0])
        else:
            return None
        if not (isinstance(point, tuple) and len(point) == 2):
            return None
        return float(point[0]), float(point[1])
    except Exception:  # the official code's catch-all: anything else is unparsable
        return None


def official_yesno(gold: str, text: str) -> tuple[bool, str | None]:
    """``evaluate_answer`` for a Yes/No gold: the stripped, lower-cased response must *start*
    with the gold ("The answer is yes" is wrong; "Not sure" and "None" are right for No).

    Returns:
        ``(correct, what the prefix reads: "yes", "no" or None)``.
    """
    pred = text.strip().lower()
    read = "yes" if pred.startswith("yes") else "no" if pred.startswith("no") else None
    return pred.startswith(gold.strip().lower()), read


def parse_polygon(answer: str) -> list[tuple[float, float]] | None:
    """The gold polygon of a context answer (``"[(0.383, 0.873), ...]"``), or None when it is
    not a list of at least 3 numeric ``(x, y)`` pairs (the official scorer needs a list of at
    least 3 vertices; anything else scores every response wrong)."""
    try:
        value = ast.literal_eval(answer.strip())
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(value, list) or len(value) < 3:
        return None
    out = []
    for v in value:
        if not isinstance(v, (list, tuple)) or len(v) != 2:
            return None
        if not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in v):
            return None
        out.append((float(v[0]), float(v[1])))
    return out


def polygon_mask(polygon: Sequence[tuple[float, float]], width: int, height: int) -> np.ndarray:
    """Rasterise a normalised polygon at ``width`` x ``height``: pixel ``(row, col)`` is inside
    when its centre ``((col + 0.5) / W, (row + 0.5) / H)`` passes :func:`point_in_polygon`
    (the same even-odd rule, evaluated per row with sorted edge crossings).

    A polygon thinner than a pixel can cover no pixel centre; the pixels holding its vertices
    are then marked, so that the gold region is never empty.
    """
    p = np.asarray(polygon, dtype=float)
    xi, yi = p[:, 0], p[:, 1]
    xj, yj = np.roll(xi, 1), np.roll(yi, 1)  # the previous vertex, as the official loop
    xs = (np.arange(width) + 0.5) / width
    ys = (np.arange(height) + 0.5) / height
    y = ys[:, None]
    crosses = (yi[None, :] > y) != (yj[None, :] > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        at = (xj - xi)[None, :] * (y - yi[None, :]) / (yj - yi)[None, :] + xi[None, :]
    at = np.sort(np.where(crosses, at, -np.inf), axis=1)
    n_edges = at.shape[1]
    mask = np.zeros((height, width), dtype=bool)
    for row in range(height):
        # edges whose crossing lies strictly right of x: x < crossing
        right = n_edges - np.searchsorted(at[row], xs, side="right")
        mask[row] = right % 2 == 1
    if not mask.any():
        cols = np.clip(np.floor(xi * width), 0, width - 1).astype(int)
        rows = np.clip(np.floor(yi * height), 0, height - 1).astype(int)
        mask[rows, cols] = True
    return mask


def _image_size(image: ImageSource) -> tuple[int, int]:
    from PIL import Image

    src = image.path if image.path is not None else io.BytesIO(image.read_bytes())
    with Image.open(src) as im:
        return im.size


def _first_record(path: Path) -> dict[str, Any] | None:
    """The first object of a JSON list, read from the file's head (cheap detection)."""
    with path.open(encoding="utf-8") as fh:
        head = fh.read(16384).lstrip()
    if not head.startswith("["):
        return None
    try:
        rec, _ = json.JSONDecoder().raw_decode(head[1:].lstrip())
    except json.JSONDecodeError:
        return None
    return rec if isinstance(rec, dict) else None


def _parquet_files(folder: Path) -> list[Path]:
    found = []
    for sub in (folder, folder / "data"):
        if sub.is_dir():
            found += sorted(p for p in sub.glob("*.parquet") if parquet_columns(p) >= _HF_COLUMNS)
    return found


@register
class RoboSpatialHome(PublicBenchmark):
    name = "robospatial"
    title = "RoboSpatial-Home"
    layout = "annotations.json (one list of {category, question, answer, img, depth_image, mask}, paths relative to it) and images/, as download_benchmark.py writes them; or the Hugging Face parquet files (category, question, answer, img, depth_image, mask as image structs)"  # noqa: E501
    published = "huggingface.co/datasets/chanhee-luke/RoboSpatial-Home (local layout: github.com/chanhee-luke/RoboSpatial-Eval download_benchmark.py)"  # noqa: E501
    source = "chanhee-luke/RoboSpatial-Eval@19f04a5: evaluation.py, main.py, download_benchmark.py, README.md"  # noqa: E501
    overall_rule = (
        "micro mean over items (main.py); vqa_avg and macro_overall are the README leaderboard's "
        "macro means"
    )

    def detect(self, path: Path) -> bool:
        if path.is_dir():
            if (path / ANNOTATIONS).is_file():
                return self.detect(path / ANNOTATIONS)
            return bool(_parquet_files(path))
        if not path.is_file():
            return False
        if path.suffix == ".parquet":
            return parquet_columns(path) >= _HF_COLUMNS
        if path.suffix != ".json":
            return False
        rec = _first_record(path)
        return rec is not None and {"category", "question", "answer", "img"} <= set(rec)

    def load(self, path: Path) -> tuple[list[EvalItem], dict[str, int]]:
        items: list[EvalItem] = []
        skipped: dict[str, int] = defaultdict(int)
        seen: dict[str, int] = defaultdict(int)
        for file, where, rec, image in self._records(path):
            question, answer = rec.get("question"), rec.get("answer")
            category = "unknown" if rec.get("category") is None else str(rec["category"])
            n = seen[category]
            seen[category] += 1  # ids follow the downloader's per-split image index
            if not question or not answer:
                skipped[SKIP_REASON] += 1
                continue
            for key, value in (("question", question), ("answer", answer)):
                if not isinstance(value, str):
                    raise BadInputError(
                        f"{key} must be a string, got {type(value).__name__}",
                        file=file,
                        record=where,
                        field=key,
                    )
            items.append(self._item(file, where, f"{category}_{n}", category, rec, image()))
        return items, dict(skipped)

    def _records(self, path: Path) -> Iterator[tuple[Path, str, dict[str, Any], Any]]:
        """``(file, record name, record, image getter)`` in file order."""
        if path.is_dir() and not (path / ANNOTATIONS).is_file():
            files = _parquet_files(path)
            if not files:
                raise BadInputError(
                    f"no {ANNOTATIONS} and no RoboSpatial-Home parquet file here", file=path
                )
            for f in files:
                yield from self._parquet(f)
            return
        if path.is_dir():
            path = path / ANNOTATIONS
        if path.suffix == ".parquet":
            yield from self._parquet(path)
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise BadInputError(f"not valid JSON ({exc})", file=path) from None
        if isinstance(data, dict):
            data = [data]  # main.py wraps a single record
        if not isinstance(data, list):
            raise BadInputError("expected a JSON list of questions", file=path)
        res = Resolver(path, root=path.parent)
        for n, rec in enumerate(data):
            where = f"item {n}"
            if not isinstance(rec, dict):
                raise BadInputError("record is not an object", file=path, record=where)

            def image(rec: dict[str, Any] = rec, where: str = where) -> ImageSource:
                rel = rec.get("img")
                if isinstance(rel, str):
                    rel = rel.replace("\\", "/")  # os.path.join on Windows
                return res.image(rel, where, "img")

            yield path, where, rec, image

    def _parquet(self, path: Path) -> Iterator[tuple[Path, str, dict[str, Any], Any]]:
        for n, row in read_parquet(path, _COLUMNS):
            where = f"row {n}"

            def image(row: dict[str, Any] = row, where: str = where) -> ImageSource:
                return image_cell(row.get("img"), path, where, "img")

            yield path, where, row, image

    def _item(
        self,
        file: Path,
        where: str,
        iid: str,
        category: str,
        rec: Mapping[str, Any],
        image: ImageSource,
    ) -> EvalItem:
        question, answer = str(rec["question"]), str(rec["answer"])
        common: dict[str, Any] = dict(
            id=iid,
            type=category,
            question=question,
            images=[image],
            categories=(category,),
            family=self.name,
            prompt_text=question,  # main.py sends the question verbatim
        )
        gold = answer.strip().lower()
        if gold in ("yes", "no"):  # the official scorer dispatches on the gold, not the category
            return EvalItem(
                options=["Yes", "No"],
                answer="A" if gold == "yes" else "B",
                answer_kind="choice",
                choice_kind="yesno",
                options_in_question=True,
                meta={"gold": answer},
                **common,
            )
        polygon = parse_polygon(answer)
        if polygon is None:
            raise BadInputError(
                "answer is neither Yes/No nor a list of at least 3 (x, y) points",
                file=file,
                record=where,
                field="answer",
            )
        from crossview.geometry.masks import rle_encode

        width, height = _image_size(image)
        mask = polygon_mask(polygon, width, height)
        return EvalItem(
            options=[],
            answer="point",
            answer_kind="point",
            gold_mask=GoldMask(view=0, width=width, height=height, rle=rle_encode(mask)),
            coord_format="relative",  # the question asks for 0-1 coordinates
            meta={"gold": answer, "polygon": [list(p) for p in polygon]},
            **common,
        )

    def official(self, item: EvalItem, response: str | None) -> Official:
        if response is None:
            return Official(0.0, None)
        if item.answer_kind == "choice":
            correct, read = official_yesno(item.meta["gold"], response)
            return Official(float(correct), read)
        point = official_point(response)
        if point is None:
            return Official(0.0, None)
        inside = point_in_polygon(point[0], point[1], item.meta["polygon"])
        return Official(float(inside), f"({point[0]:g}, {point[1]:g})")

    def aggregate(
        self,
        items: Sequence[EvalItem],
        credits: Mapping[str, float],
        flags: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        out = super().aggregate(items, credits, flags)
        cats = out["by_category"]

        def macro(names: Sequence[str]) -> float | None:
            got = [cats[c]["score"] for c in names if c in cats]
            return float(sum(got) / len(got)) if got else None

        out["vqa_avg"] = macro(VQA_CATEGORIES)
        out["macro_overall"] = macro(CATEGORIES)
        out["labels"] = {
            "overall": "micro mean over items, as main.py prints 'Overall accuracy'",
            "vqa_avg": "README leaderboard 'VQA avg': mean of the configuration and "
            "compatibility accuracies",
            "macro_overall": "README leaderboard 'overall total': mean of the three category "
            "accuracies",
        }
        return out
