"""The backend interface every model adapter implements."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from crossview.errors import BadInputError
from crossview.eval.config import BackendSettings
from crossview.eval.items import Prompt, Response

ResultCallback = Callable[[Prompt, Response], None]


class Backend:
    """A model adapter: prompts in, responses out.

    Subclasses implement :meth:`generate` (a batch, synchronously) or override :meth:`run`
    (asynchronous, e.g. many HTTP requests in flight). A response with ``text=None`` is a
    backend failure, never scored as an answer.
    """

    kind: ClassVar[str] = ""
    needs_gold: ClassVar[bool] = False
    accepts_regions: ClassVar[bool] = False

    def __init__(self, arg: str, settings: BackendSettings) -> None:
        self.arg = arg
        self.settings = settings
        self.max_images: int | None = settings.max_images

    def describe(self) -> dict[str, Any]:
        """What the run records about this backend (no secrets)."""
        return {"kind": self.kind, "arg": self.arg, "max_images": self.max_images}

    def prepare(self, keys: Sequence[tuple[str, int]]) -> None:
        """Called once with the keys ``(item id, variant)`` of the whole run."""

    def check(self, prompts: Sequence[Prompt]) -> None:
        """Fail loudly, before any work, on prompts this backend cannot take as they are."""
        for p in prompts:
            if self.max_images is not None and len(p.images) > self.max_images:
                raise BadInputError(
                    f"item {p.item_id} has {len(p.images)} images but backend {self.kind} "
                    f"takes at most {self.max_images}; images are never dropped or merged"
                )
            if p.regions and not self.accepts_regions:
                raise BadInputError(
                    f"item {p.item_id} refers to regions (protocol 'region') but backend "
                    f"{self.kind} cannot receive masks; use --protocol overlay (each region "
                    "drawn as a coloured outline, the question naming its colour)"
                )

    def generate(self, prompts: Sequence[Prompt]) -> list[Response]:
        """Answer a batch of prompts, in order."""
        raise NotImplementedError

    async def run(self, prompts: Sequence[Prompt], on_result: ResultCallback) -> None:
        """Answer every prompt, calling ``on_result`` as each response arrives."""
        step = max(1, self.settings.batch_size)
        for start in range(0, len(prompts), step):
            batch = list(prompts[start : start + step])
            for p, r in zip(batch, self.generate(batch), strict=True):
                on_result(p, r)

    def close(self) -> None:
        """Release resources."""
