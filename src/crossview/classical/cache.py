"""A content-keyed memo of the classical solver's per-image and per-image-pair work.

Items of a benchmark share pixels: the same view shown in several items, an item asked again
with its options rotated or its images reversed, a second run of the same dataset. What the
solver computes from an image (drawn-marker pixels, local features, colour statistics) and
from a pair of images (matches, fundamental matrix, table-plane homography) is a pure function
of their pixels and of the colour names the prompt mentions, so it is computed once and kept
under a key made from those inputs: a BLAKE2b digest of the decoded pixels (shape, dtype and
bytes), never a file name, plus the parameters of the code that computed it (:data:`SALT`).
An answer therefore cannot depend on whether a value came from the cache.

Two levels: a per-process LRU in memory (``max_bytes``) and, optionally, a folder of ``.npz``
files shared by worker processes and by later runs (written atomically; an unreadable file is
counted in ``stats["disk_errors"]``, recomputed and rewritten). Values handed out are
read-only arrays, so a handler cannot change what the next query gets.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from crossview.files import atomic_write

T = TypeVar("T")

VERSION = "1"
"""Bump when anything cached here would come out differently (features, matching, markers)."""


@functools.cache
def _salt() -> bytes:
    from crossview.classical import detect, features

    params = (
        VERSION,
        features.UPSCALE,
        features.RATIO,
        features.MIN_MATCHES,
        features.EPI_THRESH,
        features.MIN_PLANE_INLIERS,
        features.DETECTOR_PARAMS,
        detect._DARK_MAX,
    )
    return hashlib.blake2b(repr(params).encode(), digest_size=16).digest()


def image_key(image: np.ndarray) -> str:
    """Digest of an image's pixels: shape, dtype and bytes (hex, 32 characters)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((image.shape, image.dtype.str)).encode())
    h.update(np.ascontiguousarray(image).data)
    return h.hexdigest()


def derived_key(kind: str, *parts: object) -> str:
    """Key of a result of ``kind`` computed from ``parts`` (image keys, colour names, ...)."""
    h = hashlib.blake2b(_salt(), digest_size=16)
    h.update(repr((kind, parts)).encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Codec(Generic[T]):
    """How a value goes to named arrays in an ``.npz`` file and back."""

    encode: Callable[[T], dict[str, np.ndarray]]
    decode: Callable[[dict[str, np.ndarray]], T]


MASK_CODEC: Codec[np.ndarray] = Codec(
    lambda m: {"bits": np.packbits(m), "shape": np.array(m.shape)},
    lambda z: np.unpackbits(z["bits"], count=int(np.prod(z["shape"]))).reshape(z["shape"]) > 0,
)
"""How a bool mask is stored in the folder (bit-packed)."""


def _frozen(value: Any) -> Any:
    """Make the arrays of a value read-only (recursively through dataclasses, dicts, lists)."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, dict):
        for v in value.values():
            _frozen(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _frozen(v)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            _frozen(getattr(value, name))
    return value


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values()) + 64
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value) + 64
    if hasattr(value, "__dataclass_fields__"):
        return sum(_nbytes(getattr(value, n)) for n in value.__dataclass_fields__) + 64
    return 64


class ResultCache:
    """Memory LRU plus an optional folder; see the module docstring.

    Args:
        folder: where ``.npz`` files go (created on first write); None keeps memory only.
        max_bytes: memory budget of this process's LRU, in bytes of array data.
    """

    def __init__(self, folder: str | Path | None = None, max_bytes: int = 384 << 20) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.max_bytes = max_bytes
        self._mem: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self.stats: Counter[str] = Counter()
        """``memory_hits``, ``disk_hits``, ``computed``, ``disk_errors`` (counts)."""

    def get(
        self, kind: str, key: str, compute: Callable[[], T], codec: Codec[T] | None = None
    ) -> T:
        """The value under ``(kind, key)``: from memory, else the folder (when ``codec`` is
        given), else ``compute()`` (then stored in both)."""
        full = f"{kind}/{key}"
        hit = self._mem.get(full)
        if hit is not None:
            self._mem.move_to_end(full)
            self.stats["memory_hits"] += 1
            return hit[0]  # type: ignore[no-any-return]
        value: Any = None
        path = self._path(kind, key) if codec is not None else None
        if path is not None and path.is_file():
            try:
                with np.load(path, allow_pickle=False) as z:
                    value = codec.decode({k: z[k] for k in z.files})  # type: ignore[union-attr]
                self.stats["disk_hits"] += 1
            except Exception:
                self.stats["disk_errors"] += 1
                value = None
        if value is None:
            value = compute()
            self.stats["computed"] += 1
            if path is not None:
                self._write(path, codec.encode(value))  # type: ignore[union-attr]
        self._remember(full, _frozen(value))
        return value  # type: ignore[no-any-return]

    def _path(self, kind: str, key: str) -> Path | None:
        if self.folder is None:
            return None
        return self.folder / kind / key[:2] / f"{key}.npz"

    def _write(self, path: Path, arrays: dict[str, np.ndarray]) -> None:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path, "wb") as fh:
                fh.write(buf.getvalue())
        except OSError:
            self.stats["disk_errors"] += 1

    def _remember(self, full: str, value: Any) -> None:
        size = _nbytes(value)
        if size > self.max_bytes:
            return
        self._mem[full] = (value, size)
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, (_, s) = self._mem.popitem(last=False)
            self._bytes -= s

    def clear_memory(self) -> None:
        """Forget what is held in memory (the folder stays)."""
        self._mem.clear()
        self._bytes = 0


_SHARED = ResultCache()


def shared() -> ResultCache:
    """This process's cache (what :class:`~crossview.classical.common.Solver` uses)."""
    return _SHARED


def configure(folder: str | Path | None, max_bytes: int | None = None) -> ResultCache:
    """Point this process's cache at ``folder`` (None: memory only); returns it.

    The memory LRU is kept when the folder does not change. ``CROSSVIEW_CLASSICAL_CACHE_MB``
    sets the memory budget when ``max_bytes`` is not given.
    """
    global _SHARED
    if max_bytes is None:
        max_bytes = int(os.environ.get("CROSSVIEW_CLASSICAL_CACHE_MB", "384")) << 20
    folder = Path(folder) if folder is not None else None
    if folder != _SHARED.folder or max_bytes != _SHARED.max_bytes:
        _SHARED = ResultCache(folder, max_bytes)
    return _SHARED
