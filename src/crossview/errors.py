"""One exception hierarchy for crossview.

Bad input names the file, the record and the field it comes from, so that a user can find and
fix it; the CLI turns these into a message and exit code 2, never a traceback.
"""

from __future__ import annotations

from pathlib import Path


class CrossviewError(Exception):
    """Base class of every error crossview raises on purpose."""


class BadInputError(CrossviewError):
    """Input data (a file, a record in it, a field of the record) is missing or malformed.

    Args:
        message: what is wrong, in words a user understands.
        file: the file the problem is in, if any.
        record: which record of the file (a view id, a line number, a track id), if any.
        field: which field of the record, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        record: str | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.record = record
        self.field = field
        super().__init__(self.describe())

    def describe(self) -> str:
        """Return ``file: record: field: message`` with the parts that are known."""
        parts = [p for p in (self.file, self.record, self.field) if p]
        return ": ".join([*parts, self.message])


class MissingExtraError(CrossviewError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""

    def __init__(self, module: str, extra: str, purpose: str = "") -> None:
        what = f" for {purpose}" if purpose else ""
        super().__init__(
            f"the optional dependency '{module}' is needed{what}: "
            f"install it with  pip install 'crossview[{extra}]'"
        )
        self.module = module
        self.extra = extra


def require(module: str, extra: str, purpose: str = ""):
    """Import an optional module lazily, or raise :class:`MissingExtraError` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised through MissingExtraError tests
        raise MissingExtraError(module, extra, purpose) from exc
