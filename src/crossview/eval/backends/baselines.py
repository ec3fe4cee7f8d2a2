"""Baselines: ``random`` (seeded, uniform over the item's options) and ``oracle`` (the gold)."""

from __future__ import annotations

import random as _random
from collections.abc import Sequence
from typing import Any

from crossview.eval.backends import register
from crossview.eval.backends.base import Backend
from crossview.eval.extract import from_pixels
from crossview.eval.items import Prompt, Response


@register("random")
class RandomBackend(Backend):
    """Uniform random answers, seeded per item and variant (the same seed gives the same run).

    Choice items get a uniform option letter; point items a uniform point in the answer image,
    written in the run's coordinate convention; free items get no answer (empty text).
    """

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "seed": self.settings.seed}

    def generate(self, prompts: Sequence[Prompt]) -> list[Response]:
        out = []
        for p in prompts:
            rng = _random.Random(f"{self.settings.seed}:{p.item_id}:{p.variant}")
            if p.answer_kind == "choice":
                text = f"Answer: {rng.choice(p.letters)}"
            elif p.answer_kind == "point" and p.image_size is not None:
                w, h = p.image_size
                # uniform over the image: (u, v) in [-0.5, W - 0.5) x [-0.5, H - 0.5)
                u, v = rng.random() * w - 0.5, rng.random() * h - 0.5
                x, y = from_pixels(u, v, w, h, p.coords(self.settings.coord_format))
                text = f'{{"point_2d": [{x:.3f}, {y:.3f}]}}'
            else:
                text = ""
            out.append(Response(text=text))
        return out


@register("oracle")
class OracleBackend(Backend):
    """Answers with the gold the file carries: checks extraction and scoring end to end."""

    needs_gold = True
    accepts_regions = True

    def generate(self, prompts: Sequence[Prompt]) -> list[Response]:
        return [Response(text=p.oracle_answer) for p in prompts]
