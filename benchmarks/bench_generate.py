"""Questions per second per core of ``crossview generate``, per family, and where the time goes.

Simulates a small store (or reuses one), generates each family with overlay / marker rendering
and image writing in one process, and prints per family: questions/s/core against the target
(>= 150), the stage times, the share of the wall time spent encoding images, and the top
functions of a profile. It then times the two PNG encoders on the images just written
(OpenCV, which the store uses, and Pillow at the same zlib level) so that the gain of the
faster encoder is measured, not assumed.

    MUJOCO_GL=egl python benchmarks/bench_generate.py [--scenes 8] [--per-task 100] \
        [--size 320x240] [--family crossview,xvr,crosspoint]
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

import numpy as np
from PIL import Image

from crossview.engine.config import GenerateConfig
from crossview.engine.pipeline import generate
from crossview.scene import store as scene_store

TARGET = 150.0


def _cumulative(prof: cProfile.Profile, func_name: str, file_part: str) -> float:
    """Cumulative seconds of the profiled function ``func_name`` defined in a file containing
    ``file_part``."""
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = 0.0
    for (file, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.items():
        if name == func_name and file_part in file:
            total += ct
    return total


def encoder_comparison(images: list[Path], repeats: int = 2) -> tuple[float, float, int, int]:
    """ms per image and bytes per image of OpenCV's PNG writer (level 1, RLE; the store's) and
    Pillow's (level 1) on the same RGB arrays."""
    arrays = [np.asarray(Image.open(p).convert("RGB")) for p in images]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "x.png"
        t = time.perf_counter()
        size_cv = 0
        for _ in range(repeats):
            for a in arrays:
                scene_store.save_image(out, a)
                size_cv += out.stat().st_size
        cv_ms = (time.perf_counter() - t) / (repeats * len(arrays)) * 1e3
        t = time.perf_counter()
        size_pil = 0
        for _ in range(repeats):
            for a in arrays:
                Image.fromarray(a).save(out, compress_level=1)
                size_pil += out.stat().st_size
        pil_ms = (time.perf_counter() - t) / (repeats * len(arrays)) * 1e3
    n = repeats * len(arrays)
    return cv_ms, pil_ms, size_cv // n, size_pil // n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenes", type=int, default=8)
    ap.add_argument("--per-task", type=int, default=100)
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--store", type=Path, default=None, help="reuse an existing scene store")
    ap.add_argument("--family", default="crossview,xvr,crosspoint", help="comma-separated")
    ap.add_argument("--profile-lines", type=int, default=25)
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
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    rows = []
    written: list[Path] = []
    for family in args.family.split(","):
        cfg = GenerateConfig(family=family, per_task=args.per_task)
        prof = cProfile.Profile()
        t = time.perf_counter()
        prof.enable()
        report = generate(store, work / f"ds-{family}", cfg, workers=1)
        prof.disable()
        total = time.perf_counter() - t
        n = report.records
        encode = _cumulative(prof, "save_image", "scene/store.py")
        rate = n / total
        rows.append((family, n, len(report.by_type), total, rate, encode))
        print(f"\n== {family}: {n} questions ({len(report.by_type)} types), wall {total:.2f} s")
        print(
            f"questions per second per core: {rate:.1f}   (target >= {TARGET:.0f}: "
            f"{'met' if rate >= TARGET else 'NOT met'}, ratio {rate / TARGET:.2f})"
        )
        print("stage seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in report.seconds.items()))
        print(f"image encoding + writing: {encode:.2f} s ({encode / total:.0%} of wall)")
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(args.profile_lines)
        print("profile (own time, top entries):")
        lines = s.getvalue().splitlines()
        start = next((i for i, ln in enumerate(lines) if "ncalls" in ln), 0)
        print("\n".join(lines[start : start + args.profile_lines + 1]))
        written += sorted((work / f"ds-{family}").rglob("*.png"))[:40]
    print("\nsummary")
    print(
        "| family | questions | types | wall s | questions/s/core | target 150 | encoding share |"
    )
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: |")
    for family, n, types, total, rate, encode in rows:
        met = "met" if rate >= TARGET else "not met"
        print(
            f"| {family} | {n} | {types} | {total:.1f} | {rate:.1f} | {met} ({rate / TARGET:.2f}x)"
            f" | {encode / total:.0%} |"
        )
    if written:
        cv_ms, pil_ms, cv_b, pil_b = encoder_comparison(written)
        print(
            f"\nPNG encoders on {len(written)} written images: OpenCV level 1 + RLE {cv_ms:.2f} ms"
            f" ({cv_b / 1024:.0f} KiB), Pillow level 1 {pil_ms:.2f} ms ({pil_b / 1024:.0f} KiB);"
            f" OpenCV / Pillow time {cv_ms / pil_ms:.2f}"
        )
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
