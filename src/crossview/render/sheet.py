"""Contact sheets: every view of a scene in one image, with its masks and track ids.

The sheet is a grid with one row per timestep and one column per camera. Each tile is the
view's RGB image with every visible mask blended in its track colour, its outline, and the
track id written at the mask's centroid; a caption strip under the tile names the view.
"""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from crossview.scene.model import Scene

CAPTION_H = 18
"""Height of the caption strip under each tile, pixels."""
MASK_ALPHA = 0.45
"""Opacity of the mask colours over the image."""


def track_color(track_id: int) -> tuple[int, int, int]:
    """An (r, g, b) uint8 colour for ``track_id``; hues step by the golden ratio."""
    hue = (int(track_id) * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def sheet_tile_size(width: int, height: int, columns: int, max_width: int) -> tuple[int, int]:
    """(tile width, tile height) in pixels of views of ``width x height`` in the sheet.

    Tiles keep the views' aspect ratio and are shrunk (never enlarged) so that ``columns``
    tiles fit in ``max_width``.
    """
    scale = min(1.0, max_width / float(columns * width))
    return max(1, int(width * scale)), max(1, int(height * scale))


def draw_view(image: np.ndarray, masks: dict[int, np.ndarray], scale: float = 1.0) -> np.ndarray:
    """Overlay masks and track ids on an image.

    Args:
        image: (H, W, 3) uint8 RGB.
        masks: track id -> (H, W) bool visible mask.
        scale: font scale factor.

    Returns:
        (H, W, 3) uint8 RGB with translucent masks, outlines and ids at the mask centroids.
    """
    out = image.astype(np.float32)
    for tid, m in masks.items():
        if m.any():
            out[m] = (1 - MASK_ALPHA) * out[m] + MASK_ALPHA * np.array(track_color(tid))
    out = np.clip(out, 0, 255).astype(np.uint8)
    for tid, m in masks.items():
        if not m.any():
            continue
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, track_color(tid), 1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    fs = 0.4 * scale
    for tid, m in masks.items():
        ys, xs = np.nonzero(m)
        if len(xs) == 0:
            continue
        text = str(tid)
        (tw, th), _ = cv2.getTextSize(text, font, fs, 1)
        org = (int(xs.mean() - tw / 2), int(ys.mean() + th / 2))
        cv2.putText(out, text, org, font, fs, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, text, org, font, fs, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def contact_sheet(scene: Scene, max_width: int = 1600) -> np.ndarray:
    """Draw every view of ``scene``: rows are timesteps, columns are cameras.

    Masks are drawn at full resolution and the tile is then resized, so ids stay readable.

    Args:
        scene: any scene (read from a store or built in memory).
        max_width: the sheet is at most this wide, pixels.

    Returns:
        (T * (tile_h + CAPTION_H), C * tile_w, 3) uint8 RGB, with the tile size from
        :func:`sheet_tile_size` of the first view's size.
    """
    cams = scene.camera_names
    T = scene.num_timesteps
    first = scene.views[0].camera
    tw, th = sheet_tile_size(first.width, first.height, len(cams), max_width)
    sheet = np.full((T * (th + CAPTION_H), len(cams) * tw, 3), 255, dtype=np.uint8)
    for v in scene.views:
        col, row = cams.index(v.camera.name), v.timestep
        masks = {t: v.mask(t) for t in v.track_ids}
        scale = max(1.0, v.camera.width / 320.0)
        tile = draw_view(v.image, masks, scale)
        tile = cv2.resize(tile, (tw, th), interpolation=cv2.INTER_AREA)
        y0, x0 = row * (th + CAPTION_H), col * tw
        sheet[y0 : y0 + th, x0 : x0 + tw] = tile
        caption = f"{v.view_id} ({v.camera.role})" if v.camera.role else v.view_id
        cv2.putText(
            sheet, caption, (x0 + 3, y0 + th + CAPTION_H - 5), cv2.FONT_HERSHEY_SIMPLEX,
            0.4, (0, 0, 0), 1, cv2.LINE_AA,
        )  # fmt: skip
    return sheet
