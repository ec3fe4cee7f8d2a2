"""CLI functions ``crossview eval`` and ``crossview report`` (registered in ``crossview.cli``).

Importing this module is light: the harness and the backends load when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crossview.eval.config import BackendSettings, EvalConfig

_E = EvalConfig(bench=Path(), model="", out=Path())
_B = _E.backend


# Options shared by `eval` and `suite` (one declaration each).
ModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        help="KIND:ARG, e.g. openai:gpt-4o, hf:PATH, "
        "vllm:PATH, replay:FILE.jsonl, random, oracle, classical.",
    ),
]
CoordOpt = Annotated[
    str,
    typer.Option("--coord-format", help="Point answers: absolute | relative | relative-1000."),
]
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", help="Requests in flight (openai).")]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="Only the first N items.")]
CircularOpt = Annotated[
    bool, typer.Option("--circular", help="Also ask every rotation of the options.")
]
BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="OpenAI-compatible server URL (openai).")
]
KeyEnvOpt = Annotated[
    str, typer.Option("--api-key-env", help="Environment variable holding the API key.")
]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Seconds per request.")]
RetriesOpt = Annotated[
    int, typer.Option("--retries", help="Retries on 429, 5xx and connection errors.")
]
MaxTokensOpt = Annotated[int, typer.Option("--max-tokens", help="Tokens per answer.")]
BatchOpt = Annotated[int, typer.Option("--batch-size", help="Batch size (hf, vllm).")]
WorkersOpt = Annotated[
    int, typer.Option("--workers", help="Processes for CPU-bound local backends (classical).")
]
MaxImagesOpt = Annotated[
    int | None,
    typer.Option("--max-images", help="Images the model accepts per prompt (fail if exceeded)."),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed (random baseline).")]
CacheOpt = Annotated[
    bool,
    typer.Option(
        "--cache/--no-cache",
        help="Keep results keyed by image content (classical: features, matches) in "
        "<folder of --out>/.crossview-cache, shared by runs there; never changes an answer.",
    ),
]


def eval_cmd(
    bench: Annotated[
        Path,
        typer.Option(
            "--bench",
            help="Benchmark: native questions.jsonl, CrossViewer / CrossPoint-Bench JSONL, "
            "VLMEvalKit TSV, or a public benchmark's release (file or folder; NAME:PATH "
            "names it, see `crossview benchmarks`).",
        ),
    ],
    model: ModelOpt,
    out: Annotated[Path, typer.Option("--out", help="Run folder (predictions, summary).")],
    protocol: Annotated[
        str | None,
        typer.Option(
            "--protocol",
            help="auto | overlay | region | marker (native datasets; auto: each item's overlay "
            "or marker protocol, else region); public benchmarks: published (their prompt).",
        ),
    ] = _E.protocol,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="auto | native | crossviewer | crosspoint | tsv | a public benchmark's name.",
        ),
    ] = _E.fmt,
    coord_format: CoordOpt = _E.coord_format,
    concurrency: ConcurrencyOpt = _B.concurrency,
    limit: LimitOpt = _E.limit,
    circular: CircularOpt = _E.circular,
    consistency: Annotated[
        bool,
        typer.Option(
            "--consistency",
            help="Also ask variants that must not change the answer (option rotations, images "
            "reversed, paraphrases) and report per-type consistency.",
        ),
    ] = _E.consistency,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --out, filling failures and gaps.")
    ] = _E.resume,
    base_url: BaseUrlOpt = _B.base_url,
    api_key_env: KeyEnvOpt = _B.api_key_env,
    timeout: TimeoutOpt = _B.timeout_s,
    retries: RetriesOpt = _B.retries,
    max_tokens: MaxTokensOpt = _B.max_tokens,
    batch_size: BatchOpt = _B.batch_size,
    workers: WorkersOpt = _B.workers,
    max_images: MaxImagesOpt = _B.max_images,
    seed: SeedOpt = _E.seed,
    allow_root: Annotated[
        list[Path] | None,
        typer.Option("--allow-root", help="Extra folder image paths may point into."),
    ] = None,
    cache: CacheOpt = _E.cache,
) -> None:
    """Evaluate a model on a benchmark file; write predictions, summary.json and scores."""
    from crossview.eval.runner import run_eval

    settings = BackendSettings(
        base_url=base_url,
        api_key_env=api_key_env,
        concurrency=concurrency,
        timeout_s=timeout,
        retries=retries,
        max_tokens=max_tokens,
        batch_size=batch_size,
        workers=workers,
        max_images=max_images,
    )
    cfg = EvalConfig(
        bench=bench,
        model=model,
        out=out,
        protocol=protocol,
        fmt=fmt,
        coord_format=coord_format,
        limit=limit,
        circular=circular,
        consistency=consistency,
        resume=resume,
        seed=seed,
        extra_roots=tuple(allow_root or ()),
        cache=cache,
        backend=settings,
    )
    from crossview.progress import progress_callback

    with progress_callback(f"eval {model}") as update:
        summary = run_eval(cfg, progress=update)
    o = summary["overall"]
    typer.echo(
        f"{model}: accuracy {o['accuracy']:.4f} on {o['n']} items "
        f"(no answer {o['no_answer_rate']:.1%}, random {o.get('random_baseline', 0):.4f})"
    )
    if "official" in summary:
        typer.echo(official_line(summary["official"]))
    if "circular" in summary:
        typer.echo(f"circular accuracy {summary['circular']['overall']['accuracy']:.4f}")
    if "consistency" in summary:
        c = summary["consistency"]["overall"]
        typer.echo(
            f"consistency over {c['items']} items with variants: all right {c['all_right']:.4f},"
            f" stable {c['stable']:.4f}"
        )
    if not summary["complete"]:
        n = len(summary["failed_ids"]) + len(summary["missing_ids"])
        typer.echo(f"run incomplete: {n} items without a response; rerun with --resume", err=True)
        raise typer.Exit(1)


def official_line(off: dict) -> str:
    """One line: a public benchmark's own score and how often its parser disagrees with ours."""
    d = off["disagreements"]
    return (
        f"official {off['benchmark']} score {off['overall']:.4f} ({off['rule']}); its parser "
        f"and ours disagree on {d['n']} of {off['n_scored']} items (official higher on "
        f"{d['official_higher']}, ours on {d['robust_higher']}; it read nothing in "
        f"{off['unparsed']})" + flags_text(off)
    )


def flags_text(off: dict) -> str:
    """``"; flagged: needs_llm_judge 3"``: the responses a benchmark's own pipeline would hand
    to an LLM (crossview scores them by rule), or ``""``."""
    flags = off.get("flags") or {}
    if not flags:
        return ""
    return "; flagged: " + ", ".join(f"{k} {v['n']}" for k, v in sorted(flags.items()))


def report_cmd(
    runs: Annotated[list[Path], typer.Argument(help="Run folders to compare.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Folder for report.md and report.html.")],
    gallery: Annotated[
        int, typer.Option("--gallery", help="Failed items shown per run in the HTML gallery.")
    ] = 24,
) -> None:
    """Write a markdown table (a row per run) and an HTML page with charts and failures."""
    from crossview.eval.report import write_report

    md, html = write_report(runs, out, gallery=gallery)
    typer.echo(f"wrote {md} and {html}")


def compare_cmd(
    run_a: Annotated[Path, typer.Argument(help="Run folder of model A.", show_default=False)],
    run_b: Annotated[Path, typer.Argument(help="Run folder of model B.", show_default=False)],
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the comparison as JSON here.")
    ] = None,
) -> None:
    """Paired comparison of two runs on the same items: does model A beat model B?

    The accuracy difference (A - B) on the items both answered, with a 95% interval from a
    cluster-robust standard error over scenes, overall and per type; "A better" when it is
    above 0.
    """
    from crossview.eval.runner import compare_runs, write_json_atomic

    res = compare_runs(run_a, run_b)

    def line(name: str, c: dict) -> str:
        lo, hi = c["ci95"]
        return (
            f"{name:<34} n={c['n']:<5} A {100 * c['accuracy_a']:5.1f}"
            f"  B {100 * c['accuracy_b']:5.1f}"
            f"  A-B {100 * c['difference']:+5.1f} [{100 * lo:+5.1f}, {100 * hi:+5.1f}]"
            f"  {c['verdict']}"
        )

    typer.echo(f"A = {res['a']['model']} ({run_a}); B = {res['b']['model']} ({run_b})")
    o = res["overall"]
    typer.echo(line("overall", o) + f"  ({o['clusters']} scene clusters)")
    for t, c in res["by_type"].items():
        typer.echo(line(t, c))
    if "note" in res:
        typer.echo(res["note"], err=True)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out, res)
        typer.echo(f"wrote {out}")


def benchmarks_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print the registry as JSON.")] = False,
) -> None:
    """List the public benchmarks crossview reads: the layout each expects, where it is
    published, the code it was checked against and how its official overall is formed."""
    import json

    from crossview.eval.benchmarks import registry

    rows = [spec.describe() for spec in registry().values()]
    builtin = [
        {
            "name": "native",
            "title": "crossview dataset",
            "layout": "questions.jsonl written by `crossview generate` (docs/dataset-format.md)",
            "published": "this repository",
        },
        {
            "name": "crossviewer",
            "title": "CrossViewBench / CrossViewer JSONL",
            "layout": "JSONL with sample_id, question (<region>), options, answer, views",
            "published": "huggingface.co/datasets/Thinkirin/Crossview-Suite",
        },
        {
            "name": "crosspoint",
            "title": "CrossPoint-Bench",
            "layout": "CrossPoint-Bench/{CrossPoint-Bench.jsonl, image/}",
            "published": "github.com/WangYipu2002/CrossPoint",
        },
        {
            "name": "tsv",
            "title": "VLMEvalKit TSV (MMVM, All-Angles Bench)",
            "layout": "index, image (base64), question, A.., answer, category",
            "published": "VLMEvalKit dataset URLs",
        },
    ]
    if as_json:
        typer.echo(json.dumps({"public": rows, "builtin": builtin}, indent=1))
        return
    for r in rows + builtin:
        typer.echo(f"{r['name']:<12} {r['title']}")
        typer.echo(f"{'':<12} layout:    {r['layout']}")
        typer.echo(f"{'':<12} published: {r['published']}")
        if "source" in r:
            typer.echo(f"{'':<12} checked:   {r['source']}")
            typer.echo(f"{'':<12} overall:   {r['overall']}")
    typer.echo("\nEvaluate one: crossview eval --bench NAME:PATH ... (a path alone is detected)")


def suite_cmd(
    model: ModelOpt,
    benchmarks: Annotated[
        Path,
        typer.Option(
            "--benchmarks", help="Folder searched for benchmarks (public releases, our datasets)."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Suite folder (a run folder per benchmark); runs/<model>."),
    ] = None,
    coord_format: CoordOpt = _E.coord_format,
    concurrency: ConcurrencyOpt = _B.concurrency,
    limit: LimitOpt = _E.limit,
    circular: CircularOpt = _E.circular,
    base_url: BaseUrlOpt = _B.base_url,
    api_key_env: KeyEnvOpt = _B.api_key_env,
    timeout: TimeoutOpt = _B.timeout_s,
    retries: RetriesOpt = _B.retries,
    max_tokens: MaxTokensOpt = _B.max_tokens,
    batch_size: BatchOpt = _B.batch_size,
    workers: WorkersOpt = _B.workers,
    max_images: MaxImagesOpt = _B.max_images,
    seed: SeedOpt = _E.seed,
    cache: CacheOpt = _E.cache,
) -> None:
    """Evaluate one model on every benchmark under a folder; write suite.md / suite.json.

    Each benchmark is run as `crossview eval` runs it (its own prompt and official score for
    public benchmarks), into OUT/<benchmark>/, resumed when that run exists; a benchmark that
    fails is reported and the others still run.
    """
    import re

    from crossview.eval.suite import run_suite

    if out is None:
        out = Path("runs") / re.sub(r"[^A-Za-z0-9_.-]+", "_", model)
    settings = BackendSettings(
        base_url=base_url,
        api_key_env=api_key_env,
        concurrency=concurrency,
        timeout_s=timeout,
        retries=retries,
        max_tokens=max_tokens,
        batch_size=batch_size,
        workers=workers,
        max_images=max_images,
    )
    cfg = EvalConfig(
        bench=benchmarks,
        model=model,
        out=out,
        coord_format=coord_format,
        limit=limit,
        circular=circular,
        seed=seed,
        cache=cache,
        backend=settings,
    )
    from crossview.progress import progress_callback

    class _Progress:
        def __init__(self) -> None:
            self.ctx = None

        def __call__(self, slug: str):
            if self.ctx is not None:
                self.ctx.__exit__(None, None, None)
            self.ctx = progress_callback(f"{model} on {slug}")
            return self.ctx.__enter__()

        def close(self) -> None:
            if self.ctx is not None:
                self.ctx.__exit__(None, None, None)

    prog = _Progress()
    try:
        result = run_suite(cfg, benchmarks, progress=prog)
    finally:
        prog.close()
    bad = 0
    for r in result["benchmarks"]:
        if r["status"] == "error":
            bad += 1
            typer.echo(f"{r['benchmark']:<28} error: {r['error']}", err=True)
            continue
        off = r.get("official")
        official = f"official {100 * off['overall']:5.1f}  " if off else " " * 16
        typer.echo(
            f"{r['benchmark']:<28} n={r['n']:<6} {official}crossview {100 * r['accuracy']:5.1f}"
            f"  {r['status']}"
        )
        bad += r["status"] != "complete"
    typer.echo(f"wrote {out / 'suite.md'} and {out / 'suite.json'}")
    if bad:
        raise typer.Exit(1)
