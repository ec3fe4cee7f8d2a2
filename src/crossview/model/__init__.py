"""CrossViewer, the object-centric cross-view model, on a Hugging Face Qwen3-VL backbone.

The Hugging Face triad: :class:`CrossViewerConfig` (configuration_crossviewer),
:class:`CrossViewerModel` (modeling_crossviewer) and :class:`CrossViewerProcessor`
(processor_crossviewer); components in art, retrieval, ocva and losses. Needs the ``model``
extra (torch, transformers; peft for LoRA, accelerate for training). Names load lazily, so
importing this package (e.g. for the CLI) costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CrossViewerConfig": "crossview.model.configuration_crossviewer",
    "CrossViewerModel": "crossview.model.modeling_crossviewer",
    "build_crossviewer": "crossview.model.modeling_crossviewer",
    "load_crossviewer": "crossview.model.modeling_crossviewer",
    "CrossViewerProcessor": "crossview.model.processor_crossviewer",
    "Example": "crossview.model.processor_crossviewer",
    "CrossViewDataset": "crossview.model.data",
    "TrainConfig": "crossview.model.train",
    "train": "crossview.model.train",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        from crossview.errors import require

        require("torch", "model", "CrossViewer")
        require("transformers", "model", "CrossViewer")
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'crossview.model' has no attribute {name!r}")
