"""Configuration of ``crossview eval``: the run and the backend settings, defaults defined once.

Light to import (no numpy, no harness): the CLI reads its defaults from these dataclasses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CACHE_DIR = ".crossview-cache"
"""Default result-cache folder, beside the run folder (see :attr:`EvalConfig.cache`)."""


@dataclass
class BackendSettings:
    """Settings shared by backends; each backend reads the ones it needs."""

    base_url: str | None = None
    """OpenAI-compatible server URL (``openai``), e.g. ``http://localhost:8000/v1``."""
    api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the API key (the key is never recorded)."""
    concurrency: int = 8
    """Requests in flight at once (``openai``)."""
    timeout_s: float = 120.0
    """Per-request timeout in seconds (``openai``)."""
    retries: int = 5
    """Retries after a 429, a 5xx or a connection error (``openai``)."""
    backoff_s: float = 1.0
    """First retry delay in seconds, doubled at each retry (``openai``)."""
    max_tokens: int = 512
    """Generation budget per answer, in tokens."""
    batch_size: int = 4
    """Prompts per forward batch (``hf``, ``vllm``)."""
    workers: int = 1
    """Processes answering in parallel for CPU-bound local backends (``classical``)."""
    max_images: int | None = None
    """Images a model accepts per prompt; None means no stated limit."""
    seed: int = 0
    """Seed of the ``random`` baseline and of anything sampled."""
    coord_format: str = "absolute"
    """The coordinate convention of point answers (the baselines answer in it)."""
    device: str = "cpu"
    """Torch device for ``hf``."""
    dtype: str | None = None
    """Torch dtype name for ``hf`` (``float32``, ``bfloat16``); None = the model's default."""
    cache_dir: str | None = None
    """Folder where local backends keep results keyed by image content (``classical``:
    features and two-view geometry, in ``<cache_dir>/classical``); None keeps them in memory
    only. It never changes an answer."""

    def to_json(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict (holds no secret: only the key's variable name)."""
        return asdict(self)


@dataclass
class EvalConfig:
    """One evaluation run."""

    bench: Path
    """The benchmark file."""
    model: str
    """``KIND:ARG`` (``openai:gpt-4o``, ``hf:PATH``, ``replay:FILE``, ``random``, ...)."""
    out: Path
    """The run folder."""
    protocol: str | None = None
    """``overlay`` / ``region`` / ``marker`` for native datasets; None = each item's default."""
    fmt: str = "auto"
    """Benchmark format, ``auto`` to detect."""
    coord_format: str = "absolute"
    """``absolute``, ``relative`` or ``relative-1000`` (point answers)."""
    limit: int | None = None
    """Evaluate only the first N items."""
    circular: bool = False
    """Also ask every rotation of the options; report plain and circular accuracy."""
    consistency: bool = False
    """Ask the variants that must not change the answer (rotations, images in reverse order,
    paraphrases) and report per-type consistency beside accuracy."""
    resume: bool = False
    """Continue a run in ``out`` (fills backend failures and unanswered items)."""
    seed: int = 0
    """Recorded, and the seed of the ``random`` baseline."""
    extra_roots: tuple[Path, ...] = ()
    """Further folders image paths may point into."""
    cache: bool = True
    """Let local backends keep results keyed by image content in ``backend.cache_dir``, by
    default ``<out>/../.crossview-cache`` (shared by the runs beside this one); it never
    changes an answer."""
    backend: BackendSettings = field(default_factory=BackendSettings)
    """Backend settings (URL, concurrency, timeouts, batch size, ...)."""
