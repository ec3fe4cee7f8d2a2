"""Run independent per-scene jobs in this process, a local process pool, or on a Ray cluster.

Every job of the engine and the simulator is a pure function of its arguments (a scene folder,
a config, a seed): it reads files, writes files keyed by its scene, and returns a value. So the
executor decides only *where* jobs run, never *what* they produce, and results are gathered in
job order: the same inputs and seed give the same bytes out with any executor.

``ray``: ``ray.init(address=$RAY_ADDRESS or None)`` joins a running cluster when ``RAY_ADDRESS``
is set (``ray start --head`` on the head node) and starts a local instance otherwise. Ray is
left running after the jobs (a command runs two stages; a second ``ray.init`` would cost
seconds); it stops with the process. Input and output folders must be on storage that every
node sees (docs/scale-out.md).

A :class:`~crossview.errors.CrossviewError` raised inside a Ray task reaches the caller as the
same exception with the same message, not as a Ray traceback: a user's bad data is reported as
it is locally.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from crossview.errors import BadInputError, CrossviewError, require

EXECUTORS = ("local", "ray")
# environment a worker on another node needs to behave like a local one (headless GL backend)
_FORWARD_ENV = ("MUJOCO_GL", "PYOPENGL_PLATFORM", "EGL_DEVICE_ID")


def check_executor(executor: str) -> str:
    """Return ``executor`` when it is known; BadInputError listing the valid names otherwise."""
    if executor not in EXECUTORS:
        raise BadInputError(
            f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}", field="executor"
        )
    return executor


def run_jobs(
    fn: Callable[[Any], Any],
    jobs: Sequence[Any],
    *,
    executor: str = "local",
    workers: int = 1,
    label: str = "working",
    progress: bool = True,
    mp_context: str | None = None,
) -> list[Any]:
    """Apply ``fn`` to every job and return the results in job order, with a progress bar.

    Args:
        fn: a module-level function of one argument (it is pickled by reference).
        jobs: picklable arguments, one per job (for the engine: one per scene).
        executor: ``local`` (this process when ``workers <= 1``, else a process pool) or
            ``ray`` (one Ray task per job).
        workers: local: processes; ray: most tasks in flight at once (``<= 0``: no limit,
            the cluster's free CPUs decide).
        label: the progress bar's description.
        progress: show the progress bar.
        mp_context: start method of the local pool (``spawn`` where a forked child must not
            inherit a parent's GL state); None for the platform default.

    Raises:
        BadInputError: an unknown executor; and whatever a job raises.
        MissingExtraError: ``ray`` requested but not installed.
    """
    check_executor(executor)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    jobs = list(jobs)
    cols = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*cols, transient=False, disable=not (jobs and progress)) as bar:
        task = bar.add_task(label, total=len(jobs))

        def advance() -> None:
            bar.advance(task)

        if executor == "ray" and jobs:
            return _run_ray(fn, jobs, workers, advance)
        if workers <= 1 or len(jobs) <= 1:
            results = []
            for j in jobs:
                results.append(fn(j))
                advance()
            return results
        ctx = multiprocessing.get_context(mp_context) if mp_context else None
        results = []
        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=ctx) as pool:
            for r in pool.map(fn, jobs):
                results.append(r)
                advance()
        return results


# ------------------------------------------------------------------------------ Ray


@dataclass
class _Raised:
    """A CrossviewError caught inside a Ray task, carried back to be raised again unchanged.

    The exception travels as its class and attribute dict: some of our exceptions take
    keyword-only or several arguments, which plain exception pickling loses.
    """

    cls: type[BaseException]
    args: tuple
    state: dict[str, Any]

    def rebuild(self) -> BaseException:
        exc = self.cls.__new__(self.cls)
        BaseException.__init__(exc, *self.args)
        exc.__dict__.update(self.state)
        return exc


def _call(fn: Callable[[Any], Any], job: Any) -> Any:
    """The body of a Ray task: run one job; a CrossviewError comes back as a value."""
    try:
        return fn(job)
    except CrossviewError as exc:
        return _Raised(type(exc), exc.args, dict(exc.__dict__))


def ray_init() -> Any:
    """Import Ray and connect: to ``$RAY_ADDRESS`` when set, else a local instance.

    Does nothing when Ray is already initialised in this process (a test fixture, a notebook,
    an earlier stage). Returns the ``ray`` module.
    """
    ray = require("ray", "ray", "the ray executor")
    if not ray.is_initialized():
        env = {k: os.environ[k] for k in _FORWARD_ENV if os.environ.get(k)}
        with warnings.catch_warnings():  # a GPU tip about a future default; we ask for no GPU
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"ray\.")
            ray.init(
                address=os.environ.get("RAY_ADDRESS") or None,
                include_dashboard=False,
                runtime_env={"env_vars": env} if env else None,
                log_to_driver=True,
            )
    return ray


def _run_ray(
    fn: Callable[[Any], Any], jobs: list[Any], workers: int, advance: Callable[[], None]
) -> list[Any]:
    ray = ray_init()
    remote = ray.remote(num_cpus=1, max_retries=2)(_call)
    fn_ref = ray.put(fn)
    limit = workers if workers > 0 else len(jobs)
    results: list[Any] = [None] * len(jobs)
    pending: dict[Any, int] = {}
    nxt = 0
    try:
        while nxt < len(jobs) or pending:
            while nxt < len(jobs) and len(pending) < limit:
                pending[remote.remote(fn_ref, jobs[nxt])] = nxt
                nxt += 1
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                r = ray.get(ref)
                if isinstance(r, _Raised):
                    raise r.rebuild()
                results[pending.pop(ref)] = r
                advance()
    finally:
        for ref in pending:  # a job failed: stop the rest instead of leaving them running
            ray.cancel(ref)
    return results


# CLI options shared by every command that runs per-scene jobs (sim, generate)
WorkersOption = Annotated[
    int | None,
    typer.Option(
        help="local: processes working in parallel (default 1); ray: most tasks in flight at "
        "once (default: as many as the cluster runs)."
    ),
]
ExecutorOption = Annotated[
    str,
    typer.Option(
        help="Where jobs run: local (this machine) or ray (a Ray cluster at $RAY_ADDRESS, else "
        "a local Ray instance; needs the ray extra). Same output for the same seed."
    ),
]
