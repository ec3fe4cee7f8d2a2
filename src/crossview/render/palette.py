"""Named colour palettes for what a model is shown: overlays, dots, arrows.

Colours are chosen to stay distinguishable from each other and on typical backgrounds, and
their names are plain words a model can say back ("red", "blue"). The same palette serves
the overlay protocol (mask overlays) and the marker protocol (dots, arrows).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (230, 25, 45),
    "blue": (0, 100, 255),
    "green": (40, 200, 60),
    "yellow": (255, 225, 25),
    "purple": (150, 40, 220),
    "orange": (255, 140, 0),
    "cyan": (0, 220, 230),
    "magenta": (240, 50, 200),
    "white": (250, 250, 250),
    "black": (15, 15, 15),
}
"""Named marker / overlay colours, RGB uint8, in order of preference (most distinct first)."""

DEFAULT_CHOICES: tuple[str, ...] = tuple(c for c in PALETTE if c not in ("white", "black"))
"""Colours used unless told otherwise (white and black vanish on bright or dark scenes)."""


def color_rgb(name: str) -> tuple[int, int, int]:
    """RGB of a palette colour; KeyError lists the known names."""
    try:
        return PALETTE[name]
    except KeyError:
        raise KeyError(f"unknown colour {name!r}; known: {', '.join(PALETTE)}") from None


def pick_colors(
    n: int,
    rng: np.random.Generator | None = None,
    avoid: Iterable[str] = (),
    candidates: Sequence[str] = DEFAULT_CHOICES,
) -> list[str]:
    """Choose ``n`` distinct colour names, none of them in ``avoid``.

    Args:
        n: how many colours.
        rng: when given, the colours are a seeded random choice among the allowed ones;
            otherwise the first ``n`` in palette order.
        avoid: names that must not be used (colours of the objects themselves, colour words
            in the option text), compared case-insensitively.
        candidates: the names to choose from.

    Raises:
        ValueError: fewer than ``n`` colours remain.
    """
    banned = {a.lower() for a in avoid}
    pool = [c for c in candidates if c not in banned]
    if len(pool) < n:
        raise ValueError(f"need {n} colours but only {len(pool)} remain after avoiding {banned}")
    if rng is None:
        return pool[:n]
    idx = rng.choice(len(pool), size=n, replace=False)
    return [pool[i] for i in idx]
