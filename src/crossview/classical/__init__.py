"""A classical multi-view geometry solver for the benchmark's questions.

It answers from exactly what a model is shown (images with their overlays or markers, the
question text and options, and masks under the region protocol), never from scene ground truth:
local features (SIFT, ORB) with ratio test and mutual check, RANSAC fundamental matrices and
homographies, marker / overlay detection against the named palette colours, and appearance
and shape statistics inside masks. Where it cannot decide it gives no answer with a reason.

Entry points: :func:`answer_prompt` (a harness prompt to a response text) and
:func:`crossview.classical.solver.solve` (a :class:`~crossview.classical.query.Query` to an
:class:`~crossview.classical.query.Answer`).

Modules: :mod:`~crossview.classical.query` (prompt to query), :mod:`~crossview.classical.detect`
(overlays, dots, arrows, colour blobs), :mod:`~crossview.classical.features` (keypoints,
matches, two-view geometry), :mod:`~crossview.classical.cache` (content-keyed results),
:mod:`~crossview.classical.common` (the handler registry, the per-query solver and the helpers
the handlers share), and the handlers in :mod:`~crossview.classical.solver` (points, objects),
:mod:`~crossview.classical.objects` (visibility, counting, motion) and
:mod:`~crossview.classical.layout` (cameras); importing ``solver`` registers them all.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from crossview.classical.query import (
    Answer,
    Query,
    name_regions,
    open_options,
    split_prompt,
    type_from_id,
    type_from_text,
)
from crossview.eval.extract import from_pixels
from crossview.render.palette import PALETTE

if TYPE_CHECKING:
    from crossview.eval.items import Prompt

__all__ = ["Answer", "Query", "answer", "answer_prompt", "query_from_prompt", "render_answer"]

REFUSAL = "I cannot determine the answer"
_COLOR_WORDS = re.compile(r"\b(?:" + "|".join(PALETTE) + r")\b")


def query_from_prompt(prompt: Prompt) -> Query:
    """Build the solver's view of a harness prompt (text, images, regions; never the gold).

    An open-ended prompt gets the options its question implies (:func:`open_options`), with
    letters, and the short answer each stands for. Region-protocol references are named as
    overlays would be (:func:`~crossview.classical.query.name_regions`), with their masks.
    """
    from crossview.eval.items import LETTERS

    letters = list(prompt.letters)
    text, region_masks, alias = name_regions(prompt.text, list(prompt.regions))
    question, options = split_prompt(text, letters)
    images = [np.asarray(img.open()) for img in prompt.images]
    short: list[str] = []
    if prompt.answer_kind == "free":
        options, short = open_options(question, images)
        if alias:  # an open answer names a region by its number, not by our colour
            short = [
                _COLOR_WORDS.sub(lambda m: alias.get(m.group(0), m.group(0)), a) for a in short
            ]
        letters = list(LETTERS[: len(options)])
    qtype = (
        getattr(prompt, "item_type", "") or type_from_id(prompt.item_id) or type_from_text(question)
    )
    return Query(
        text=text,
        question=question,
        options=options,
        letters=letters,
        images=images,
        answer_kind=prompt.answer_kind,
        qtype=qtype,
        regions=list(prompt.regions),
        short_answers=short,
        region_masks=region_masks,
    )


def render_answer(
    ans: Answer,
    size: tuple[int, int] | None,
    coord_format: str,
    short_answers: list[str] | None = None,
) -> str:
    """The response text of an answer: ``Answer: B`` (the option's short answer for an
    open-ended item, ``Answer: red``), a JSON point, or an explicit refusal.

    The refusal's reason is written without option names, so the harness's extractor reads it
    as no answer rather than as a mention of an option.
    """
    if ans.letter is not None:
        if short_answers:
            from crossview.eval.items import LETTERS

            return f"Answer: {short_answers[LETTERS.index(ans.letter)]}"
        return f"Answer: {ans.letter}"
    if ans.point is not None and size is not None:
        u, v = ans.point
        w, h = size
        x, y = from_pixels(u, v, w, h, coord_format)
        return f'{{"point_2d": [{x:.2f}, {y:.2f}]}}'
    reason = ans.reason or "no method applies"
    return f"{REFUSAL} (classical solver: {_scrub(reason)})."


def _scrub(reason: str) -> str:
    """Remove words the extractor could read as an option (colours, digits, letters alone)."""
    import re

    from crossview.eval.extract import COLOR_WORDS

    words = []
    for w in reason.split():
        core = re.sub(r"\W", "", w).lower()
        if core in COLOR_WORDS or any(ch.isdigit() for ch in core) or len(core) == 1:
            continue
        if core in ("yes", "no", "image", "images"):
            continue
        words.append(w)
    return " ".join(words)


def answer(prompt: Prompt, coord_format: str = "absolute") -> tuple[str, str | None]:
    """Answer one harness prompt: ``(response text, abstention reason or None)``."""
    from crossview.classical.solver import solve

    q = query_from_prompt(prompt)
    ans = solve(q)
    text = render_answer(ans, prompt.image_size, coord_format, q.short_answers)
    return text, None if ans.answered else (ans.reason or "no method applies")


def answer_prompt(prompt: Prompt, coord_format: str = "absolute") -> str:
    """Answer one harness prompt with the classical solver; returns the response text."""
    return answer(prompt, coord_format)[0]
