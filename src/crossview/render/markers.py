"""Markers for the ``marker`` protocol: coloured dots and arrows drawn onto images.

A dot is a filled disc with a dark outline and a thin light ring, so it reads on any
background; an arrow is a line with a filled head, both outlined the same way. Sizes scale with
the image (a fraction of its shorter side). Coordinates are OpenCV pixel centres (u, v) and may
be fractional: drawing uses fixed-point sub-pixel positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from crossview.render.palette import color_rgb

_SHIFT = 4  # fixed-point bits for sub-pixel drawing
_DARK = (15, 15, 15)
_LIGHT = (245, 245, 245)


@dataclass(frozen=True)
class Mark:
    """A marker in one image.

    Attributes:
        view: index of the image in the question.
        kind: ``dot`` or ``arrow``.
        uv: (u, v) pixel of the dot, or of the arrow's tail.
        color: palette colour name.
        uv_end: (u, v) of the arrow's head (arrows only).
    """

    view: int
    kind: str
    uv: tuple[float, float]
    color: str
    uv_end: tuple[float, float] | None = None

    def to_json(self) -> dict:
        d = {
            "view": self.view,
            "kind": self.kind,
            "uv": [float(x) for x in self.uv],
            "color": self.color,
        }
        if self.uv_end is not None:
            d["uv_end"] = [float(x) for x in self.uv_end]
        return d

    @staticmethod
    def from_json(d: dict) -> Mark:
        end = d.get("uv_end")
        return Mark(
            int(d["view"]),
            d["kind"],
            (float(d["uv"][0]), float(d["uv"][1])),
            d["color"],
            None if end is None else (float(end[0]), float(end[1])),
        )


def marker_radius(width: int, height: int) -> float:
    """Dot radius in pixels for an image size: 1.6% of the shorter side, at least 3 px."""
    return max(3.0, 0.016 * min(width, height))


def _fp(uv: Sequence[float]) -> tuple[int, int]:
    return (int(round(uv[0] * (1 << _SHIFT))), int(round(uv[1] * (1 << _SHIFT))))


def draw_marks(image: np.ndarray, marks: Sequence[Mark]) -> np.ndarray:
    """Draw dots and arrows onto a copy of ``image`` ((H, W, 3) uint8 RGB), in list order."""
    out = np.ascontiguousarray(image.copy())
    h, w = out.shape[:2]
    r = marker_radius(w, h)
    line = max(1, round(r / 2.5))
    for m in marks:
        rgb = color_rgb(m.color)
        if m.kind == "dot":
            c = _fp(m.uv)
            rr = int(round(r * (1 << _SHIFT)))
            cv2.circle(out, c, rr + (2 << _SHIFT), _LIGHT, -1, cv2.LINE_AA, _SHIFT)
            cv2.circle(out, c, rr + (1 << _SHIFT), _DARK, -1, cv2.LINE_AA, _SHIFT)
            cv2.circle(out, c, rr, rgb, -1, cv2.LINE_AA, _SHIFT)
        elif m.kind == "arrow":
            if m.uv_end is None:
                raise ValueError("an arrow needs uv_end")
            a, b = np.asarray(m.uv, float), np.asarray(m.uv_end, float)
            length = float(np.linalg.norm(b - a))
            tip = min(0.45, 2.8 * r / max(length, 1e-6))
            for color, extra in ((_LIGHT, 3), (_DARK, 2), (rgb, 0)):
                cv2.arrowedLine(out, _fp(a), _fp(b), color, line + extra, cv2.LINE_AA, _SHIFT, tip)
            cv2.circle(
                out, _fp(a), int(round(0.6 * r * (1 << _SHIFT))), rgb, -1, cv2.LINE_AA, _SHIFT
            )
        else:
            raise ValueError(f"unknown mark kind {m.kind!r}; valid: dot, arrow")
    return out
