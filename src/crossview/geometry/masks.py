"""Binary instance masks: COCO run-length encoding and simple per-mask measures.

A mask is a 2-D (H, W) array; ``mask[row, col]`` is pixel ``(row, col)``, whose centre has pixel
coordinates ``uv = (col, row)`` (pixel-centre convention). Non-bool masks are accepted and
their non-zero entries count as ``True``.

RLE dicts follow COCO: ``{"size": [H, W], "counts": ...}``, runs over the mask in column-major
(Fortran) order starting with a run of zeros. ``counts`` is either the compressed COCO string
(``str`` or ``bytes``) or an uncompressed ``list`` of run lengths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from pycocotools import mask as mask_utils

from crossview.geometry._validation import as_mask

__all__ = [
    "mask_area",
    "mask_bbox",
    "mask_centroid",
    "mask_iou",
    "rle_area",
    "rle_decode",
    "rle_encode",
    "visible_fraction",
]


def rle_encode(mask: ArrayLike) -> dict[str, Any]:
    """Encode a mask as a JSON-serialisable compressed COCO RLE.

    Args:
        mask: (H, W) bool mask (non-zero counts as ``True``).

    Returns:
        ``{"size": [H, W], "counts": str}`` with ``H`` and ``W`` Python ints and ``counts`` the
        compressed COCO string (ASCII ``str``, not ``bytes``).
    """
    m = as_mask("mask", mask)
    encoded = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    counts = encoded["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    return {"size": [int(m.shape[0]), int(m.shape[1])], "counts": counts}


def _parse_rle(rle: Mapping[str, Any]) -> tuple[int, int, str | bytes | list[int]]:
    """Check an RLE dict and return ``(H, W, counts)``."""
    if not isinstance(rle, Mapping) or "size" not in rle or "counts" not in rle:
        raise ValueError(
            f"rle must be a dict with keys 'size' and 'counts', got {type(rle).__name__}"
            + (f" with keys {sorted(rle)}" if isinstance(rle, Mapping) else "")
        )
    size = rle["size"]
    if not isinstance(size, Sequence) or len(size) != 2 or any(int(s) < 0 for s in size):
        raise ValueError(f"rle['size'] must be [H, W] with non-negative ints, got {size!r}")
    h, w = int(size[0]), int(size[1])
    counts = rle["counts"]
    if isinstance(counts, (str, bytes)):
        return h, w, counts
    if isinstance(counts, (Sequence, np.ndarray)):
        runs = [int(c) for c in counts]
        if any(c < 0 for c in runs) or sum(runs) != h * w:
            raise ValueError(
                f"uncompressed rle['counts'] must be non-negative run lengths summing to "
                f"H * W = {h * w}, got {len(runs)} runs summing to {sum(runs)}"
            )
        return h, w, runs
    raise ValueError(
        f"rle['counts'] must be a str, bytes or a list of ints, got {type(counts).__name__}"
    )


def _compressed(h: int, w: int, counts: str | bytes | list[int]) -> dict[str, Any]:
    """Return a pycocotools-ready compressed RLE (``counts`` as bytes)."""
    if isinstance(counts, list):
        return mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    return {"size": [h, w], "counts": counts}


def rle_decode(rle: Mapping[str, Any]) -> np.ndarray:
    """Decode a COCO RLE (compressed ``str``/``bytes`` or uncompressed ``list`` counts).

    Args:
        rle: ``{"size": [H, W], "counts": ...}``.

    Returns:
        (H, W) bool mask.

    Raises:
        ValueError: if the dict is malformed.
    """
    h, w, counts = _parse_rle(rle)
    if isinstance(counts, list):
        flat = np.repeat(np.arange(len(counts)) % 2 == 1, counts)
        return flat.reshape((w, h)).T.copy()
    decoded = mask_utils.decode(_compressed(h, w, counts))
    return decoded.astype(bool).reshape(h, w)


def rle_area(rle: Mapping[str, Any]) -> int:
    """Return the number of foreground pixels of an RLE without decoding it.

    Args:
        rle: ``{"size": [H, W], "counts": ...}`` (compressed or uncompressed).

    Returns:
        Foreground pixel count as a Python int.
    """
    h, w, counts = _parse_rle(rle)
    if isinstance(counts, list):
        return int(sum(counts[1::2]))
    return int(mask_utils.area(_compressed(h, w, counts)))


def mask_area(mask: ArrayLike) -> int:
    """Return the number of foreground pixels of an (H, W) mask, as a Python int."""
    return int(np.count_nonzero(as_mask("mask", mask)))


def mask_bbox(mask: ArrayLike) -> tuple[int, int, int, int] | None:
    """Return the tight bounding box of a mask in pixel-index units, or ``None`` if empty.

    The box is ``(x0, y0, x1, y1)`` with ``x0`` / ``y0`` the smallest foreground column / row
    and ``x1 = max column + 1``, ``y1 = max row + 1`` (inclusive-exclusive, COCO-like xyxy:
    ``mask[y0:y1, x0:x1]`` holds every foreground pixel and ``x1 - x0`` is the width in pixels).
    In continuous pixel-centre coordinates the box edges are at ``x0 - 0.5`` .. ``x1 - 0.5``.

    Args:
        mask: (H, W) bool mask.

    Returns:
        ``(x0, y0, x1, y1)`` Python ints, or ``None`` for a mask with no foreground pixel.
    """
    m = as_mask("mask", mask)
    rows = np.flatnonzero(m.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(m.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def mask_centroid(mask: ArrayLike) -> tuple[float, float] | None:
    """Return the mean pixel-centre coordinates ``(u, v)`` of the foreground, or ``None``.

    ``u`` is the mean column index and ``v`` the mean row index of the foreground pixels, which
    are their centres' pixel coordinates (pixel-centre convention).

    Args:
        mask: (H, W) bool mask.

    Returns:
        ``(u, v)`` Python floats, or ``None`` for a mask with no foreground pixel.
    """
    m = as_mask("mask", mask)
    rows, cols = np.nonzero(m)
    if rows.size == 0:
        return None
    return float(cols.mean()), float(rows.mean())


def _pair(name_a: str, a: ArrayLike, name_b: str, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    ma = as_mask(name_a, a)
    mb = as_mask(name_b, b)
    if ma.shape != mb.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {ma.shape} and {mb.shape}"
        )
    return ma, mb


def mask_iou(a: ArrayLike, b: ArrayLike) -> float:
    """Return the intersection over union of two same-shape masks (0.0 if both are empty)."""
    ma, mb = _pair("a", a, "b", b)
    union = np.count_nonzero(ma | mb)
    if union == 0:
        return 0.0
    return float(np.count_nonzero(ma & mb) / union)


def touches_border(mask: ArrayLike) -> bool:
    """Whether an (H, W) mask has a pixel in the first or last row or column of the image."""
    m = as_mask("mask", mask)
    return bool(m[0].any() or m[-1].any() or m[:, 0].any() or m[:, -1].any())


def visible_fraction(visible: ArrayLike, amodal: ArrayLike) -> float:
    """Return the fraction of the amodal (full-extent) mask that is visible.

    ``|visible & amodal| / |amodal|``; visible pixels outside the amodal mask are ignored.

    Args:
        visible: (H, W) bool mask of the visible (unoccluded) part.
        amodal: (H, W) bool mask of the whole object, occluded parts included.

    Returns:
        A float in ``[0, 1]``; 0.0 if the amodal mask is empty.
    """
    mv, ma = _pair("visible", visible, "amodal", amodal)
    total = np.count_nonzero(ma)
    if total == 0:
        return 0.0
    return float(np.count_nonzero(mv & ma) / total)
