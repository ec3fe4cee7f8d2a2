"""``import_dataset``: run an adapter over a dataset and write every scene into a scene store.

Idempotent like every pipeline step: a scene already in the store is skipped (not even
loaded) unless ``overwrite``; each scene is written atomically by
:func:`crossview.scene.store.write_scene`. A scene that cannot be imported is skipped with
its reason and the import goes on; views left out and masks dropped by the quality filter are
counted in the returned :class:`ImportReport`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossview.errors import BadInputError
from crossview.sources.adapters.base import ImportLog, get_adapter
from crossview.sources.masks import CompletionConfig, MaskCompleter


@dataclass
class ImportReport:
    """What an import did.

    Attributes:
        out: the store written to.
        written: scene ids written by this run.
        existing: scene ids already in the store and left as they were.
        skipped: scene id -> why it was not imported.
        dropped_views: ``(scene_id, view, reason)`` of views left out of imported scenes.
        masks_kept: completed masks that passed the quality filter.
        masks_dropped: reason -> completed masks the quality filter dropped.
    """

    out: Path
    written: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    dropped_views: list[tuple[str, str, str]] = field(default_factory=list)
    masks_kept: int = 0
    masks_dropped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: scenes written / existing / skipped, views and masks dropped."""
        md = sum(self.masks_dropped.values())
        why = ", ".join(f"{k} {v}" for k, v in sorted(self.masks_dropped.items()))
        return (
            f"{len(self.written)} scene(s) written, {len(self.existing)} already there, "
            f"{len(self.skipped)} skipped; {len(self.dropped_views)} view(s) dropped; "
            f"masks: {self.masks_kept} kept, {md} dropped" + (f" ({why})" if why else "")
        )


def parse_options(adapter_cls: type, items: dict[str, Any] | None) -> dict[str, Any]:
    """Check adapter options against the adapter's ``OPTIONS`` and convert string values.

    Raises:
        BadInputError: an unknown option (listing the valid ones) or a value of the wrong type.
    """
    spec: dict[str, tuple[type, Any, str]] = getattr(adapter_cls, "OPTIONS", {})
    out = {k: default for k, (_, default, _) in spec.items()}
    for key, value in (items or {}).items():
        if key not in spec:
            valid = ", ".join(spec) or "none"
            raise BadInputError(
                f"unknown option {key!r} for format {adapter_cls.name}; valid: {valid}",
                field="option",
            )
        typ = spec[key][0]
        if isinstance(value, str):
            try:
                if typ is bool:
                    if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                        raise ValueError(value)
                    value = value.lower() in ("1", "true", "yes")
                else:
                    value = typ(value)
            except ValueError:
                raise BadInputError(
                    f"option {key} expects a {typ.__name__}, got {value!r}", field="option"
                ) from None
        out[key] = value
    return out


def import_dataset(
    fmt: str,
    src: str | Path,
    out: str | Path,
    *,
    limit: int | None = None,
    mask_completion: str = "grabcut",
    sam2_checkpoint: str | Path | None = None,
    overwrite: bool = False,
    options: dict[str, Any] | None = None,
    completion: CompletionConfig | None = None,
    progress: bool = True,
) -> ImportReport:
    """Convert the dataset at ``src`` (format ``fmt``) into the scene store ``out``.

    Args:
        fmt: a registered adapter name (``colmap``, ``messytable``, ``wildrgbd``).
        src: the dataset folder, in the format's published layout (docs/adapters.md).
        out: the scene store to write (created if missing).
        limit: import at most this many scenes (in scene-id order).
        mask_completion: ``grabcut``, ``sam2`` or ``none``, for sources with boxes only.
        sam2_checkpoint: SAM 2 checkpoint file, required with ``sam2``.
        overwrite: rewrite scenes already in the store.
        options: adapter options (the adapter's ``OPTIONS``), values typed or strings.
        completion: full mask-completion settings (thresholds); ``mask_completion`` and
            ``sam2_checkpoint`` override its method and checkpoint.
        progress: show a progress bar.

    Raises:
        BadInputError: an unknown format, a missing ``src``, a dataset with no scene of the
            format, a bad option, or ``sam2`` without a checkpoint file.
        MissingExtraError: ``sam2`` without SAM 2 installed.
    """
    from dataclasses import replace

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from crossview.scene.store import is_scene_dir, write_scene

    cls = get_adapter(fmt)
    src, out = Path(src), Path(out)
    if not src.exists():
        raise BadInputError("dataset path does not exist", file=src)
    opts = parse_options(cls, options)
    cfg = replace(completion or CompletionConfig(), method=mask_completion)
    if sam2_checkpoint is not None:
        cfg = replace(cfg, sam2_checkpoint=str(sam2_checkpoint))
    log = ImportLog()
    adapter = cls(MaskCompleter(cfg), log, **opts)
    sources = adapter.scan(src)
    if limit is not None:
        sources = sources[: max(0, limit)]
    out.mkdir(parents=True, exist_ok=True)
    report = ImportReport(out)
    seen: set[str] = set()
    cols = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*cols, transient=False, disable=not progress) as bar:
        task = bar.add_task(f"import {fmt}", total=len(sources))
        for s in sources:
            bar.advance(task)
            sid = s.scene_id
            if sid in seen:
                report.skipped[f"{sid} ({s.path})"] = "duplicate scene id in the dataset"
                continue
            seen.add(sid)
            if s.meta.get("problem"):
                report.skipped[sid] = str(s.meta["problem"])
                continue
            if is_scene_dir(out / sid) and not overwrite:
                report.existing.append(sid)
                continue
            try:
                scene = adapter.load(s)
                if not scene.views:
                    raise BadInputError("no usable view", file=s.path)
                write_scene(scene, out, overwrite=overwrite)
            except (BadInputError, ValueError, KeyError, TypeError, OSError) as exc:
                # a malformed dataset can break an adapter's assumptions anywhere; the scene
                # is skipped with the reason and the import goes on
                why = exc.describe() if isinstance(exc, BadInputError) else repr(exc)
                report.skipped[sid] = why
                for tmp in out.glob(f".{sid}.tmp-*"):
                    shutil.rmtree(tmp, ignore_errors=True)
                continue
            report.written.append(sid)
    report.dropped_views = list(log.dropped_views)
    report.masks_kept = log.masks_kept
    report.masks_dropped = dict(log.masks_dropped)
    return report
