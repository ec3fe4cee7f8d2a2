"""From an item to what a backend sees: prompt text, ordered images, and circular rotations.

The prompt never contains the gold; only the ``oracle`` baseline, which declares
``needs_gold``, is handed the gold answer, in a separate field.
"""

from __future__ import annotations

from dataclasses import dataclass

from crossview.eval.items import LETTERS, EvalItem, Prompt

CHOICE_INSTRUCTION = "Answer with the letter of the correct option."
FREE_INSTRUCTION = "Answer with a short phrase."


@dataclass(frozen=True)
class Task:
    """One prompt to send, with the options and gold letter of this variant."""

    prompt: Prompt
    options: tuple[str, ...]
    answer: str


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
    """The user message: question, lettered options (unless already in it), instruction."""
    parts = [item.question.strip()]
    if options and not item.options_in_question:
        parts.append("\n".join(f"{LETTERS[k]}. {o}" for k, o in enumerate(options)))
    if item.answer_kind == "choice":
        parts.append(CHOICE_INSTRUCTION)
    elif item.answer_kind == "point":
        parts.append(point_instruction(item, coord_format))
    else:
        parts.append(FREE_INSTRUCTION)
    return "\n".join(parts)


def n_variants(item: EvalItem, circular: bool) -> int:
    """How many prompts an item needs: every rotation of its options under ``--circular``.

    Items whose options are written inside the question (CrossPoint-Bench) cannot be rotated
    and keep one variant.
    """
    if circular and item.answer_kind == "choice" and not item.options_in_question:
        return len(item.options)
    return 1


def build_tasks(
    item: EvalItem,
    *,
    circular: bool = False,
    coord_format: str = "absolute",
    with_gold: bool = False,
) -> list[Task]:
    """Build the prompts of one item: the plain one (variant 0) and, with ``circular``, every
    rotation ``k`` whose option ``i`` is the original option ``(i + k) mod n``.

    Args:
        item: the item.
        circular: build every rotation of the options.
        coord_format: the coordinate convention point answers are asked in.
        with_gold: fill ``Prompt.oracle_answer`` (only for backends that declare needs_gold).
    """
    tasks = []
    size = None
    if item.gold_mask is not None:
        size = (item.gold_mask.width, item.gold_mask.height)
    n = len(item.options)
    for k in range(n_variants(item, circular)):
        options = tuple(item.options[(i + k) % n] for i in range(n)) if n else ()
        if item.answer_kind == "choice":
            answer = LETTERS[(LETTERS.index(item.answer) - k) % n]
        else:
            answer = item.answer
        gold = None
        if with_gold:
            gold = _oracle_text(item, answer, coord_format)
        prompt = Prompt(
            item_id=item.id,
            variant=k,
            text=render_text(item, options, coord_format),
            images=tuple(item.images),
            letters=tuple(LETTERS[:n]) if item.answer_kind == "choice" else (),
            answer_kind=item.answer_kind,
            regions=tuple(item.regions if with_gold else (_public(r) for r in item.regions)),
            image_size=size,
            oracle_answer=gold,
            item_type=item.type,
            options=tuple(options),
        )
        tasks.append(Task(prompt=prompt, options=options, answer=answer))
    return tasks


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
    if coord_format == "absolute":
        x, y = u, v
    else:
        scale = 1.0 if coord_format == "relative" else 1000.0
        x, y = (u + 0.5) / gm.width * scale, (v + 0.5) / gm.height * scale
    return f'{{"point_2d": [{x:.6g}, {y:.6g}]}}'
