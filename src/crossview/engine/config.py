"""Configuration of ``crossview generate``: one dataclass, defaults defined once here."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from crossview.tasks.base import QualityConfig

GENERATOR_VERSION = "1.7"
"""Bumped whenever the same inputs would give different questions."""


@dataclass
class GenerateConfig:
    """How a dataset is generated from a scene store."""

    family: str = "crossview"
    """Question family: ``crossview``, ``xvr``, ``crosspoint`` or ``all``."""
    tasks: list[str] | None = None
    """Explicit question types (``Q1,Q5``); overrides ``family``."""
    per_task: int = 100
    """Multiple-choice items per type (fewer when the scenes do not offer enough)."""
    seed: int = 0
    """Seed of every random choice; the same store and seed give the same dataset."""
    splits: tuple[float, float, float] = (0.8, 0.1, 0.1)
    """Fractions of scene groups for train / val / test (scene-disjoint)."""
    open_ended_fraction: float = 0.1
    """Fraction of items that also get an open-ended variant (options removed)."""
    candidates_per_scene: int = 30
    """At most this many candidates per type and scene are kept for selection."""
    holdout: dict[str, str] = field(default_factory=dict)
    """Held-out values for an out-of-distribution split ``test_ood``: keys ``color``,
    ``shape``, ``source``, ``rig``."""
    paraphrases: bool = False
    """Also write each question in its type's other phrasings (same answer): the paraphrase
    variants of ``crossview eval --consistency``."""
    quality: QualityConfig = field(default_factory=QualityConfig)
    """Thresholds of the quality rules."""

    def task_ids(self) -> list[str]:
        """The question types to generate, validated against the registry."""
        from crossview.tasks.base import get_task, tasks_of_family

        if self.tasks:
            for t in self.tasks:
                get_task(t)  # raises KeyError listing the valid names
            return list(self.tasks)
        return tasks_of_family(self.family)

    def to_json(self) -> dict:
        d = asdict(self)
        d["splits"] = list(self.splits)
        return d

    def shard_hash(self) -> str:
        """Hash of what a per-scene shard depends on (not quotas, splits or the family)."""
        key = {
            "seed": self.seed,
            "cap": self.candidates_per_scene,
            "quality": asdict(self.quality),
            "version": GENERATOR_VERSION,
        }
        return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
