"""Writing files so that a reader, or a run killed half-way, never sees half a file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def temp_beside(path: Path) -> Path:
    """A temporary name in ``path``'s folder (``.<name>.tmp<pid>``), for a rename onto it."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


@contextmanager
def atomic_write(
    path: str | Path,
    mode: str = "w",
    *,
    encoding: str | None = "utf-8",
    newline: str | None = None,
    fsync: bool = False,
) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on a clean exit rename it onto ``path``.

    On an exception the temporary file is removed and ``path`` keeps what it held before.

    Args:
        path: the file to write.
        mode: ``w`` (text) or ``wb`` (binary).
        encoding, newline: as for :func:`open` (text mode only).
        fsync: flush the file to disk before the rename (for files a resumed run trusts).
    """
    path = Path(path)
    tmp = temp_beside(path)
    kw: dict[str, Any] = {} if "b" in mode else {"encoding": encoding, "newline": newline}
    try:
        with open(tmp, mode, **kw) as fh:
            yield fh
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
