"""``replay:FILE.jsonl``: responses recorded elsewhere, scored as if the model answered now.

Lines are ``{"id": ..., "response": "..."}`` (optionally ``"variant": k`` for circular runs).
An item without a recorded response is a backend failure (no response obtained); a recorded
line whose id is not in the benchmark is counted and reported.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crossview.errors import BadInputError
from crossview.eval.backends import register
from crossview.eval.backends.base import Backend, BackendSettings
from crossview.eval.items import Prompt, Response


@register("replay")
class ReplayBackend(Backend):
    """Serve recorded responses by ``(id, variant)``.

    It sends nothing to a model, so it takes prompts of every protocol, region references
    (masks) included: a published region-protocol benchmark is scored from recorded answers.
    """

    accepts_regions = True

    def __init__(self, arg: str, settings: BackendSettings) -> None:
        super().__init__(arg, settings)
        path = Path(arg)
        if not arg or not path.is_file():
            raise BadInputError(
                "replay file not found (use --model replay:FILE.jsonl)", file=arg or None
            )
        self.path = path
        self.responses: dict[tuple[str, int], str | None] = {}
        self.duplicates = 0
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    key = (str(rec["id"]), int(rec.get("variant", 0)))
                    resp = rec["response"]
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    raise BadInputError(
                        'expected {"id": ..., "response": "..."}', file=path, record=f"line {n}"
                    ) from None
                if resp is not None and not isinstance(resp, str):
                    raise BadInputError(
                        "response must be a string or null",
                        file=path,
                        record=f"line {n}",
                        field="response",
                    )
                if key in self.responses:
                    self.duplicates += 1
                    continue
                self.responses[key] = resp
        self.unmatched: list[str] = []

    def prepare(self, keys: Sequence[tuple[str, int]]) -> None:
        known = set(keys)
        self.unmatched = sorted({i for (i, v) in self.responses if (i, v) not in known})

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "recorded": len(self.responses),
            "duplicate_lines": self.duplicates,
            "unmatched_ids": len(self.unmatched),
        }

    def generate(self, prompts: Sequence[Prompt]) -> list[Response]:
        out = []
        for p in prompts:
            if p.key not in self.responses:
                out.append(Response(text=None, error="no recorded response for this id"))
            elif self.responses[p.key] is None:
                out.append(Response(text=None, error="recorded response is null"))
            else:
                out.append(Response(text=self.responses[p.key]))
        return out
