"""Run an evaluation: benchmark + backend -> ``RUN_DIR/`` with run.json, predictions, summary.

Predictions are appended one line per answer as they arrive and flushed at once, so a crash or
a kill loses nothing already answered. ``resume=True`` reads them back, keeps every answered
``(id, variant)`` (the first answered line wins, so nothing is counted twice) and asks the backend
only for the rest, including earlier backend failures. ``summary.json`` is written atomically.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from crossview import __version__
from crossview.errors import BadInputError
from crossview.eval.backends import Backend, create_backend, parse_model
from crossview.eval.config import CACHE_DIR, EvalConfig
from crossview.eval.extract import COORD_FORMATS
from crossview.eval.harness import extract_answer
from crossview.eval.items import LETTERS, EvalItem, Prompt, Response
from crossview.eval.loaders import load_benchmark
from crossview.eval.prompts import Task, build_tasks, variant_kind
from crossview.eval.scoring import cluster_key, score, summarize
from crossview.files import atomic_write

PREDICTIONS = "predictions.jsonl"
SUMMARY = "summary.json"
RUN_INFO = "run.json"
# Settings that must match between a run and its resumption.
_IDENTITY = (
    "bench",
    "model",
    "protocol",
    "format",
    "coord_format",
    "circular",
    "consistency",
    "limit",
    "seed",
)


def make_record(
    item: EvalItem, task: Task, response: Response, coord_format: str
) -> dict[str, Any]:
    """The ``predictions.jsonl`` line of one response (scored now)."""
    rec: dict[str, Any] = {
        "id": item.id,
        "variant": task.prompt.variant,
        "kind": variant_kind(task.prompt.variant),
        "type": item.type,
        "cluster": cluster_key(item),
    }
    if response.text is None:
        rec.update(
            status="failed", error=response.error or "no response", attempts=response.attempts
        )
        return rec
    ext = extract_answer(item, task.options, response.text, coord_format)
    correct, note = score(item, task.answer, ext)
    value = list(ext.value) if isinstance(ext.value, tuple) else ext.value
    rec.update(
        status="answered",
        response=response.text,
        extracted=value,
        explicit=ext.explicit,
        no_answer=not ext.answered,
        note=note,
        correct=correct,
        gold=task.answer,
        attempts=response.attempts,
        latency_s=round(response.latency_s, 4),
    )
    if item.answer_kind == "choice" and ext.answered and str(value) in LETTERS[: len(task.order)]:
        rec["picked"] = task.order[LETTERS.index(str(value))]  # the item's own option index
    if response.backend_note:
        rec["backend_note"] = response.backend_note
    return rec


def read_predictions(path: Path, repair: bool = False) -> dict[tuple[str, int], dict[str, Any]]:
    """Read ``predictions.jsonl`` into final records: the first answered line per key wins,
    a failed line counts only while no answered line exists.

    A truncated last line (a crash in mid-write) is dropped, and with ``repair`` cut from the
    file so that appending continues cleanly; a corrupt line elsewhere is an error.
    """
    records: dict[tuple[str, int], dict[str, Any]] = {}
    if not path.is_file():
        return records
    data = path.read_bytes()
    lines = data.split(b"\n")
    good_end = 0
    offset = 0
    for n, raw in enumerate(lines):
        end = offset + len(raw) + 1
        if raw.strip():
            try:
                rec = json.loads(raw)
                key = (str(rec["id"]), int(rec["variant"]))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                if n == len(lines) - 1:  # unterminated tail from an interrupted write
                    break
                raise BadInputError(
                    "corrupt prediction line", file=path, record=f"line {n + 1}"
                ) from None
            old = records.get(key)
            if old is None or (old["status"] != "answered" and rec["status"] == "answered"):
                records[key] = rec
        good_end = min(end, len(data))
        offset = end
    if repair and good_end < len(data):
        with path.open("r+b") as f:
            f.truncate(good_end)
    return records


def compare_runs(run_a: Path, run_b: Path) -> dict[str, Any]:
    """Paired comparison of two run folders on the items both answered (plain variant).

    Returns ``{"a", "b", "overall", "by_type"}``: ``a``/``b`` the folders and models, the
    others :func:`crossview.eval.scoring.paired_comparison` results. Items are clustered by
    the ``cluster`` their prediction lines carry (runs older than that field: each item its
    own cluster, said in ``note``).

    Raises:
        BadInputError: a folder without predictions, or no shared items.
    """
    from crossview.eval.scoring import paired_comparison

    runs = []
    for d in (Path(run_a), Path(run_b)):
        path = d / PREDICTIONS
        if not path.is_file():
            raise BadInputError("not a run folder: predictions.jsonl is missing", file=d)
        recs = {
            k[0]: r
            for k, r in read_predictions(path).items()
            if k[1] == 0 and r["status"] == "answered"
        }
        info = json.loads((d / RUN_INFO).read_text()) if (d / RUN_INFO).is_file() else {}
        info = info.get("identity", info)
        runs.append((d, info, recs))
    (da, ia, ra), (db, ib, rb) = runs
    shared = sorted(set(ra) & set(rb))
    if not shared:
        raise BadInputError(f"runs {da} and {db} share no answered item")
    if ia.get("bench") and ib.get("bench") and ia["bench"] != ib["bench"]:
        raise BadInputError(f"runs are on different benchmarks: {ia['bench']} and {ib['bench']}")
    clusters = {i: str(ra[i].get("cluster") or rb[i].get("cluster") or f"item:{i}") for i in shared}

    def paired(ids: list[str]) -> dict[str, Any]:
        # a number answer (a credit in [0, 1]) counts as right only with full credit
        a = {i: float(ra[i]["correct"]) >= 1.0 for i in ids}
        b = {i: float(rb[i]["correct"]) >= 1.0 for i in ids}
        return paired_comparison(a, b, clusters)

    types = sorted({str(ra[i].get("type", "")) for i in shared} - {""})
    out: dict[str, Any] = {
        "a": {"run": str(da), "model": ia.get("model")},
        "b": {"run": str(db), "model": ib.get("model")},
        "overall": paired(shared),
        "by_type": {t: paired([i for i in shared if ra[i].get("type") == t]) for t in types},
    }
    if not any("cluster" in ra[i] for i in shared):
        out["note"] = "prediction lines carry no cluster: items treated as independent"
    return out


def git_commit() -> str | None:
    """The git commit of the crossview source tree, if it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it over ``path``."""
    with atomic_write(path, fsync=True) as f:
        json.dump(data, f, indent=1, ensure_ascii=False)
        f.write("\n")


def _identity(cfg: EvalConfig, protocol: str, fmt: str) -> dict[str, Any]:
    return {
        "bench": str(cfg.bench.resolve()),
        "model": cfg.model,
        "protocol": protocol,
        "format": fmt,
        "coord_format": cfg.coord_format,
        "circular": cfg.circular,
        "consistency": cfg.consistency,
        "limit": cfg.limit,
        "seed": cfg.seed,
    }


def run_eval(
    cfg: EvalConfig,
    *,
    backend: Backend | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Evaluate ``cfg.model`` on ``cfg.bench`` and write the run folder; return the summary.

    Args:
        cfg: the run configuration.
        backend: an already built backend (tests, Python users); built from ``cfg.model``
            when None.
        progress: called with ``(done, total)`` after each response.

    Raises:
        BadInputError: bad benchmark, bad option, or a run folder that holds another run.
    """
    if cfg.coord_format not in COORD_FORMATS:
        raise BadInputError(f"--coord-format must be one of {', '.join(COORD_FORMATS)}")
    if cfg.limit is not None and cfg.limit < 1:
        raise BadInputError("--limit must be a positive number of items")
    parse_model(cfg.model)  # an unknown kind fails before any loading
    bench = load_benchmark(
        cfg.bench, protocol=cfg.protocol, fmt=cfg.fmt, extra_roots=cfg.extra_roots
    )
    items = bench.items[: cfg.limit] if cfg.limit else bench.items
    skipped = bench.skipped
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    pred_path, info_path = out / PREDICTIONS, out / RUN_INFO
    identity = _identity(cfg, bench.protocol, bench.format)
    if pred_path.is_file() and pred_path.stat().st_size and not cfg.resume:
        raise BadInputError(
            "the run folder already holds predictions; pass --resume to "
            "continue it or choose another --out",
            file=out,
        )
    if cfg.resume and info_path.is_file():
        old = json.loads(info_path.read_text(encoding="utf-8"))
        # runs made before a setting existed had its default (consistency: off)
        was = {"consistency": False, **old.get("identity", {})}
        diff = [k for k in _IDENTITY if was.get(k) != identity[k]]
        if diff:
            raise BadInputError(
                f"cannot resume: the run was made with other settings ({', '.join(diff)})",
                file=info_path,
            )

    settings = replace(cfg.backend, seed=cfg.seed, coord_format=cfg.coord_format)
    if not cfg.cache:
        settings = replace(settings, cache_dir=None)
    elif settings.cache_dir is None:
        settings = replace(settings, cache_dir=str(out.resolve().parent / CACHE_DIR))
    if backend is None:
        backend = create_backend(cfg.model, settings)
    tasks: dict[tuple[str, int], tuple[EvalItem, Task]] = {}
    for it in items:
        for t in build_tasks(
            it,
            circular=cfg.circular,
            consistency=cfg.consistency,
            coord_format=cfg.coord_format,
            with_gold=backend.needs_gold,
        ):
            tasks[t.prompt.key] = (it, t)
    variants: dict[str, list[int]] = {}
    for item_id, variant in tasks:
        variants.setdefault(item_id, []).append(variant)

    info = {
        "identity": identity,
        "backend": backend.describe(),
        "package_version": __version__,
        "git_commit": git_commit(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "n_items": len(items),
        "n_prompts": len(tasks),
    }
    if not (cfg.resume and info_path.is_file()):
        write_json_atomic(info_path, info)

    records = read_predictions(pred_path, repair=True)
    pending: list[Prompt] = [
        t.prompt
        for key, (_, t) in tasks.items()
        if records.get(key, {}).get("status") != "answered"
    ]
    backend.prepare(list(tasks))
    backend.check(pending)

    done = [0]
    with pred_path.open("a", encoding="utf-8") as f:

        def on_result(prompt: Prompt, response: Response) -> None:
            item, task = tasks[prompt.key]
            rec = make_record(item, task, response, cfg.coord_format)
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            f.flush()
            old = records.get(prompt.key)
            if old is None or old["status"] != "answered":
                records[prompt.key] = rec
            done[0] += 1
            if progress is not None:
                progress(done[0], len(pending))

        try:
            if pending:
                asyncio.run(backend.run(pending, on_result))
        finally:
            backend.close()
            summary = build_summary(items, records, variants, cfg, info, backend, bench.format)
            if skipped:
                summary["skipped_records"] = skipped
            write_json_atomic(out / SUMMARY, summary)
    return summary


def build_summary(
    items: list[EvalItem],
    records: dict[tuple[str, int], dict[str, Any]],
    variants: dict[str, list[int]],
    cfg: EvalConfig,
    info: dict[str, Any],
    backend: Backend,
    fmt: str = "",
) -> dict[str, Any]:
    """Scores plus what the run was: the content of ``summary.json``.

    For a public benchmark read in its own layout (``fmt`` a registered name), ``official``
    holds its own script's score of the same responses and where it disagrees with ours.
    """
    from crossview.eval.benchmarks import get_benchmark, official_summary

    scores = summarize(items, records, variants, cfg.circular, cfg.consistency)
    answered = [r for r in records.values() if r["status"] == "answered"]
    reasons = Counter(r["note"] for r in answered if r.get("no_answer"))
    latencies = [r.get("latency_s", 0.0) for r in answered]
    summary: dict[str, Any] = {
        "format": "crossview-eval-summary",
        "version": 1,
        "model": cfg.model,
        "complete": scores.pop("complete"),
        "n_items": len(items),
        "n_prompts": sum(len(v) for v in variants.values()),
        "n_answered": len(answered),
        "n_failed": sum(1 for r in records.values() if r["status"] != "answered"),
        **scores,
        "no_answer_reasons": dict(reasons.most_common()),
        "latency_s_median": float(np.median(latencies)) if latencies else None,
        "run": {**info, "backend": backend.describe()},
    }
    public = get_benchmark(fmt) if fmt else None
    if public is not None:
        summary["official"] = official_summary(public, items, records)
    unmatched = getattr(backend, "unmatched", None)
    if unmatched is not None:
        summary["replay"] = {"unmatched_lines": len(unmatched), "unmatched_ids": unmatched[:50]}
    return summary
