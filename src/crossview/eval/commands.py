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


def eval_cmd(
    bench: Annotated[
        Path,
        typer.Option(
            "--bench",
            help="Benchmark file: native questions.jsonl, "
            "CrossViewer / CrossPoint-Bench JSONL, or VLMEvalKit TSV.",
        ),
    ],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="KIND:ARG, e.g. openai:gpt-4o, hf:PATH, "
            "vllm:PATH, replay:FILE.jsonl, random, oracle.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Run folder (predictions, summary).")],
    protocol: Annotated[
        str | None,
        typer.Option(
            "--protocol",
            help="auto | overlay | region | marker (native datasets; auto: each item's overlay "
            "or marker protocol, else region).",
        ),
    ] = _E.protocol,
    fmt: Annotated[
        str, typer.Option("--format", help="auto | native | crossviewer | crosspoint | tsv.")
    ] = _E.fmt,
    coord_format: Annotated[
        str,
        typer.Option("--coord-format", help="Point answers: absolute | relative | relative-1000."),
    ] = _E.coord_format,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="Requests in flight (openai).")
    ] = _B.concurrency,
    limit: Annotated[
        int | None, typer.Option("--limit", help="Only the first N items.")
    ] = _E.limit,
    circular: Annotated[
        bool, typer.Option("--circular", help="Also ask every rotation of the options.")
    ] = _E.circular,
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
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="OpenAI-compatible server URL (openai).")
    ] = _B.base_url,
    api_key_env: Annotated[
        str, typer.Option("--api-key-env", help="Environment variable holding the API key.")
    ] = _B.api_key_env,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds per request.")
    ] = _B.timeout_s,
    retries: Annotated[
        int, typer.Option("--retries", help="Retries on 429, 5xx and connection errors.")
    ] = _B.retries,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", help="Tokens per answer.")
    ] = _B.max_tokens,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Batch size (hf, vllm).")
    ] = _B.batch_size,
    workers: Annotated[
        int, typer.Option("--workers", help="Processes for CPU-bound local backends (classical).")
    ] = _B.workers,
    max_images: Annotated[
        int | None,
        typer.Option(
            "--max-images", help="Images the model accepts per prompt (fail if exceeded)."
        ),
    ] = _B.max_images,
    seed: Annotated[int, typer.Option("--seed", help="Seed (random baseline).")] = _E.seed,
    allow_root: Annotated[
        list[Path] | None,
        typer.Option("--allow-root", help="Extra folder image paths may point into."),
    ] = None,
    cache: Annotated[
        bool,
        typer.Option(
            "--cache/--no-cache",
            help="Keep results keyed by image content (classical: features, matches) in "
            "<folder of --out>/.crossview-cache, shared by runs there; never changes an answer.",
        ),
    ] = _E.cache,
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
