"""Mask overlays for the ``overlay`` protocol: a translucent coloured fill plus a contour.

This is how an ordinary multi-image model is shown which object a question means: the object
"outlined in red in Image 2". Drawing is deterministic (same inputs, same pixels).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from crossview.render.palette import color_rgb

OVERLAY_ALPHA = 0.45
"""Opacity of an overlay's fill (the classical solver undoes it to see the object's colours)."""


def contour_thickness(width: int, height: int) -> int:
    """Default contour thickness in pixels of an overlay on a ``width`` x ``height`` image:
    about 0.8% of the shorter side, at least 2 (2 px at 240, 4 px at 480)."""
    return max(2, round(min(width, height) / 120))


def draw_overlays(
    image: np.ndarray,
    masks: Sequence[np.ndarray],
    colors: Sequence[str],
    *,
    alpha: float = OVERLAY_ALPHA,
    thickness: int | None = None,
) -> np.ndarray:
    """Draw each mask as a translucent fill with a solid contour in its colour.

    Args:
        image: (H, W, 3) uint8 RGB; not modified.
        masks: boolean (H, W) masks, one per colour.
        colors: palette colour names (:data:`crossview.render.palette.PALETTE`).
        alpha: fill opacity in [0, 1].
        thickness: contour thickness in pixels, drawn inside the mask; default
            :func:`contour_thickness`, with a one-pixel dark line on either side so the contour
            reads on any background (:func:`contour_band`).

    Returns:
        (H, W, 3) uint8 RGB, a new array.
    """
    if len(masks) != len(colors):
        raise ValueError(f"{len(masks)} masks but {len(colors)} colours")
    out = image.astype(np.float32).copy()
    h, w = image.shape[:2]
    th = thickness or contour_thickness(w, h)
    for mask, name in zip(masks, colors, strict=False):
        if mask.shape != (h, w):
            raise ValueError(f"mask shape {mask.shape} differs from image {(h, w)}")
        rgb = np.array(color_rgb(name), dtype=np.float32)
        out[mask] = (1 - alpha) * out[mask] + alpha * rgb
    out_u8 = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    for mask, name in zip(masks, colors, strict=False):
        band, dark = contour_band(mask, th)
        out_u8[dark] = _DARK
        out_u8[band] = color_rgb(name)
    return out_u8


_DARK = (20, 20, 20)


def contour_band(mask: np.ndarray, thickness: int) -> tuple[np.ndarray, np.ndarray]:
    """The drawn contour of a mask: (band, dark line), both (H, W) bool.

    The band is the mask's pixels within ``thickness`` px of its boundary (so the outline
    never covers a neighbour and its outer edge is the mask's edge); the dark line is one pixel
    on each side of it, inside the band and outside the mask (8-neighbours).
    """
    m = np.pad(mask.astype(np.uint8), 1)
    d_in = cv2.distanceTransform(m, cv2.DIST_L2, 3)[1:-1, 1:-1]
    d_out = cv2.distanceTransform(1 - m, cv2.DIST_L2, 3)[1:-1, 1:-1]
    band = mask & (d_in <= thickness)
    dark = (mask & (d_in > thickness) & (d_in <= thickness + 1)) | (~mask & (d_out <= 1.5))
    return band, dark
