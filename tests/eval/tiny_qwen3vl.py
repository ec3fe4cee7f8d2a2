"""A tiny randomly initialised Qwen3-VL saved like a checkpoint (the library's test helper)."""

from __future__ import annotations

from pathlib import Path


def build_tiny_qwen3vl(out: Path) -> Path:
    """Save a tiny Qwen3-VL model, tokenizer and processor into ``out``; return ``out``."""
    from crossview.model.testing import build_tiny_backbone

    return build_tiny_backbone(out, max_pixels=64 * 64)
