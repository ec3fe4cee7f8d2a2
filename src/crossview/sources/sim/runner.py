"""Run the simulator over many scenes into a scene store: resumable, optionally in parallel.

Scene ``i`` of a run is fully determined by ``(config, seed, i)`` (see
:mod:`crossview.sources.sim.episode`), so runs with any number of workers write the same
scenes, and a run that stopped half-way resumes by skipping the scenes already in the store.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from crossview.errors import BadInputError
from crossview.executors import check_executor, run_jobs
from crossview.scene.store import is_scene_dir, write_scene
from crossview.sources.sim.config import DEFAULT_SCENES, SimConfig
from crossview.sources.sim.episode import scene_id_for, simulate_scene


@dataclass
class SimSummary:
    """What a run did.

    Attributes:
        out: the store folder.
        written: ids of the scenes simulated and written by this run.
        skipped: ids of the scenes that were already in the store.
        seconds: wall-clock time of the run.
    """

    out: Path
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _make_scene(config: SimConfig, seed: int, index: int, out: str, overwrite: bool) -> str:
    """Simulate scene ``index`` and write it; runs in a worker process or in this one."""
    scene = simulate_scene(config, seed, index)
    write_scene(scene, out, overwrite=overwrite)
    return scene.scene_id


def _scene_job(args: tuple[SimConfig, int, int, str, bool]) -> str:
    """One job of :func:`run_sim` (a local process, a pool worker or a Ray task)."""
    return _make_scene(*args)


def run_sim(
    out: str | Path,
    config: SimConfig | None = None,
    scenes: int = DEFAULT_SCENES,
    seed: int = 0,
    workers: int = 1,
    *,
    overwrite: bool = False,
    progress: bool = True,
    executor: str = "local",
) -> SimSummary:
    """Simulate ``scenes`` scenes into the store ``out`` and return what was done.

    Args:
        out: store folder (created when missing).
        config: simulator configuration (defaults of :class:`SimConfig` when None).
        scenes: number of scenes; scene ids are ``sim_<seed>_<index:05d>``.
        seed: the run's seed; the same seed gives the same scenes.
        workers: local: processes rendering in parallel (each scene is rendered in one
            process); ray: most scenes in flight at once (``<= 0``: no limit).
        overwrite: re-simulate scenes already in the store instead of skipping them.
        progress: show a progress bar.
        executor: ``local`` (this process or a process pool) or ``ray`` (one task per scene,
            on a cluster when ``RAY_ADDRESS`` is set); the same scenes either way.
    """
    config = config or SimConfig()
    if scenes < 0:
        raise BadInputError(f"scenes must be >= 0, got {scenes}", field="scenes")
    check_executor(executor)
    if workers < 1 and executor == "local":
        raise BadInputError(f"workers must be >= 1, got {workers}", field="workers")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BadInputError("output exists and is not a folder", file=out)
    out.mkdir(parents=True, exist_ok=True)
    summary = SimSummary(out=out)
    start = time.perf_counter()
    todo = []
    for i in range(scenes):
        sid = scene_id_for(seed, i)
        if is_scene_dir(out / sid) and not overwrite:
            summary.skipped.append(sid)
        else:
            todo.append(i)

    # spawn: a forked child must not inherit a parent's GL or EGL state
    jobs = [(config, seed, i, str(out), overwrite) for i in todo]
    summary.written.extend(
        run_jobs(
            _scene_job,
            jobs,
            executor=executor,
            workers=workers,
            label="sim",
            progress=progress,
            mp_context="spawn",
        )
    )
    summary.written.sort()
    summary.seconds = time.perf_counter() - start
    return summary
