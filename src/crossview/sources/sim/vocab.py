"""The object vocabulary of the simulator: CLEVR-like shapes, named colours, sizes, materials.

Every object is described by four attributes (``shape``, ``color``, ``size``, ``material``).
Several objects of a scene may share any of them, so that matching objects across views is
not trivial. Dimensions are metres; an object's frame has its origin at the centre of its
bounding box and +z up in its resting orientation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Shape:
    """A shape of the vocabulary.

    Attributes:
        name: the shape's word (``cube``, ``cone``).
        half_extent: (3,) half size of the bounding box for scale 1 along the object's x, y, z,
            metres; multiplied by the size's scale.
        flat_top: whether another object can rest on top of it (used to plan stacks).
        flat_bottom: whether it can rest stably on a flat top.
    """

    name: str
    half_extent: tuple[float, float, float]
    flat_top: bool
    flat_bottom: bool


SHAPES: tuple[Shape, ...] = (
    Shape("cube", (1.0, 1.0, 1.0), flat_top=True, flat_bottom=True),
    Shape("brick", (1.5, 0.75, 0.75), flat_top=True, flat_bottom=True),
    Shape("sphere", (1.0, 1.0, 1.0), flat_top=False, flat_bottom=False),
    Shape("cylinder", (0.9, 0.9, 1.0), flat_top=True, flat_bottom=True),
    Shape("cone", (1.0, 1.0, 1.1), flat_top=False, flat_bottom=True),
    Shape("pyramid", (1.0, 1.0, 0.9), flat_top=False, flat_bottom=True),
    Shape("capsule", (1.6, 0.7, 0.7), flat_top=False, flat_bottom=False),
    Shape("disc", (1.2, 1.2, 0.4), flat_top=True, flat_bottom=True),
)
"""Shapes, by name. ``capsule`` lies along its x axis; ``disc`` is a flat cylinder."""

COLORS: dict[str, tuple[int, int, int]] = {
    "gray": (87, 87, 87),
    "red": (173, 35, 35),
    "blue": (42, 75, 215),
    "green": (29, 105, 20),
    "brown": (129, 74, 25),
    "purple": (129, 38, 192),
    "cyan": (41, 208, 208),
    "yellow": (255, 238, 51),
}
"""Named colours (the CLEVR palette), sRGB 0-255."""

SIZES: dict[str, float] = {"small": 0.022, "medium": 0.030, "large": 0.040}
"""Size name -> scale in metres: half extent of a scale-1 shape (a large cube is 8 cm)."""


@dataclass(frozen=True)
class Material:
    """A surface material.

    Attributes:
        name: the material's word.
        specular: MuJoCo ``specular`` (0-1).
        shininess: MuJoCo ``shininess`` (0-1).
    """

    name: str
    specular: float
    shininess: float


MATERIALS: tuple[Material, ...] = (
    Material("matte", specular=0.05, shininess=0.05),
    Material("shiny", specular=0.9, shininess=0.9),
)

SHAPE_BY_NAME: dict[str, Shape] = {s.name: s for s in SHAPES}
MATERIAL_BY_NAME: dict[str, Material] = {m.name: m for m in MATERIALS}


def half_extent(shape: str, size: str) -> np.ndarray:
    """(3,) half size in metres of the bounding box of ``shape`` at ``size``, object axes."""
    return np.asarray(SHAPE_BY_NAME[shape].half_extent, dtype=np.float64) * SIZES[size]


def rgba(color: str) -> tuple[float, float, float, float]:
    """The colour as linear-ish RGBA in [0, 1] for MJCF."""
    r, g, b = COLORS[color]
    return (r / 255.0, g / 255.0, b / 255.0, 1.0)
