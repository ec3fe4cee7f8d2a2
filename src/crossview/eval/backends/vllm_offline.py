"""``vllm:PATH``: offline batched generation with vLLM (the ``vllm`` extra; needs a GPU).

Images go as base64 data URLs in chat messages, labelled in order; ``limit_mm_per_prompt`` is
set to the largest image count of the run, so vLLM refuses (loudly) rather than drops images.
Not exercised by the test suite (no GPU, no vLLM here).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crossview.errors import BadInputError, require
from crossview.eval.backends import register
from crossview.eval.backends.base import Backend, BackendSettings
from crossview.eval.backends.openai_api import build_messages
from crossview.eval.items import Prompt, Response


@register("vllm")
class VLLMBackend(Backend):
    """Greedy chat generation with ``vllm.LLM``; the engine starts at the first batch."""

    def __init__(self, arg: str, settings: BackendSettings) -> None:
        super().__init__(arg, settings)
        self.vllm = require("vllm", "vllm", "the vllm backend")
        if not arg:
            raise BadInputError("give a checkpoint: --model vllm:PATH")
        self.llm: Any = None
        self.images_per_prompt = 1

    def check(self, prompts: Sequence[Prompt]) -> None:
        super().check(prompts)
        self.images_per_prompt = max([len(p.images) for p in prompts] + [1])

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "max_tokens": self.settings.max_tokens,
            "greedy": True,
            "batch_size": self.settings.batch_size,
        }

    def _engine(self) -> Any:
        if self.llm is None:
            self.llm = self.vllm.LLM(
                model=self.arg,
                seed=self.settings.seed,
                limit_mm_per_prompt={"image": self.images_per_prompt},
            )
        return self.llm

    def generate(self, prompts: Sequence[Prompt]) -> list[Response]:
        params = self.vllm.SamplingParams(temperature=0.0, max_tokens=self.settings.max_tokens)
        outputs = self._engine().chat([build_messages(p) for p in prompts], params, use_tqdm=False)
        out = []
        for o in outputs:
            text = o.outputs[0].text if o.outputs else None
            out.append(Response(text=text, error=None if text is not None else "no output"))
        return out
