"""What every dataset adapter shares: the registry, scene sources, the import log.

An adapter turns one public dataset layout into :class:`~crossview.scene.model.Scene` objects:
``scan(src)`` lists the scenes a dataset folder holds (cheap: no image is decoded) and
``load(source)`` builds one scene in memory (images may stay lazy through
``View(image_loader=...)``). A problem that spoils a whole scene raises
:class:`~crossview.errors.BadInputError` naming the file, record and field, and the importer
skips that scene with the reason; a problem confined to one view is logged with
:meth:`ImportLog.drop_view` and the rest of the scene is kept. See docs/adapters.md.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from crossview.errors import BadInputError
from crossview.sources.masks import CompletionConfig, MaskCompleter


@dataclass
class SceneSource:
    """One scene a dataset holds, as :meth:`Adapter.scan` finds it.

    Attributes:
        scene_id: the scene's id in the store (a safe folder name, unique in the dataset).
        path: the folder (or file) the scene is read from.
        meta: adapter-specific facts found while scanning (split, model folder, label file).
    """

    scene_id: str
    path: Path
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportLog:
    """What went wrong or was dropped while loading, counted by reason.

    Attributes:
        dropped_views: ``(scene_id, view, reason)`` for every view left out of a scene.
        masks_dropped: reason -> number of completed masks the quality filter dropped.
        masks_kept: completed masks that passed the filter.
    """

    dropped_views: list[tuple[str, str, str]] = field(default_factory=list)
    masks_dropped: Counter = field(default_factory=Counter)
    masks_kept: int = 0

    def drop_view(self, scene_id: str, view: str, reason: str | BadInputError) -> None:
        """Record that ``view`` of ``scene_id`` is left out, and why."""
        text = reason.describe() if isinstance(reason, BadInputError) else str(reason)
        self.dropped_views.append((scene_id, view, text))


class Adapter:
    """Base class of a dataset adapter. Subclasses set :attr:`name` and a docstring that
    describes the layout they read, and implement :meth:`scan` and :meth:`load`.

    Args:
        masks: completes boxes into masks, for sources that only have boxes.
        log: where dropped views and masks are counted.
        options: adapter-specific settings (``max_views`` for WildRGB-D, ...).
    """

    name: ClassVar[str] = ""

    def __init__(
        self,
        masks: MaskCompleter | None = None,
        log: ImportLog | None = None,
        **options: Any,
    ) -> None:
        self._masks = masks
        self.log = log if log is not None else ImportLog()
        self.options = options

    @property
    def masks(self) -> MaskCompleter:
        """The mask completer (GrabCut with default settings unless one was given)."""
        if self._masks is None:
            self._masks = MaskCompleter(CompletionConfig())
        return self._masks

    def scan(self, src: Path) -> list[SceneSource]:
        """The scenes of the dataset at ``src``, sorted by scene id.

        Raises:
            BadInputError: ``src`` is not a dataset of this format (names what is missing).
        """
        raise NotImplementedError

    def load(self, source: SceneSource) -> Any:
        """Build one scene (:class:`~crossview.scene.model.Scene`) in memory.

        Raises:
            BadInputError: the scene cannot be imported (names the file, record and field).
        """
        raise NotImplementedError


_REGISTRY: dict[str, type[Adapter]] = {}
_BUILTIN = ("colmap", "lerobot", "messytable", "wildrgbd")


def register_adapter(name: str) -> Callable[[type[Adapter]], type[Adapter]]:
    """Class decorator: register an adapter under ``name`` (``crossview import NAME``)."""

    def deco(cls: type[Adapter]) -> type[Adapter]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"dataset adapter {name!r} registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def _load_builtin() -> None:
    # importing the modules registers their adapters; done on first use, not at import
    import importlib

    for mod in _BUILTIN:
        importlib.import_module(f"crossview.sources.adapters.{mod}")


def list_adapters() -> list[str]:
    """Names of every registered adapter, sorted."""
    _load_builtin()
    return sorted(_REGISTRY)


def get_adapter(name: str) -> type[Adapter]:
    """The adapter class registered as ``name``; unknown names fail listing the valid ones.

    Raises:
        BadInputError: ``name`` is not a registered format.
    """
    valid = list_adapters()
    if name not in _REGISTRY:
        raise BadInputError(
            f"unknown dataset format {name!r}; valid: {', '.join(valid)}", field="format"
        )
    return _REGISTRY[name]


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_id(text: str) -> str:
    """A folder- and view-id-safe name: runs of other characters become ``_``."""
    out = _UNSAFE.sub("_", text).strip("._")
    return out or "scene"
