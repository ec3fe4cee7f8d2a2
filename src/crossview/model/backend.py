"""CrossViewer inference for the evaluation harness (the ``region`` protocol).

:class:`CrossViewerRunner` answers harness prompts (text with ``<region>`` placeholders,
ordered images, region references with masks) two ways: by option likelihood
(:meth:`~CrossViewerRunner.score_options`, the log-probability of each option letter as the
answer's first token) and by greedy generation (:meth:`~CrossViewerRunner.generate`).

:class:`CrossViewerBackend` wraps it as the harness backend ``crossviewer:CKPT`` (generation)
or ``crossviewer:CKPT@likelihood``; it registers itself when this module is imported, so the
harness only needs ``"crossviewer": "crossview.model.backend"`` in its module table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from crossview.errors import BadInputError
from crossview.geometry.masks import rle_decode
from crossview.model.modeling_crossviewer import load_crossviewer
from crossview.model.processor_crossviewer import Example

__all__ = ["CrossViewerRunner", "example_from_prompt"]


def example_from_prompt(prompt: Any) -> Example:
    """A harness :class:`~crossview.eval.items.Prompt` -> :class:`Example` (no answer).

    The objects of each view are the regions the prompt refers to (deduplicated by
    ``(view, object)``); region references are renumbered into those per-view lists.
    """
    images = [img.open() for img in prompt.images]
    per_view: list[list[dict]] = [[] for _ in images]
    index: dict[tuple[int, int], int] = {}
    refs = []
    for j, r in enumerate(prompt.regions):
        v, o = int(r["view"]), int(r["object"])
        if not 0 <= v < len(images):
            raise BadInputError(
                f"region {j} names view {v}", record=prompt.item_id, field="regions"
            )
        if (v, o) not in index:
            index[(v, o)] = len(per_view[v])
            per_view[v].append(r)
        refs.append((v, index[(v, o)]))
    masks, tracks = [], []
    for v, regs in enumerate(per_view):
        W, H = images[v].size
        if regs:
            masks.append(np.stack([rle_decode(r["mask_rle"]) for r in regs]).astype(bool))
        else:
            masks.append(np.zeros((0, H, W), bool))
        tracks.append(np.array([int(r.get("track_id") or -1) for r in regs], dtype=np.int64))
    return Example(
        id=str(prompt.item_id),
        question=prompt.text,
        options=[],
        answer=None,
        images=images,
        masks=masks,
        track_ids=tracks,
        region_refs=refs,
        answer_kind=prompt.answer_kind,
    )


class CrossViewerRunner:
    """A loaded CrossViewer checkpoint answering harness prompts.

    Args:
        ckpt: checkpoint folder (``crossview train --out``).
        device: torch device.
        dtype: backbone dtype name (``bfloat16``) or None for the checkpoint's.
        overrides: config overrides at inference (e.g. ``match_mode="hungarian"``).
    """

    def __init__(self, ckpt: str, device: str = "cpu", dtype: str | None = None, **overrides: Any):
        if dtype:
            overrides["backbone_dtype"] = dtype
        self.model, self.processor = load_crossviewer(ckpt, **overrides)
        self.model.to(device).eval()
        self.device = device

    def _batch(self, prompts: Sequence[Any]) -> dict[str, Any]:
        examples = [example_from_prompt(p) for p in prompts]
        return self.processor(
            examples,
            with_answer=False,
            padding_side="left",
            text_override=[p.text for p in prompts],
        )

    @torch.no_grad()
    def score_options(self, prompts: Sequence[Any]) -> list[dict[str, float]]:
        """Log-probability of each option letter as the answer, per prompt.

        Returns:
            per prompt ``{letter: log p}`` over ``prompt.letters`` (empty for non-choice).
        """
        logp = self.model.next_token_logprobs(self._batch(prompts))
        tok = self.processor.tokenizer
        out = []
        for b, p in enumerate(prompts):
            scores = {}
            for letter in p.letters:
                ids = tok(letter, add_special_tokens=False)["input_ids"]
                scores[letter] = float(logp[b, ids[0]]) if ids else float("-inf")
            out.append(scores)
        return out

    @torch.no_grad()
    def generate(self, prompts: Sequence[Any], max_new_tokens: int = 16) -> list[str]:
        """Greedy answers, one string per prompt."""
        new = self.model.generate(self._batch(prompts), max_new_tokens=max_new_tokens)
        return self.processor.tokenizer.batch_decode(new, skip_special_tokens=True)

    def answer(self, prompts: Sequence[Any], mode: str = "generate", max_new_tokens: int = 16):
        """Answer text per prompt: ``generate``, or ``likelihood`` (``Answer: X`` for the best
        letter; prompts without letters fall back to generation)."""
        if mode == "generate":
            return self.generate(prompts, max_new_tokens)
        if mode != "likelihood":
            raise BadInputError(f"unknown scoring mode {mode!r}; valid: generate, likelihood")
        texts: list[str | None] = [None] * len(prompts)
        choice = [i for i, p in enumerate(prompts) if p.letters]
        if choice:
            for i, s in zip(choice, self.score_options([prompts[i] for i in choice])):
                texts[i] = "Answer: " + max(s, key=s.get)
        rest = [i for i, t in enumerate(texts) if t is None]
        if rest:
            for i, t in zip(rest, self.generate([prompts[i] for i in rest], max_new_tokens)):
                texts[i] = t
        return texts


def _register() -> None:
    """Register ``crossviewer`` with the harness's backend registry, when it is present."""
    try:
        from crossview.eval.backends import register
        from crossview.eval.backends.base import Backend, BackendSettings
        from crossview.eval.items import Response
    except ImportError:  # pragma: no cover - the harness is part of the package
        return

    @register("crossviewer")
    class CrossViewerBackend(Backend):
        """``crossviewer:CKPT`` (generation) or ``crossviewer:CKPT@likelihood``."""

        accepts_regions = True

        def __init__(self, arg: str, settings: BackendSettings) -> None:
            super().__init__(arg, settings)
            ckpt, _, mode = arg.partition("@")
            if not ckpt:
                raise BadInputError("give a checkpoint: --model crossviewer:CKPT[@likelihood]")
            self.mode = mode or "generate"
            self.runner = CrossViewerRunner(ckpt, settings.device, settings.dtype)

        def describe(self) -> dict[str, Any]:
            return {**super().describe(), "scoring": self.mode, "device": self.settings.device}

        def generate(self, prompts: Sequence[Any]) -> list[Any]:
            texts = self.runner.answer(prompts, self.mode, self.settings.max_tokens)
            return [Response(text=t) for t in texts]

    globals()["CrossViewerBackend"] = CrossViewerBackend


_register()
