"""``classical``: a multi-view geometry baseline that answers from what a model is shown.

The backend reads the prompt (question text, options, ordered images, and masks under the
``region`` protocol) and hands it to :mod:`crossview.classical`, which answers from local
features, RANSAC geometry and the drawn markers, never from scene ground truth. Where it cannot
decide it says so ("I cannot determine the answer."), which the harness's extractor scores as
no answer (reason ``refusal``); the solver's reason goes to ``Response.backend_note`` when the
harness has that field, else into the text with every option-like word removed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from crossview.classical import REFUSAL, answer
from crossview.eval.backends import register
from crossview.eval.backends.base import Backend
from crossview.eval.items import Prompt, Response

_HAS_NOTE = any(f.name == "backend_note" for f in dataclasses.fields(Response))


@register("classical")
class ClassicalCVBackend(Backend):
    """SIFT/ORB matching, RANSAC F / H, marker and overlay detection; abstains when unsure."""

    accepts_regions = True

    def describe(self) -> dict[str, Any]:
        """What the run records about this backend."""
        return {**super().describe(), "method": "classical multi-view geometry (OpenCV)"}

    def generate(self, prompts: Sequence[Prompt]) -> list[Response]:
        """Answer each prompt independently (no state is carried between prompts)."""
        out = []
        for p in prompts:
            text, reason = answer(p, self.settings.coord_format)
            if reason is not None and _HAS_NOTE:
                out.append(Response(text=f"{REFUSAL}.", backend_note=reason))  # type: ignore[call-arg]
            elif reason is not None:
                out.append(Response(text=text))
            else:
                out.append(Response(text=text))
        return out
