"""``classical``: the classical-vision solver as a harness backend (crossview.solver).

It answers from exactly what a model is shown (images with overlays or markers, question text,
options) and abstains, with its reason, where geometry cannot decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crossview.eval.backends import register
from crossview.eval.backends.base import Backend
from crossview.eval.items import Prompt, Response


@register("classical")
class ClassicalBackend(Backend):
    """SIFT + RANSAC epipolar geometry, mark detection by palette colour, mask measures."""

    def describe(self) -> dict[str, Any]:
        from crossview.solver.solve import SOLVERS

        return {**super().describe(), "types": sorted(SOLVERS)}

    def generate(self, prompts: Sequence[Prompt]) -> list[Response]:
        from crossview.solver.solve import Abstain, Question, solve
        from crossview.solver.vision import load_rgb

        out = []
        for p in prompts:
            q = Question(
                p.item_type, p.text, list(p.options), [load_rgb(im.read_bytes()) for im in p.images]
            )
            try:
                ans = solve(q)
            except Abstain as exc:
                # the reason goes beside the text: words like "Image 1" in it must not be read
                # as an answer
                out.append(Response(text="I cannot determine the answer.", backend_note=str(exc)))
                continue
            if isinstance(ans, tuple):
                out.append(Response(text=self._point(ans, p)))
            else:
                out.append(Response(text=f"Answer: {ans}"))
        return out

    def _point(self, uv: tuple[float, float], p: Prompt) -> str:
        fmt = self.settings.coord_format
        x, y = uv
        if fmt != "absolute" and p.image_size is not None:
            w, h = p.image_size
            scale = 1.0 if fmt == "relative" else 1000.0
            x, y = (x + 0.5) / w * scale, (y + 0.5) / h * scale
        return f'{{"point_2d": [{x:.3f}, {y:.3f}]}}'
