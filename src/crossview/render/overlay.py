"""Mask overlays for the ``overlay`` protocol: a translucent coloured fill plus a contour.

This is how an ordinary multi-image model is shown which object a question means: the object
"outlined in red in Image 2". Drawing is deterministic (same inputs, same pixels).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from crossview.render.palette import color_rgb


def draw_overlays(
    image: np.ndarray,
    masks: Sequence[np.ndarray],
    colors: Sequence[str],
    *,
    alpha: float = 0.45,
    thickness: int | None = None,
) -> np.ndarray:
    """Draw each mask as a translucent fill with a solid contour in its colour.

    Args:
        image: (H, W, 3) uint8 RGB; not modified.
        masks: boolean (H, W) masks, one per colour.
        colors: palette colour names (:data:`crossview.render.palette.PALETTE`).
        alpha: fill opacity in [0, 1].
        thickness: contour thickness in pixels; default scales with the image (about 0.5%
            of the shorter side, at least 1), with a thin dark outer line so the contour reads
            on any background.

    Returns:
        (H, W, 3) uint8 RGB, a new array.
    """
    if len(masks) != len(colors):
        raise ValueError(f"{len(masks)} masks but {len(colors)} colours")
    out = image.astype(np.float32).copy()
    h, w = image.shape[:2]
    th = thickness or max(1, round(min(h, w) / 200))
    for mask, name in zip(masks, colors, strict=False):
        if mask.shape != (h, w):
            raise ValueError(f"mask shape {mask.shape} differs from image {(h, w)}")
        rgb = np.array(color_rgb(name), dtype=np.float32)
        out[mask] = (1 - alpha) * out[mask] + alpha * rgb
    out_u8 = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    for mask, name in zip(masks, colors, strict=False):
        contours, _ = cv2.findContours(
            mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
        )
        cv2.drawContours(out_u8, contours, -1, (20, 20, 20), th + 2, lineType=cv2.LINE_8)
        cv2.drawContours(out_u8, contours, -1, color_rgb(name), th, lineType=cv2.LINE_8)
    return out_u8
