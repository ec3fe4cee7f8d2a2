"""Simulator speed: seconds per scene-timestep and scenes per minute (prints figures).

    MUJOCO_GL=egl python benchmarks/bench_sim.py [--size 640x480] [--scenes 4] [--timesteps 2]

Part 1 simulates one 5-camera, 8-object scene in this process, with every pass (RGB with
shadows, depth + segmentation, amodal masks), and prints seconds per scene-timestep with a
breakdown per stage (the GL context and model creation count as "setup"). It then measures the
floor in the same run: the raw MuJoCo passes alone (``mjv_updateScene`` + ``mjr_render`` +
``mjr_readPixels``, nothing done with the pixels) on the same model, as many of each kind as the
scene needed, and prints the ratio of the simulator's time to that sum. Part 2 runs
``run_sim`` with 1 and then 2 worker processes and prints scenes per minute and their ratio.
Not a timed test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from crossview.sources.sim.commands import parse_size
from crossview.sources.sim.config import SimConfig
from crossview.sources.sim.episode import Timings, _Sim, simulate_scene, world_for
from crossview.sources.sim.render import SceneRenderer
from crossview.sources.sim.runner import run_sim


def raw_pass_seconds(cfg: SimConfig, seed: int, index: int, repeats: int = 3) -> dict[str, float]:
    """Seconds of one raw MuJoCo pass of each kind, averaged over the scene's cameras.

    The same model, cameras and flags as the simulator; only update, render and read-back are
    timed: "rgb" (shadows on), "depth_seg" (segmentation colours + depth buffer), "amodal"
    (segmentation with one object drawn, colours only) and "beyond" (the same on the padded
    grid, at the renderer's largest pad)."""
    world, _ = world_for(cfg, seed, index)
    sim = _Sim(cfg, world)
    sim.settle()
    mj = sim.mj
    r = SceneRenderer(sim.model, cfg.width, cfg.height, shadows=cfg.shadows)
    cams = [mj.mj_name2id(sim.model, mj.mjtObj.mjOBJ_CAMERA, c.name) for c in world.rig.cameras]
    flags = r._scene.flags
    F = mj.mjtRndFlag

    def render(cam: int, seg: bool, rect, rgb, depth, shadows: bool = False) -> None:
        r._cam.fixedcamid = int(cam)
        mj.mjv_updateScene(
            sim.model, sim.data, r._opt, None, r._cam, mj.mjtCatBit.mjCAT_ALL, r._scene
        )
        flags[F.mjRND_SHADOW] = shadows
        flags[F.mjRND_SEGMENT] = seg
        flags[F.mjRND_IDCOLOR] = seg
        mj.mjr_render(rect, r._scene, r._ctx)
        mj.mjr_readPixels(rgb, depth, rect, r._ctx)

    h, w, pad = cfg.height, cfg.width, r.max_pad
    big = mj.MjrRect(0, 0, w + 2 * pad, h + 2 * pad)
    big_rgb = np.empty((h + 2 * pad, w + 2 * pad, 3), dtype=np.uint8)
    kinds = {
        "rgb": lambda c: render(c, False, r._rect, r._rgb, None, shadows=cfg.shadows),
        "depth_seg": lambda c: render(c, True, r._rect, r._rgb, r._zbuf),
        "amodal": lambda c: render(c, True, r._rect, r._rgb, None),
        "beyond": lambda c: render(c, True, big, big_rgb, None),
    }
    one_geom = np.array([sim.geom[sim.track_ids[0]]])
    out: dict[str, float] = {}
    try:
        r._gl.make_current()
        for name, fn in kinds.items():
            hide = name in ("amodal", "beyond")
            if hide:
                sim.model.geom_group[:] = 5
                sim.model.geom_group[one_geom] = 0
            fn(cams[0])  # warm up this pass's GL state
            start = time.perf_counter()
            for _ in range(repeats):
                for c in cams:
                    fn(c)
            out[name] = (time.perf_counter() - start) / (repeats * len(cams))
            if hide:
                sim.model.geom_group[:] = r._original_groups
    finally:
        r.close()
    return out


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
    raw = raw_pass_seconds(cfg, args.seed, 0)
    floor = sum(raw[k] * n for k, n in tm.passes.items()) / steps
    print(
        "  raw MuJoCo pass (update + render + read back), ms: "
        + ", ".join(f"{k} {v * 1e3:.1f}" for k, v in raw.items())
    )
    print(
        f"  floor (raw passes x counts): {floor:.3f} s/timestep; simulator / floor "
        f"{total / steps / floor:.2f}; target <= 0.5 s/timestep: "
        f"{'met' if total / steps <= 0.5 else 'NOT met'} (ratio {total / steps / 0.5:.2f})"
    )

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
