"""``crossview quickstart``: the main job, end to end, on the embedded defaults.

Simulates a small set of multi-camera scenes, generates a benchmark covering every family
(CrossView, XVR, CrossPoint), evaluates the built-in baselines (random, oracle, and the
classical-vision solver when available) and an optional model, and writes the report. Every
step skips work already done, so a second run (or one after an interruption) is quick.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from crossview.errors import BadInputError


@dataclass
class QuickstartConfig:
    """Sizes of the quickstart; defaults fit in a few minutes on 2 CPU cores."""

    scenes: int = 8
    """Simulated scenes (2 scenarios per camera rig)."""
    cameras: int = 5
    """Cameras per scene, the last one on the robot's wrist."""
    size: tuple[int, int] = (320, 240)
    """Image width and height in pixels."""
    per_task: int = 30
    """Multiple-choice items per question type (29 types)."""
    seed: int = 0
    """Seed of the simulator, the generator and the random baseline."""
    workers: int = 2
    """Processes for simulation and generation."""
    baselines: tuple[str, ...] = ("random", "oracle", "classical")
    """Built-in backends evaluated on the benchmark (those not installed are skipped)."""


@dataclass
class QuickstartResult:
    out: Path
    scenes: Path
    dataset: Path
    runs: dict[str, Path] = field(default_factory=dict)
    report_md: Path | None = None
    report_html: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def _available(kind: str) -> bool:
    from crossview.eval.backends import available

    return kind in available()


def quickstart(
    out: str | Path, model: str | None = None, config: QuickstartConfig | None = None
) -> QuickstartResult:
    """Run the whole pipeline into ``out`` (scenes/, dataset/, runs/<name>/, report/)."""
    from rich.console import Console

    from crossview.engine.config import GenerateConfig
    from crossview.engine.oracle import verify_dataset
    from crossview.engine.pipeline import generate
    from crossview.eval.backends import BackendSettings
    from crossview.eval.report import write_report
    from crossview.eval.runner import EvalConfig, run_eval
    from crossview.progress import progress_callback
    from crossview.sources.sim.config import SimConfig
    from crossview.sources.sim.runner import run_sim

    cfg = config or QuickstartConfig()
    out = Path(out)
    console = Console(stderr=True)
    res = QuickstartResult(out, out / "scenes", out / "dataset")
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        res.seconds[name] = now - clock
        clock = now

    console.rule("[bold]1/4 simulate scenes")
    w, h = cfg.size
    run_sim(
        res.scenes,
        SimConfig(cameras=cfg.cameras, width=w, height=h),
        scenes=cfg.scenes,
        seed=cfg.seed,
        workers=cfg.workers,
    )
    lap("simulate")

    console.rule("[bold]2/4 generate the benchmark (every family)")
    gen_cfg = GenerateConfig(
        family="all", per_task=cfg.per_task, seed=cfg.seed, open_ended_fraction=0.0
    )
    rep = generate(res.scenes, res.dataset, gen_cfg, workers=cfg.workers)
    oracle_check = verify_dataset(res.dataset, res.scenes)
    if oracle_check.correct != oracle_check.total:
        raise RuntimeError(
            f"the oracle disagrees with {oracle_check.total - oracle_check.correct}"
            " generated answers; this is a bug, please report it"
        )
    console.print(
        f"{rep.records} questions in {len(rep.by_type)} types; oracle check "
        f"{oracle_check.correct}/{oracle_check.total}"
    )
    lap("generate")

    console.rule("[bold]3/4 evaluate")
    bench = res.dataset / "questions.jsonl"
    models = [b for b in cfg.baselines if _available(b)]
    if model:
        models.append(model)
    for m in models:
        name = m.replace(":", "_").replace("/", "_")
        run_dir = out / "runs" / name
        resume = (run_dir / "predictions.jsonl").is_file()
        with progress_callback(f"eval {m}") as update:
            settings = BackendSettings(workers=cfg.workers)
            summary = run_eval(
                EvalConfig(
                    bench=bench,
                    model=m,
                    out=run_dir,
                    seed=cfg.seed,
                    resume=resume,
                    backend=settings,
                ),
                progress=update,
            )
        o = summary["overall"]
        console.print(f"{m}: accuracy {100 * o['accuracy']:.1f}% on {o['n']} items")
        res.runs[m] = run_dir
    lap("evaluate")

    console.rule("[bold]4/4 report")
    res.report_md, res.report_html = write_report(list(res.runs.values()), out / "report")
    lap("report")
    return res


def check_out(out: Path, overwrite: bool) -> None:
    """Refuse to mix a quickstart into a folder that holds something else."""
    if overwrite and out.exists():
        shutil.rmtree(out)
    if out.exists() and any(out.iterdir()) and not (out / "scenes").exists():
        raise BadInputError(
            "folder is not empty and holds no quickstart; choose another --out", file=out
        )


def quickstart_cmd(
    out: Annotated[Path, typer.Option(help="Folder for everything the quickstart makes.")] = Path(
        "crossview-quickstart"
    ),
    model: Annotated[
        str | None,
        typer.Option(
            help="Also evaluate this model, KIND:ARG: e.g. openai:gpt-4o (server URL from "
            "OPENAI_BASE_URL, key from OPENAI_API_KEY) or hf:Qwen/Qwen3-VL-2B-Instruct."
        ),
    ] = None,
    scenes: Annotated[int, typer.Option(help="Simulated scenes.")] = QuickstartConfig.scenes,
    per_task: Annotated[
        int, typer.Option(help="Items per question type.")
    ] = QuickstartConfig.per_task,
    workers: Annotated[int, typer.Option(help="Processes.")] = QuickstartConfig.workers,
    seed: Annotated[int, typer.Option(help="Seed of everything.")] = QuickstartConfig.seed,
    overwrite: Annotated[bool, typer.Option(help="Start again from an empty folder.")] = False,
) -> None:
    """Simulate scenes, generate a benchmark of every family, evaluate baselines, report."""
    from rich.console import Console

    check_out(out, overwrite)
    res = quickstart(
        out, model, QuickstartConfig(scenes=scenes, per_task=per_task, workers=workers, seed=seed)
    )
    total = sum(res.seconds.values())
    c = Console()
    c.rule("[bold green]done")
    c.print(
        f"in {total:.0f} s (" + ", ".join(f"{k} {v:.0f} s" for k, v in res.seconds.items()) + ")"
    )
    # plain echo: paths and the table must not be wrapped at the terminal width
    typer.echo(res.report_md.read_text(encoding="utf-8"))
    first_scene = next(iter(sorted(res.scenes.iterdir())))
    typer.echo("Where to look:")
    typer.echo(f"  report     {res.report_html}  (open in a browser; also {res.report_md.name})")
    typer.echo(
        f"  questions  {res.dataset / 'questions.jsonl'}  (card: {res.dataset / 'README.md'})"
    )
    typer.echo(
        f"  scenes     {res.scenes}  (look at one: crossview show {first_scene} --out sheet.png)"
    )
    typer.echo(f"  runs       {out / 'runs'}  (predictions.jsonl and summary.json per model)")
