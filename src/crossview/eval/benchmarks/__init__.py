"""Public cross-view benchmarks, each read in its published layout and scored its own way.

A :class:`PublicBenchmark` knows one benchmark's release: which files it ships (``layout``),
where they are published, how to recognise them on disk (:meth:`~PublicBenchmark.detect`), how
to turn them into :class:`~crossview.eval.items.EvalItem` objects with the benchmark's own prompt
(:meth:`~PublicBenchmark.load`), and how its own scoring script parses and scores a response
(:meth:`~PublicBenchmark.official`, :meth:`~PublicBenchmark.aggregate`). The harness scores
every response twice: with that official parser, and with crossview's robust extraction; the
summary reports both and the items where they disagree.

Benchmarks register with :func:`register`; ``crossview eval --bench NAME:PATH`` picks one by
name, and a path alone is recognised by :func:`detect_benchmark`. Every fact taken from a
benchmark's release is cited in docs/evaluation.md and docs/research/.
"""

from __future__ import annotations

import base64
import importlib
import pkgutil
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from crossview.errors import BadInputError, require
from crossview.eval.items import EvalItem, ImageSource


@dataclass(frozen=True)
class Official:
    """What a benchmark's own scoring makes of one response.

    Attributes:
        credit: the item's score in ``[0, 1]`` (1/0 for exact-match benchmarks; a mean
            relative accuracy for SPAR's numeric answers).
        parsed: what the official parser read from the response (None: nothing).
        flag: why the official pipeline would not settle this response by its rules alone,
            e.g. ``needs_llm_matcher`` (BLINK hands it to GPT-3.5) or ``needs_llm_judge``
            (VLMEvalKit's judge); crossview runs no LLM, so the credit is what the rules give
            (0) and the summary counts the flag (``flags``). None: settled by rule.
    """

    credit: float
    parsed: str | None
    flag: str | None = None


class PublicBenchmark:
    """One public benchmark: its layout, loader, official prompt, parser and scoring.

    Subclasses set the class attributes and implement :meth:`detect`, :meth:`load` and
    :meth:`official`; :meth:`aggregate` defaults to the micro mean over items, overall and per
    category (what most official scripts print).
    """

    name: ClassVar[str]
    """Registry name (``--bench NAME:PATH``)."""
    title: ClassVar[str]
    """The benchmark's own name."""
    layout: ClassVar[str]
    """The files crossview expects, as released."""
    published: ClassVar[str]
    """Where the files are published."""
    source: ClassVar[str]
    """The code the loader, prompt and scoring were read from (repo@commit: files)."""
    overall_rule: ClassVar[str] = "micro mean over items"
    """How the official overall score is formed."""

    def detect(self, path: Path) -> bool:
        """Whether ``path`` (a file or a folder) is this benchmark's release; must be cheap."""
        raise NotImplementedError

    def load(self, path: Path) -> list[EvalItem] | tuple[list[EvalItem], dict[str, int]]:
        """Read the release at ``path`` into items carrying the official prompt; or
        ``(items, skipped)`` where ``skipped`` counts, by reason, records the benchmark's own
        code leaves out (they are reported in the run's summary, never silently dropped).

        Raises:
            BadInputError: naming the file, the record and the field of anything malformed.
        """
        raise NotImplementedError

    def official(self, item: EvalItem, response: str | None) -> Official:
        """Parse and score one response exactly as the benchmark's own script does."""
        raise NotImplementedError

    def aggregate(
        self,
        items: Sequence[EvalItem],
        credits: Mapping[str, float],
        flags: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The official overall and per-category scores from per-item credits.

        Args:
            items: every item of the run.
            credits: ``{item id: credit}``; an item without a response is absent and counts
                as 0 (official scripts count a failed request as wrong).
            flags: ``{item id: flag}`` of the scored responses whose :class:`Official` carries
                a flag (counted by :func:`official_summary` as ``flags``; a benchmark may
                derive more from them).

        Returns:
            ``{"overall": float, "by_category": {category: {"score": float, "n": int}},
            "rule": str}``.
        """
        by_cat: dict[str, list[float]] = defaultdict(list)
        all_credits = []
        for it in items:
            c = credits.get(it.id, 0.0)
            all_credits.append(c)
            for cat in it.categories or (it.type,):
                by_cat[cat].append(c)
        return {
            "overall": _mean(all_credits),
            "by_category": {k: {"score": _mean(v), "n": len(v)} for k, v in sorted(by_cat.items())},
            "rule": self.overall_rule,
        }

    def describe(self) -> dict[str, str]:
        """What ``crossview benchmarks`` prints."""
        return {
            "name": self.name,
            "title": self.title,
            "layout": self.layout,
            "published": self.published,
            "source": self.source,
            "overall": self.overall_rule,
        }


def _mean(xs: Sequence[float]) -> float:
    return float(sum(xs) / len(xs)) if xs else 0.0


_REGISTRY: dict[str, PublicBenchmark] = {}
_LOADED: list[bool] = []  # every module imported (a module imported alone registers itself only)


def register(cls: type[PublicBenchmark]) -> type[PublicBenchmark]:
    """Class decorator: add a benchmark to the registry under ``cls.name``."""
    _REGISTRY[cls.name] = cls()
    return cls


def registry() -> dict[str, PublicBenchmark]:
    """Every registered benchmark by name (the modules load on first use; all are light)."""
    if not _LOADED:
        for mod in sorted(m.name for m in pkgutil.iter_modules(__path__)):
            importlib.import_module(f"{__name__}.{mod}")
        _LOADED.append(True)
    return dict(_REGISTRY)


def get_benchmark(name: str) -> PublicBenchmark | None:
    """The registered benchmark called ``name``, or None."""
    return registry().get(name)


def detect_benchmark(path: Path) -> PublicBenchmark | None:
    """The registered benchmark whose release ``path`` is, or None."""
    for spec in registry().values():
        try:
            if spec.detect(path):
                return spec
        except (OSError, ValueError, UnicodeDecodeError):
            continue
    return None


# ---------------------------------------------------------------------------------------------
# Helpers the loaders share


def read_parquet(path: Path, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a parquet file as ``(row number, {column: value})``, only ``columns``.

    Raises:
        BadInputError: an unreadable file or a missing column (named).
        MissingExtraError: pyarrow is not installed (extra ``bench``).
    """
    pq = require("pyarrow.parquet", "bench", "reading parquet benchmark files")
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise BadInputError(f"not a readable parquet file ({exc})", file=path) from None
    names = set(pf.schema_arrow.names)
    missing = [c for c in columns if c not in names]
    if missing:
        raise BadInputError(
            f"parquet file lacks column(s) {', '.join(missing)} (has {', '.join(sorted(names))})",
            file=path,
        )
    n = 0
    for batch in pf.iter_batches(columns=list(columns), batch_size=256):
        for row in batch.to_pylist():
            yield n, row
            n += 1


def parquet_columns(path: Path) -> set[str]:
    """The column names of a parquet file (empty when pyarrow is missing or it is unreadable)."""
    try:
        import pyarrow.parquet as pq

        return set(pq.ParquetFile(path).schema_arrow.names)
    except Exception:
        return set()


def image_cell(value: Any, file: Path, record: str, field: str) -> ImageSource:
    """An image stored inline: raw bytes, a Hugging Face ``{"bytes", "path"}`` struct, or
    base64 text.

    Raises:
        BadInputError: an empty or unreadable cell.
    """
    if isinstance(value, dict):
        value = value.get("bytes")
    if isinstance(value, (bytes, bytearray)) and value:
        return ImageSource(b64=base64.b64encode(bytes(value)).decode("ascii"))
    if isinstance(value, str) and len(value) > 64:
        return ImageSource(b64=value.strip())
    raise BadInputError("image cell holds no image bytes", file=file, record=record, field=field)


def need(rec: Mapping[str, Any], key: str, file: Path, record: str) -> Any:
    """``rec[key]``, or a BadInputError naming the file, record and field."""
    value = rec.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise BadInputError("missing field", file=file, record=record, field=key)
    return value


def need_letter(value: Any, n_options: int, file: Path, record: str, field: str = "answer") -> None:
    """Check that a gold answer is exactly one of the first ``n_options`` option letters (the
    caller normalises it the way its benchmark's scorer compares it).

    Raises:
        BadInputError: naming the file, record and field.
    """
    from crossview.eval.items import LETTERS

    if not isinstance(value, str) or value not in LETTERS[:n_options]:
        raise BadInputError(
            f"{field} {value!r} is not one of the {n_options} option letters",
            file=file,
            record=record,
            field=field,
        )


def official_summary(
    spec: PublicBenchmark,
    items: Sequence[EvalItem],
    records: Mapping[tuple[str, int], Mapping[str, Any]],
) -> dict[str, Any]:
    """The official score of a run beside crossview's, from the recorded responses.

    Every answered plain-variant response is parsed and scored by ``spec.official``; the
    result is ``spec.aggregate`` (items without a response count 0, as the official scripts
    count failed requests) plus ``n_scored``, ``unparsed`` (responses the official parser read
    nothing from), ``flags`` (responses the official pipeline would hand to an LLM, by flag:
    count, per category, ids) and ``disagreements``: items whose official credit differs from
    crossview's robust score (``official_higher`` / ``robust_higher``, the first 50 ids).
    """
    credits: dict[str, float] = {}
    flags: dict[str, str] = {}
    unparsed = 0
    higher = {"official": [], "robust": []}
    for it in items:
        rec = records.get((it.id, 0))
        if rec is None or rec.get("status") != "answered":
            continue
        off = spec.official(it, rec.get("response"))
        credits[it.id] = off.credit
        if off.flag is not None:
            flags[it.id] = off.flag
        unparsed += off.parsed is None
        robust = float(rec.get("correct") or 0.0)
        if abs(off.credit - robust) > 1e-9:
            higher["official" if off.credit > robust else "robust"].append(it.id)
    out = spec.aggregate(items, credits, flags)
    disagree = higher["official"] + higher["robust"]
    out.update(
        benchmark=spec.title,
        n_items=len(items),
        n_scored=len(credits),
        unparsed=unparsed,
        disagreements={
            "n": len(disagree),
            "official_higher": len(higher["official"]),
            "robust_higher": len(higher["robust"]),
            "ids": disagree[:50],
        },
        flags=_count_flags(items, flags),
    )
    return out


def _count_flags(items: Sequence[EvalItem], flags: Mapping[str, str]) -> dict[str, Any]:
    """``{flag: {"n", "by_category", "ids" (first 50)}}`` over the flagged responses."""
    out: dict[str, Any] = {}
    for it in items:
        flag = flags.get(it.id)
        if flag is None:
            continue
        entry = out.setdefault(flag, {"n": 0, "by_category": {}, "ids": []})
        entry["n"] += 1
        for cat in it.categories or (it.type,):
            entry["by_category"][cat] = entry["by_category"].get(cat, 0) + 1
        if len(entry["ids"]) < 50:
            entry["ids"].append(it.id)
    for entry in out.values():
        entry["by_category"] = dict(sorted(entry["by_category"].items()))
    return out
