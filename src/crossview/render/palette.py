"""Named colour palettes for what a model is shown: overlays, dots, arrows.

Colours are chosen to stay distinguishable from each other and on typical backgrounds, and
their names are plain words a model can say back ("red", "blue"). The same palette serves
the overlay protocol (mask overlays) and the marker protocol (dots, arrows).
"""

from __future__ import annotations

import functools
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


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) of sRGB colours: (..., 3) uint8 or [0, 255] floats -> (..., 3) floats."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array(
        [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
         [0.0193339, 0.1191920, 0.9503041]]
    )  # fmt: skip
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


def delta_e2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference of L*a*b* colours (..., 3) (broadcast); about 2.3 is a
    just-noticeable difference, above 20 two colours are plainly different."""
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, float), -1, 0)
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, float), -1, 0)
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dL, dC = L2 - L1, c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    dH = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    L_bar, c_bar_p = (L1 + L2) / 2, (c1p + c2p) / 2
    hs = h1p + h2p
    h_bar = np.where(
        c1p * c2p == 0,
        hs,
        np.where(
            np.abs(h1p - h2p) <= 180, hs / 2, np.where(hs < 360, (hs + 360) / 2, (hs - 360) / 2)
        ),
    )
    t = (
        1
        - 0.17 * np.cos(np.radians(h_bar - 30))
        + 0.24 * np.cos(np.radians(2 * h_bar))
        + 0.32 * np.cos(np.radians(3 * h_bar + 6))
        - 0.20 * np.cos(np.radians(4 * h_bar - 63))
    )
    s_l = 1 + 0.015 * (L_bar - 50) ** 2 / np.sqrt(20 + (L_bar - 50) ** 2)
    s_c = 1 + 0.045 * c_bar_p
    s_h = 1 + 0.015 * c_bar_p * t
    d_theta = 30 * np.exp(-(((h_bar - 275) / 25) ** 2))
    r_c = 2 * np.sqrt(c_bar_p**7 / (c_bar_p**7 + 25.0**7))
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    return np.sqrt(
        (dL / s_l) ** 2 + (dC / s_c) ** 2 + (dH / s_h) ** 2 + r_t * (dC / s_c) * (dH / s_h)
    )


OBJECT_CONTRAST_DE = 20.0
"""Least CIEDE2000 difference between a mark's colour (overlay, dot, arrow) and what it marks."""

SEPARATION_DE = 25.0
"""Least CIEDE2000 difference between the mark colours of one question (purple and magenta,
19 apart, or blue and purple, 20 apart, are never shown together)."""


@functools.lru_cache(maxsize=64)
def _palette_lab(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """L*a*b* (N, 3) of palette colours and their CIEDE2000 differences (N, N), read-only."""
    lab = rgb_to_lab(np.array([PALETTE[c] for c in names], dtype=float))
    de = delta_e2000(lab[:, None], lab[None])
    lab.flags.writeable = False
    de.flags.writeable = False
    return lab, de


def contrasting_colors(
    under: Sequence[Sequence[np.ndarray]],
    rng: np.random.Generator,
    *,
    banned: Iterable[str] = (),
    candidates: Sequence[str] = DEFAULT_CHOICES,
    min_contrast: float = OBJECT_CONTRAST_DE,
    min_separation: float = SEPARATION_DE,
) -> list[str] | None:
    """One palette colour per group of marks, legible on what each mark covers.

    The search is a random-order backtracking search, so it is complete: None means no
    colouring satisfies the constraints, whatever the seed (a proposal can be dropped for it
    before selection, and the build, seeded otherwise, then always finds one).

    Args:
        under: per group, the RGB colours (each (3,), [0, 255]) its marks must stand out from:
            the median colour under each mark, the named colour of the marked object.
        rng: seeded; groups are coloured in a random order (no group, the gold's included, is
            the one that always has the widest choice), each from its colours left in a random
            order.
        banned: names never used (colour words of the option texts).
        candidates: the names to choose from, in :data:`PALETTE`.
        min_contrast: least CIEDE2000 difference from every colour in the group's ``under``.
        min_separation: least CIEDE2000 difference between the colours of two groups.

    Returns:
        a colour name per group, or None when no colouring exists.
    """
    bans = set(banned)
    names = [c for c in candidates if c not in bans]
    if not under:
        return []
    if not names:
        return None
    lab, de = _palette_lab(tuple(names))
    sep = de >= min_separation
    flat = [np.asarray(rgb, float) for group in under for rgb in group]
    far = (
        delta_e2000(lab[None], rgb_to_lab(np.array(flat))[:, None]) >= min_contrast
        if flat
        else np.zeros((0, len(names)), bool)
    )  # (colours under marks, names)
    allowed, at = [], 0
    for group in under:
        allowed.append(far[at : at + len(group)].all(axis=0))
        at += len(group)
    order = [int(g) for g in rng.permutation(len(under))]
    tries = [[int(c) for c in rng.permutation(len(names))] for _ in order]
    pick: dict[int, int] = {}

    def place(depth: int, free: np.ndarray) -> bool:
        if depth == len(order):
            return True
        g = order[depth]
        for c in tries[depth]:
            if allowed[g][c] and free[c]:
                pick[g] = c
                if place(depth + 1, free & sep[c]):
                    return True
        return False

    if not place(0, np.ones(len(names), bool)):
        return None
    return [names[pick[g]] for g in range(len(under))]
