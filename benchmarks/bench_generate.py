"""Questions per second of ``crossview generate`` for the CrossView family, and where the time goes.

Simulates a small store (or reuses one), generates the whole family with overlay rendering and
image writing in one process, and prints questions/s/core with a per-stage breakdown and the
top functions of a profile. Target: >= 50 questions per second per core.

    MUJOCO_GL=egl python benchmarks/bench_generate.py [--scenes 8] [--per-task 100] [--size 320x240]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import shutil
import tempfile
import time
from pathlib import Path

from crossview.engine.config import GenerateConfig
from crossview.engine.pipeline import generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenes", type=int, default=8)
    ap.add_argument("--per-task", type=int, default=100)
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--store", type=Path, default=None, help="reuse an existing scene store")
    ap.add_argument("--family", default="crossview")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cv-bench-"))
    store = args.store
    if store is None:
        from crossview.sources.sim.config import SimConfig
        from crossview.sources.sim.runner import run_sim

        w, h = (int(x) for x in args.size.split("x"))
        store = work / "store"
        t = time.perf_counter()
        run_sim(
            store,
            SimConfig(cameras=5, objects=(6, 8), width=w, height=h),
            scenes=args.scenes,
            seed=0,
            progress=False,
        )
        print(f"simulated {args.scenes} scenes at {args.size} in {time.perf_counter() - t:.1f} s")
    cfg = GenerateConfig(family=args.family, per_task=args.per_task)
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    report = generate(store, work / "ds", cfg, workers=1)
    prof.disable()
    total = time.perf_counter() - t
    n = report.records
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}"
    )
    print(f"questions: {n} ({len(report.by_type)} types), wall {total:.2f} s, one process")
    print(
        f"questions per second per core: {n / total:.1f}   (target >= 50: "
        f"{'met' if n / total >= 50 else 'NOT met'}, ratio {n / total / 50:.2f})"
    )
    print("stage seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in report.seconds.items()))
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(18)
    print("\nprofile (cumulative, top entries):")
    print("\n".join(s.getvalue().splitlines()[:45]))
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
