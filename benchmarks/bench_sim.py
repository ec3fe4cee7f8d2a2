"""Simulator speed: seconds per scene-timestep and scenes per minute (prints figures).

    MUJOCO_GL=egl python benchmarks/bench_sim.py [--size 640x480] [--scenes 4] [--timesteps 2]

Part 1 simulates one 5-camera, 8-object scene in this process, with every pass (RGB with
shadows, depth + segmentation, amodal masks), and prints seconds per scene-timestep with a
breakdown per stage (the GL context and model creation count as "setup"). Part 2 runs
``run_sim`` with 1 and then 2 worker processes and prints scenes per minute and their ratio.
Not a timed test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from crossview.sources.sim.commands import parse_size
from crossview.sources.sim.config import SimConfig
from crossview.sources.sim.episode import Timings, simulate_scene
from crossview.sources.sim.runner import run_sim


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--scenes", type=int, default=4, help="scenes per run in part 2")
    ap.add_argument("--timesteps", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    w, h = parse_size(args.size)
    cfg = SimConfig(cameras=5, objects=(8, 8), timesteps=args.timesteps, width=w, height=h)

    simulate_scene(SimConfig(width=64, height=48), args.seed, 999)  # warm up GL and imports
    tm = Timings()
    start = time.perf_counter()
    scene = simulate_scene(cfg, args.seed, 0, tm)
    total = time.perf_counter() - start
    steps = cfg.timesteps
    print(f"one scene, {len(scene.instances)} objects, {cfg.cameras} cameras, {w}x{h}, T={steps}")
    print(f"  seconds per scene-timestep: {total / steps:.3f}  (scene total {total:.2f} s)")
    for name in ("physics", "rgb", "depth_seg", "amodal", "other"):
        sec = getattr(tm, name)
        print(f"    {name:10s} {sec / steps:.3f} s/timestep")
    print(f"  render passes: {tm.passes}")

    rates = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            s = run_sim(
                tmp, cfg, scenes=args.scenes, seed=args.seed, workers=workers, progress=False
            )
        rates[workers] = len(s.written) / s.seconds * 60.0
        print(f"  --workers {workers}: {rates[workers]:.1f} scenes/minute ({s.seconds:.1f} s)")
    print(f"  speed-up with 2 workers: {rates[2] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
