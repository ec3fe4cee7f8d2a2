"""What another evaluation harness calls to ask and score our items exactly as we do.

The lmms-eval task that ``crossview export --format lmms-eval`` writes imports this module: a
native record becomes an :class:`~crossview.eval.items.EvalItem` without reading its images
(the other harness supplies them), its prompt is the one ``crossview eval`` sends, and a
model's reply is extracted and scored by the same functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crossview.eval.extract import (
    Extraction,
    extract_choice,
    extract_free,
    extract_number,
    extract_point,
)
from crossview.eval.items import EvalItem, ImageSource
from crossview.eval.prompts import render_text
from crossview.eval.scoring import score


class _Unread:
    """A resolver that trusts image paths and reads nothing (the images come from elsewhere)."""

    file = Path("<record>")

    def image(
        self, rel: Any, record: str, field: str, subdirs: Sequence[str] = ("",)
    ) -> ImageSource:
        return ImageSource(path=Path(str(rel)))


def item_from_record(record: dict[str, Any], protocol: str = "auto") -> EvalItem:
    """The item of a native ``questions.jsonl`` record under ``protocol`` (``auto``: the
    record's overlay or marker protocol, else region); the images are not opened.

    Raises:
        BadInputError: a record that ``crossview eval`` would refuse (missing field, bad
            option letters, a protocol the record does not carry).
    """
    from crossview.eval.loaders import _native_item

    return _native_item(record, 0, _Unread(), protocol, "native")  # type: ignore[arg-type]


def extract_answer(
    item: EvalItem, options: Sequence[str], text: str | None, coord_format: str = "absolute"
) -> Extraction:
    """Run the extractor of the item's answer kind on a response (options in shown order)."""
    if item.answer_kind == "choice":
        return extract_choice(text, tuple(options), item.choice_kind)
    if item.answer_kind == "point":
        gm = item.gold_mask
        assert gm is not None
        return extract_point(text, gm.width, gm.height, item.coord_format or coord_format)
    if item.answer_kind == "number":
        return extract_number(text)
    return extract_free(text)


def prompt_text(item: EvalItem, coord_format: str = "absolute") -> str:
    """The user message ``crossview eval`` sends for the plain variant of ``item``."""
    return render_text(item, tuple(item.options), coord_format)


def score_response(
    item: EvalItem, text: str | None, coord_format: str = "absolute"
) -> bool | float:
    """Whether a model's reply to :func:`prompt_text` is right, scored as ``crossview eval``
    scores it (no answer is wrong)."""
    ext = extract_answer(item, item.options, text, coord_format)
    return score(item, item.answer, ext)[0]
