"""Private helpers that check array shapes and raise clear :class:`ValueError` messages."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def as_float_array(
    name: str, value: ArrayLike, trailing: tuple[int | None, ...], expected: str
) -> np.ndarray:
    """Return ``value`` as a float64 array whose trailing dimensions match ``trailing``.

    Args:
        name: argument name, used in the error message.
        value: anything :func:`numpy.asarray` accepts.
        trailing: required sizes of the last ``len(trailing)`` axes; ``None`` means any size.
            Any number of leading (batch) axes is allowed.
        expected: human-readable expected shape, e.g. ``"(*, N, 3)"``.

    Raises:
        ValueError: if the array has too few axes or a trailing axis has the wrong size.
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array of shape {expected}: {exc}") from None
    k = len(trailing)
    ok = arr.ndim >= k and all(
        size is None or arr.shape[arr.ndim - k + i] == size for i, size in enumerate(trailing)
    )
    if not ok:
        raise ValueError(f"{name} must have shape {expected}, got shape {arr.shape}")
    return arr


def broadcast_batch(**batches: tuple[int, ...]) -> tuple[int, ...]:
    """Broadcast the leading (batch) shapes of several arguments, naming them on failure."""
    try:
        return tuple(np.broadcast_shapes(*batches.values()))
    except ValueError:
        described = ", ".join(f"{name} batch shape {shape}" for name, shape in batches.items())
        raise ValueError(f"leading (batch) dimensions do not broadcast: {described}") from None


def as_mask(name: str, value: ArrayLike) -> np.ndarray:
    """Return ``value`` as a 2-D bool array (non-zero is ``True``); raise if it is not 2-D."""
    arr = np.asarray(value)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (H, W) mask, got shape {arr.shape}")
    if arr.dtype != np.bool_:
        arr = arr != 0
    return arr
