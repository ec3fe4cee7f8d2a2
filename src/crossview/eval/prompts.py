"""From an item to what a backend sees: prompt text, ordered images, and its variants.

The prompt never contains the gold; only the ``oracle`` baseline, which declares
``needs_gold``, is handed the gold answer, in a separate field.

Variants of an item must not change its answer: circular rotations of the options (variant
``k`` in ``1..n-1``), the images in reverse order with every "Image N" renamed
(:data:`IMAGE_ORDER`), and paraphrases of the question the record carries (``PARAPHRASE + j``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from crossview.eval.extract import from_pixels
from crossview.eval.items import LETTERS, EvalItem, Prompt

IMAGE_ORDER = 1000
"""Variant id of the item with its images in reverse order (``--consistency``)."""
PARAPHRASE = 2000
"""Variant id of the item's first paraphrase; the j-th is ``PARAPHRASE + j``."""

CHOICE_INSTRUCTION = "Answer with the letter of the correct option."
FREE_INSTRUCTION = "Answer with a short phrase."
NUMBER_INSTRUCTION = "Answer with a single number."


@dataclass(frozen=True)
class Task:
    """One prompt to send, with the options and gold letter of this variant.

    ``order[i]`` is the index in the item's own options of this variant's option ``i``.
    """

    prompt: Prompt
    options: tuple[str, ...]
    answer: str
    order: tuple[int, ...] = ()


def variant_kind(variant: int) -> str:
    """``plain``, ``rotation``, ``image order`` or ``paraphrase``."""
    if variant == 0:
        return "plain"
    if variant < IMAGE_ORDER:
        return "rotation"
    return "image order" if variant < PARAPHRASE else "paraphrase"


_IMAGE_REF = re.compile(r"\b(image) (\d+)\b", re.IGNORECASE)
# words that refer to images by position or as a group: the reversed order would change them
_ORDER_WORDS = re.compile(
    r"\b(images|first|second|third|fourth|fifth|last|other|others|previous|next|each|every|"
    r"both|former|latter|left-most|right-most)\b",
    re.IGNORECASE,
)


def reorderable(item: EvalItem) -> bool:
    """Whether the item may be shown with its images reversed: two or more images, a choice or
    free answer, every image named as "Image N" (N in range) and no word that refers to images
    by position or as a group ("images", "first", "other", "each", ...)."""
    n = len(item.images)
    if n < 2 or item.answer_kind not in ("choice", "free") or item.prompt_text is not None:
        return False
    texts = [item.question, *item.options]
    if item.answer_kind == "free":
        texts.append(item.answer)
    if any(_ORDER_WORDS.search(t) for t in texts):
        return False
    named = [int(m.group(2)) for t in texts for m in _IMAGE_REF.finditer(t)]
    return bool(named) and all(1 <= k <= n for k in named)


def reverse_images(item: EvalItem) -> EvalItem:
    """The item with its images in reverse order and every "Image N" renamed to match
    (``n + 1 - N``), region references moved with their images; the answer is unchanged."""
    n = len(item.images)

    def rename(text: str) -> str:
        return _IMAGE_REF.sub(lambda m: f"{m.group(1)} {n + 1 - int(m.group(2))}", text)

    return replace(
        item,
        question=rename(item.question),
        options=[rename(o) for o in item.options],
        answer=rename(item.answer) if item.answer_kind == "free" else item.answer,
        images=item.images[::-1],
        regions=[{**r, "view": n - 1 - int(r["view"])} for r in item.regions],
    )


def point_instruction(item: EvalItem, coord_format: str) -> str:
    """The answer-format sentence of a point item for a coordinate convention."""
    gm = item.gold_mask
    assert gm is not None
    where = f"Image {gm.view + 1}" if len(item.images) > 1 else "the image"
    if coord_format == "absolute":
        unit = f"pixel coordinates of {where} ({gm.width} x {gm.height} pixels)"
    elif coord_format == "relative":
        unit = f"coordinates of {where} relative to its size, from 0 to 1"
    else:
        unit = f"coordinates of {where} relative to its size, from 0 to 1000"
    return f'Answer with the point as JSON {{"point_2d": [x, y]}} in {unit}.'


def render_text(item: EvalItem, options: tuple[str, ...], coord_format: str) -> str:
    """The user message: question, lettered options (unless already in it), instruction; or
    the benchmark's own message verbatim when the item carries one (``prompt_text``)."""
    if item.prompt_text is not None:
        return item.prompt_text
    parts = [item.question.strip()]
    if options and not item.options_in_question:
        parts.append("\n".join(f"{LETTERS[k]}. {o}" for k, o in enumerate(options)))
    if item.answer_kind == "choice":
        parts.append(CHOICE_INSTRUCTION)
    elif item.answer_kind == "point":
        parts.append(point_instruction(item, coord_format))
    elif item.answer_kind == "number":
        parts.append(NUMBER_INSTRUCTION)
    else:
        parts.append(FREE_INSTRUCTION)
    return "\n".join(parts)


def n_variants(item: EvalItem, circular: bool) -> int:
    """How many prompts an item needs: every rotation of its options under ``--circular``.

    Items whose options are written inside the question (CrossPoint-Bench) cannot be rotated
    and keep one variant.
    """
    if (
        circular
        and item.answer_kind == "choice"
        and not item.options_in_question
        and item.prompt_text is None
    ):
        return len(item.options)
    return 1


def build_tasks(
    item: EvalItem,
    *,
    circular: bool = False,
    consistency: bool = False,
    coord_format: str = "absolute",
    with_gold: bool = False,
) -> list[Task]:
    """Build the prompts of one item: the plain one (variant 0) and its variants.

    Args:
        item: the item.
        circular: every rotation ``k`` whose option ``i`` is the original option
            ``(i + k) mod n``.
        consistency: the rotations, the images reversed (when :func:`reorderable`) and every
            paraphrase the item carries.
        coord_format: the coordinate convention point answers are asked in.
        with_gold: fill ``Prompt.oracle_answer`` (only for backends that declare needs_gold).
    """
    shown: list[tuple[int, EvalItem, int]] = [
        (k, item, k) for k in range(n_variants(item, circular or consistency))
    ]
    if consistency:
        if reorderable(item):
            shown.append((IMAGE_ORDER, reverse_images(item), 0))
        for j, text in enumerate(item.paraphrases):
            shown.append((PARAPHRASE + j, replace(item, question=text), 0))
    return [_task(it, variant, k, coord_format, with_gold) for variant, it, k in shown]


def _task(item: EvalItem, variant: int, k: int, coord_format: str, with_gold: bool) -> Task:
    """The prompt of ``item`` with its options rotated by ``k``, as variant ``variant``."""
    coord_format = item.coord_format or coord_format
    size = None
    if item.gold_mask is not None:
        size = (item.gold_mask.width, item.gold_mask.height)
    n = len(item.options)
    order = tuple((i + k) % n for i in range(n)) if n else ()
    options = tuple(item.options[i] for i in order)
    if item.answer_kind == "choice":
        answer = LETTERS[(LETTERS.index(item.answer) - k) % n]
    else:
        answer = item.answer
    gold = _oracle_text(item, answer, coord_format) if with_gold else None
    prompt = Prompt(
        item_id=item.id,
        variant=variant,
        text=render_text(item, options, coord_format),
        images=tuple(item.images),
        letters=tuple(LETTERS[:n]) if item.answer_kind == "choice" else (),
        answer_kind=item.answer_kind,
        regions=tuple(item.regions if with_gold else (_public(r) for r in item.regions)),
        image_size=size,
        oracle_answer=gold,
        item_type=item.type,
        options=options,
        coord_format=item.coord_format,
    )
    return Task(prompt=prompt, options=options, answer=answer, order=order)


def _public(region: dict) -> dict:
    """A region reference as a model may see it: view, object, mask, box; not the object's
    ground-truth ``track_id`` (which would tell a matching question's answer)."""
    return {k: v for k, v in region.items() if k != "track_id"}


def _oracle_text(item: EvalItem, answer: str, coord_format: str) -> str:
    """The gold answer written the way a model would give it."""
    if item.answer_kind != "point":
        return f"Answer: {answer}"
    from crossview.eval.scoring import gold_point

    u, v = gold_point(item.gold_mask)  # type: ignore[arg-type]
    gm = item.gold_mask
    assert gm is not None
    x, y = from_pixels(u, v, gm.width, gm.height, coord_format)
    return f'{{"point_2d": [{x:.6g}, {y:.6g}]}}'
