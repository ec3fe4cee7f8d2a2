"""Model backends, chosen with ``--model KIND:ARG``, in a registry filled by decorator.

A backend module is imported only when its kind is asked for, so that ``httpx``, ``torch``,
``transformers`` and ``vllm`` load lazily; an unknown kind fails listing the valid ones.
"""

from __future__ import annotations

import importlib

from crossview.errors import BadInputError
from crossview.eval.backends.base import Backend, BackendSettings

__all__ = ["Backend", "BackendSettings", "available", "create_backend", "parse_model", "register"]

# kind -> module that registers it (imported on demand)
_MODULES = {
    "openai": "crossview.eval.backends.openai_api",
    "hf": "crossview.eval.backends.hf",
    "vllm": "crossview.eval.backends.vllm_offline",
    "replay": "crossview.eval.backends.replay",
    "random": "crossview.eval.backends.baselines",
    "oracle": "crossview.eval.backends.baselines",
    "crossviewer": "crossview.model.backend",
    "classical": "crossview.eval.backends.classical",
}
_REGISTRY: dict[str, type[Backend]] = {}


def register(kind: str):
    """Class decorator: make a :class:`Backend` subclass available as ``--model KIND:ARG``."""

    def deco(cls: type[Backend]) -> type[Backend]:
        cls.kind = kind
        _REGISTRY[kind] = cls
        return cls

    return deco


def available() -> list[str]:
    """The known backend kinds."""
    return sorted(set(_MODULES) | set(_REGISTRY))


def parse_model(spec: str) -> tuple[str, str]:
    """Split ``KIND:ARG`` (``random`` and ``oracle`` take no argument)."""
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in available():
        raise BadInputError(
            f"unknown model kind {kind!r} in --model {spec!r}; "
            f"valid kinds: {', '.join(available())}"
        )
    return kind, arg.strip()


def create_backend(spec: str, settings: BackendSettings | None = None) -> Backend:
    """Build the backend named by ``spec`` (``openai:gpt-4o``, ``hf:PATH``, ``random``, ...)."""
    kind, arg = parse_model(spec)
    if kind not in _REGISTRY:
        importlib.import_module(_MODULES[kind])
    return _REGISTRY[kind](arg, settings or BackendSettings())
