"""``classical``: a multi-view geometry baseline that answers from what a model is shown.

The backend reads the prompt (question text, options, ordered images, and masks under the
``region`` protocol) and hands it to :mod:`crossview.classical`, which answers from local
features, RANSAC geometry and the drawn markers, never from scene ground truth. Where it cannot
decide it says so ("I cannot determine the answer."), which the harness's extractor scores as
no answer (reason ``refusal``); the solver's reason goes to ``Response.backend_note``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crossview.classical import REFUSAL, answer
from crossview.eval.backends import register
from crossview.eval.backends.base import Backend, ResultCallback
from crossview.eval.items import Prompt, Response


@register("classical")
class ClassicalCVBackend(Backend):
    """SIFT/ORB matching, RANSAC F / H, marker and overlay detection; abstains when unsure."""

    accepts_regions = True

    def describe(self) -> dict[str, Any]:
        """What the run records about this backend."""
        return {**super().describe(), "method": "classical multi-view geometry (OpenCV)"}

    def generate(self, prompts: Sequence[Prompt]) -> list[Response]:
        """Answer each prompt independently (no state is carried between prompts)."""
        return [respond(p, self.settings.coord_format) for p in prompts]

    async def run(self, prompts: Sequence[Prompt], on_result: ResultCallback) -> None:
        """Answer every prompt; with ``workers`` > 1 in that many processes, results still
        reported in prompt order as they complete (so a stopped run keeps what it has)."""
        n = max(1, self.settings.workers)
        if n == 1 or len(prompts) < 2:
            await super().run(prompts, on_result)
            return
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=n) as pool:
            fmt = [self.settings.coord_format] * len(prompts)
            for p, r in zip(prompts, pool.map(respond, prompts, fmt, chunksize=2), strict=True):
                on_result(p, r)


def respond(prompt: Prompt, coord_format: str) -> Response:
    """The classical solver's response to one prompt (module level: runs in worker processes)."""
    text, reason = answer(prompt, coord_format)
    if reason is not None:
        return Response(text=f"{REFUSAL}.", backend_note=reason)
    return Response(text=text)
