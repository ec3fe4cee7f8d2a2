"""``crossview suite``: one model on every benchmark found under a folder, one report.

Discovery walks the folder top-down: a folder that a registered public benchmark recognises
(:func:`crossview.eval.benchmarks.detect_benchmark`) is one benchmark; otherwise each file in it
that is a benchmark (a public release, a native ``questions.jsonl``, CrossViewer or
CrossPoint-Bench JSONL, a VLMEvalKit TSV) is one, and a folder that holds a benchmark is not
searched further (a dataset's exports are copies of its questions). Each benchmark gets a run
folder ``OUT/<slug>/`` evaluated as ``crossview eval`` would, resumed when it exists; a benchmark
that fails is reported and the others still run. ``OUT/suite.json`` and ``OUT/suite.md`` hold
the table of benchmarks (official score, ours, intervals, disagreements) and, per benchmark,
its categories.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from crossview.errors import BadInputError
from crossview.eval.config import CACHE_DIR, EvalConfig

_SKIP_NAMES = {"predictions.jsonl", "run.json", "summary.json", "suite.json"}
_SUFFIXES = {".jsonl", ".tsv", ".json", ".parquet"}


def _legacy_format(path: Path) -> str | None:
    """The built-in format of a file (native, crossviewer, crosspoint, tsv), or None."""
    from crossview.eval.loaders import _detect_format

    if path.suffix not in (".jsonl", ".tsv"):
        return None
    try:
        return _detect_format(path)
    except (BadInputError, OSError, UnicodeDecodeError, ValueError):
        return None


def discover(root: Path, exclude: Path | None = None) -> list[tuple[str, Path, str]]:
    """Benchmarks under ``root``: ``(slug, path, format)`` sorted by slug.

    Args:
        root: the folder to search (or one benchmark file / folder).
        exclude: a folder never searched (the suite's own output).
    """
    from crossview.eval.benchmarks import detect_benchmark

    root = Path(root)
    found: list[tuple[str, Path, str]] = []
    skip = exclude.resolve() if exclude is not None else None

    def slug(p: Path, fmt: str) -> str:
        try:
            rel = p.relative_to(root)
        except ValueError:
            rel = Path(p.name)
        text = "-".join(rel.with_suffix("").parts) if rel.parts else p.stem
        text = re.sub(r"[^A-Za-z0-9_.-]+", "_", text) or fmt
        return text if text.startswith(fmt) else f"{fmt}-{text}"

    def visit(d: Path) -> None:
        if skip is not None and d.resolve() == skip:
            return
        spec = detect_benchmark(d)
        if spec is not None:
            found.append((slug(d, spec.name), d, spec.name))
            return
        here = []
        for f in sorted(p for p in d.iterdir() if p.is_file()):
            if f.name in _SKIP_NAMES or f.suffix not in _SUFFIXES or f.name.startswith("."):
                continue
            spec = detect_benchmark(f)
            fmt = spec.name if spec is not None else _legacy_format(f)
            if fmt is not None:
                here.append((slug(f, fmt), f, fmt))
        if here:
            found.extend(here)
            return
        for sub in sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")):
            visit(sub)

    if root.is_file():
        spec = detect_benchmark(root)
        fmt = spec.name if spec is not None else _legacy_format(root)
        if fmt is None:
            raise BadInputError("not a benchmark file crossview can read", file=root)
        return [(fmt, root, fmt)]
    if not root.is_dir():
        raise BadInputError("benchmark folder not found", file=root)
    visit(root)
    slugs = [s for s, _, _ in found]
    dup = {s for s in slugs if slugs.count(s) > 1}
    if dup:
        found = [(f"{s}-{k}" if s in dup else s, p, f) for k, (s, p, f) in enumerate(found)]
    return sorted(found)


def run_suite(
    cfg: EvalConfig,
    root: Path,
    *,
    progress: Callable[[str], Callable[[int, int], None] | None] | None = None,
    backend: Any = None,
) -> dict[str, Any]:
    """Evaluate ``cfg.model`` on every benchmark under ``root``; write ``cfg.out``/suite.*.

    Args:
        cfg: the run settings; ``bench`` is ignored, ``out`` is the suite folder, each
            benchmark's run goes to ``out/<slug>``; runs already there are resumed.
        root: the folder searched by :func:`discover`.
        progress: called with a benchmark's slug, returns that run's progress callback.
        backend: an already built backend (tests); built once from ``cfg.model`` otherwise and
            shared by every benchmark.

    Returns:
        the content of ``suite.json``.

    Raises:
        BadInputError: no benchmark under ``root``.
    """
    from crossview.eval.backends import create_backend
    from crossview.eval.report import write_report
    from crossview.eval.runner import run_eval, write_json_atomic

    out = Path(cfg.out)
    found = discover(root, exclude=out)
    if not found:
        raise BadInputError(
            "no benchmark found (see `crossview benchmarks` for the layouts read)", file=root
        )
    out.mkdir(parents=True, exist_ok=True)
    if backend is None:
        settings = replace(cfg.backend, seed=cfg.seed, coord_format=cfg.coord_format)
        settings = replace(
            settings, cache_dir=str(out.resolve() / CACHE_DIR) if cfg.cache else None
        )
        backend = create_backend(cfg.model, settings)
    rows: list[dict[str, Any]] = []
    for slug, path, fmt in found:
        run_dir = out / slug
        resume = (run_dir / "predictions.jsonl").is_file()
        one = replace(cfg, bench=path, out=run_dir, fmt=fmt, resume=resume, protocol=None)
        row: dict[str, Any] = {"benchmark": slug, "path": str(path), "format": fmt}
        try:
            cb = progress(slug) if progress is not None else None
            summary = run_eval(one, backend=backend, progress=cb)
        except BadInputError as exc:
            row.update(status="error", error=str(exc))
            rows.append(row)
            continue
        write_report([run_dir], run_dir / "report")
        o = summary["overall"]
        row.update(
            status="complete" if summary["complete"] else "incomplete",
            n=summary["n_items"],
            accuracy=o["accuracy"],
            ci95=o["ci95"],
            ci95_clustered=o.get("ci95_clustered"),
            no_answer_rate=o["no_answer_rate"],
            by_category={k: v["accuracy"] for k, v in summary.get("by_category", {}).items()},
            n_by_category={k: v["n"] for k, v in summary.get("by_category", {}).items()},
        )
        if "official" in summary:
            off = summary["official"]
            row["official"] = {
                "overall": off["overall"],
                "rule": off.get("rule"),
                "by_category": {k: v["score"] for k, v in off["by_category"].items()},
                "disagreements": off["disagreements"]["n"],
                "unparsed": off["unparsed"],
                "flags": {k: v["n"] for k, v in (off.get("flags") or {}).items()},
            }
        rows.append(row)
    result = {"format": "crossview-suite", "version": 1, "model": cfg.model, "benchmarks": rows}
    write_json_atomic(out / "suite.json", result)
    (out / "suite.md").write_text(suite_markdown(result), encoding="utf-8")
    return result


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def suite_markdown(result: dict[str, Any]) -> str:
    """The suite report: a row per benchmark, then a categories table per benchmark."""
    lines = [
        f"# {result['model']} on {len(result['benchmarks'])} benchmarks",
        "",
        "Official: the benchmark's own parser and scoring on the same responses; crossview: "
        "robust extraction. 95% CI: Wilson over items, and clustered by scene where the "
        "benchmark has scenes.",
        "",
        "| Benchmark | N | Official | crossview | 95% CI | 95% CI (scenes) | No answer "
        "| Official != crossview | Status |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["benchmarks"]:
        if r["status"] == "error":
            lines.append(f"| {r['benchmark']} | | | | | | | | error: {r['error']} |")
            continue
        off = r.get("official")
        ci = r["ci95"]
        cc = r.get("ci95_clustered")
        lines.append(
            f"| {r['benchmark']} | {r['n']} | {_pct(off['overall']) if off else '-'} "
            f"| {_pct(r['accuracy'])} | [{_pct(ci[0])}, {_pct(ci[1])}] "
            f"| {f'[{_pct(cc[0])}, {_pct(cc[1])}]' if cc else '-'} "
            f"| {_pct(r['no_answer_rate'])} | {off['disagreements'] if off else '-'} "
            f"| {r['status']} |"
        )
    for r in result["benchmarks"]:
        if r["status"] == "error" or not r.get("by_category"):
            continue
        off = r.get("official") or {}
        lines += [
            "",
            f"## {r['benchmark']}",
            "",
            f"`{r['path']}` ({r['format']}); official overall: {off.get('rule', '-')}"
            + _flag_note(off.get("flags")),
            "",
            *_paper_row(result["model"], r),
            "| Category | N | Official | crossview |",
            "|---|---|---|---|",
        ]
        for cat, acc in r["by_category"].items():
            o = off.get("by_category", {}).get(cat)
            lines.append(f"| {cat} | {r['n_by_category'][cat]} | {_pct(o)} | {_pct(acc)} |")
    return "\n".join(lines) + "\n"


def _paper_row(model: str, r: dict[str, Any]) -> list[str]:
    """The benchmark's result the way its paper prints it: one row, the overall then each
    category (official scores where the benchmark has them, else crossview's), in %."""
    off = r.get("official")
    cats = list(r["by_category"])
    if off:
        overall, by_cat, what = off["overall"], off.get("by_category", {}), "official"
    else:
        overall, by_cat, what = r["accuracy"], r["by_category"], "crossview"
    return [
        f"| Model ({what}) | Overall | " + " | ".join(cats) + " |",
        "|---|---|" + "---|" * len(cats),
        f"| {model} | {_pct(overall)} | " + " | ".join(_pct(by_cat.get(c)) for c in cats) + " |",
        "",
    ]


def _flag_note(flags: dict[str, int] | None) -> str:
    """The responses the benchmark's own pipeline would hand to an LLM, or ``""``."""
    if not flags:
        return ""
    counts = ", ".join(f"{k} {n}" for k, n in sorted(flags.items()))
    return f"; flagged (its pipeline would ask an LLM; crossview scored them by rule): {counts}"


def load_suite(path: Path) -> dict[str, Any]:
    """Read a ``suite.json``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
