"""``crossview generate``: a plain function with a typer-annotated signature (cli.py registers it).

Importing this module stays light: the engine loads when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crossview.engine.config import GenerateConfig
from crossview.errors import BadInputError
from crossview.executors import ExecutorOption, WorkersOption

_D = GenerateConfig()


def _floats(text: str, name: str, n: int) -> tuple[float, ...]:
    try:
        vals = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise BadInputError(
            f"expected {n} comma-separated numbers, got {text!r}", field=name
        ) from None
    if len(vals) != n:
        raise BadInputError(f"expected {n} comma-separated numbers, got {text!r}", field=name)
    return vals


def _holdout(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in ("color", "shape", "source", "rig") or not value:
            raise BadInputError(
                f"expected KEY=VALUE with KEY in color, shape, source, rig; got {item!r}",
                field="holdout",
            )
        out[key] = value
    return out


def generate_cmd(
    scenes: Annotated[
        Path, typer.Option(help="Scene store to read (from `crossview sim` or `crossview import`).")
    ],
    out: Annotated[Path, typer.Option(help="Dataset folder to write.")],
    family: Annotated[
        str, typer.Option(help="Question family: crossview, xvr, crosspoint or all.")
    ] = _D.family,
    tasks: Annotated[
        str | None,
        typer.Option(help="Comma-separated question types (e.g. Q1,Q5); overrides --family."),
    ] = None,
    per_task: Annotated[int, typer.Option(help="Multiple-choice items per type.")] = _D.per_task,
    seed: Annotated[
        int, typer.Option(help="Seed; the same store and seed give the same dataset.")
    ] = _D.seed,
    splits: Annotated[
        str, typer.Option(help="Train,val,test fractions of scene groups.")
    ] = ",".join(str(x) for x in _D.splits),
    open_ended_fraction: Annotated[
        float, typer.Option(help="Fraction of items that also get an open-ended variant.")
    ] = _D.open_ended_fraction,
    holdout: Annotated[
        list[str] | None,
        typer.Option(
            help="Held-out value for a test_ood "
            "split, KEY=VALUE with KEY in color, "
            "shape, source, rig; repeatable."
        ),
    ] = None,
    paraphrases: Annotated[
        bool,
        typer.Option(
            help="Also write each question in its type's other phrasings (for "
            "crossview eval --consistency)."
        ),
    ] = _D.paraphrases,
    workers: WorkersOption = None,
    executor: ExecutorOption = "local",
    verify: Annotated[
        bool,
        typer.Option(
            help="Run the oracle and the shortcut audit on the result; exit 1 unless the "
            "oracle scores 100% and no shortcut beats chance."
        ),
    ] = False,
) -> None:
    """Turn a scene store into a question dataset (questions.jsonl, images, manifest, card)."""
    from rich.console import Console
    from rich.table import Table

    from crossview.engine.oracle import verify_dataset
    from crossview.engine.pipeline import generate

    config = GenerateConfig(
        family=family,
        tasks=[t.strip() for t in tasks.split(",") if t.strip()] if tasks else None,
        per_task=per_task,
        seed=seed,
        splits=_floats(splits, "splits", 3),  # type: ignore[arg-type]
        open_ended_fraction=open_ended_fraction,
        holdout=_holdout(holdout or []),
        paraphrases=paraphrases,
    )
    try:
        config.task_ids()
    except KeyError as exc:
        raise BadInputError(str(exc.args[0]), field="tasks" if tasks else "family") from None
    console = Console(stderr=True)
    n_workers = workers if workers is not None else (1 if executor == "local" else 0)
    report = generate(scenes, out, config, workers=n_workers, executor=executor)
    for sid, why in sorted(report.skipped_scenes.items()):
        console.print(f"[yellow]skipped scene {sid}:[/yellow] {why}", highlight=False)
    table = Table(title=f"{report.records} questions in {out}")
    table.add_column("type")
    table.add_column("items", justify="right")
    table.add_column("dropped", justify="right")
    for t, n in report.by_type.items():
        table.add_row(t, str(n), str(sum(report.dropped.get(t, {}).values())))
    Console().print(table)
    typer.echo("splits: " + ", ".join(f"{k} {v}" for k, v in report.by_split.items()))
    if report.shortfall:
        typer.echo("below quota: " + ", ".join(f"{t} -{n}" for t, n in report.shortfall.items()))
    if verify:
        o = verify_dataset(out, scenes)
        typer.echo(f"oracle: {o.correct}/{o.total} = {100 * o.accuracy:.1f}%")
        for f in o.failures[:20]:
            typer.echo(
                f"  oracle disagrees on {f['sample_id']}: stored {f['stored']}, "
                f"oracle {f['oracle']}"
            )
        from crossview.engine.audit_commands import run_audit

        clean = run_audit(out)
        if o.correct != o.total or not clean:
            raise typer.Exit(1)
