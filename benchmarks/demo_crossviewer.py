"""CPU demonstration: CrossViewer retrieval top-1 before and after training, with/without SupCon.

What it does (the paper's Fig. 4(c) experiment in miniature; 20.5% -> 52.7% there):

1. renders a store of toy scenes (exact ray-cast coloured balls, 4 cameras; crossview.sources.toy)
   and generates the correspondence question types Q1-Q5 with the question engine;
2. builds a tiny randomly initialised Qwen3-VL offline (crossview.model.testing). The vision
   features are therefore FROZEN RANDOM features: a 2-block random vision tower, never trained
   (CrossViewer freezes the vision tower, as in the paper); only ART, OCVA, the contrastive
   head and the adapter learn;
3. measures cross-view retrieval top-1 (each object's highest-cosine object in the other view
   has its track id) on the held-out split before training, then trains two models with
   ``crossview.model.train`` (full losses; ``use_supcon=False``) and measures again.

Run (not in CI; a few minutes on 2 cores):

    PYTHONPATH=src python benchmarks/demo_crossviewer.py --scenes 16 --steps 80
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np


def toy_store(root: Path, n: int, seed: int) -> Path:
    from crossview.scene import write_scene
    from crossview.sources.toy import ToyCamera, ball, render_toy_scene

    rgb = {
        "red": (220, 30, 30),
        "blue": (30, 60, 220),
        "green": (30, 190, 60),
        "yellow": (230, 210, 40),
        "purple": (140, 40, 200),
        "orange": (240, 140, 20),
    }
    cams = [
        ToyCamera("fix_left", (0.8, -0.6, 0.5)),
        ToyCamera("fix_right", (-0.8, -0.6, 0.5)),
        ToyCamera("fix_center", (0.0, -0.9, 0.3)),
        ToyCamera("top", (0.0, -0.05, 1.1), f=140.0),
    ]
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        balls, placed = [], []
        while len(balls) < 5:
            r = float(rng.uniform(0.03, 0.06))
            p = rng.uniform(-0.25, 0.25, 2)
            if any(np.linalg.norm(p - q) < r + qr + 0.01 for q, qr in placed):
                continue
            placed.append((p, r))
            c = list(rgb)[int(rng.integers(len(rgb)))]
            balls.append(ball(len(balls) + 1, c, rgb[c], r, p, p))
        scene = render_toy_scene(f"toy_{i:03d}", balls, cams, 128, 96, rig_id=f"rig_{i:03d}")
        write_scene(scene, root)
    return root


def retrieval_top1(model, processor, examples, batch_size: int = 4) -> float:
    """Top-1 over every object that has a counterpart in another view of its item."""
    import torch

    hits = total = 0
    model.eval()
    with torch.no_grad():
        for s in range(0, len(examples), batch_size):
            batch = processor(examples[s : s + batch_size], with_answer=False)
            prep = model.prepare(batch)
            for smp, labs in zip(prep["samples"], batch["object_labels"]):
                for (a, b), sim in smp["sims"].items():
                    va, vb = smp["obj_valid"][a], smp["obj_valid"][b]
                    for i in range(sim.shape[0]):
                        if not va[i] or not (labs[b][vb] == labs[a][i]).any():
                            continue
                        j = int(sim[i].masked_fill(~vb, float("-inf")).argmax())
                        hits += int(labs[b][j] == labs[a][i])
                        total += 1
    return hits / max(1, total)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenes", type=int, default=16)
    ap.add_argument("--per-task", type=int, default=12)
    ap.add_argument("--steps", type=int, default=80)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=None, help="keep files here (default: temp)")
    args = ap.parse_args()

    import torch

    from crossview.engine.config import GenerateConfig
    from crossview.engine.pipeline import generate
    from crossview.model import CrossViewDataset, build_crossviewer
    from crossview.model.testing import build_tiny_backbone
    from crossview.model.train import TrainConfig, train

    work = args.work or Path(tempfile.mkdtemp(prefix="cv_demo_"))
    store = toy_store(work / "scenes", args.scenes, args.seed)
    cfg = GenerateConfig(tasks=["Q1", "Q2", "Q3", "Q4", "Q5"], per_task=args.per_task, seed=1)
    data = work / "dataset"
    generate(store, data, cfg)
    bb = build_tiny_backbone(work / "backbone", max_pixels=128 * 96)
    small = {"num_object_tokens": 4, "art_target_tokens": 12, "contrast_dim": 32, "ocva_heads": 4}
    held = [CrossViewDataset(data, split=s) for s in ("val", "test")]
    test = [ex for ds in held for ex in (ds[i] for i in range(len(ds)))]
    n_train = len(CrossViewDataset(data, split="train"))
    torch.manual_seed(0)
    model, proc = build_crossviewer(str(bb), **small)
    before = retrieval_top1(model, proc, test)
    rows = [("before training", before)]
    for name, extra in (("after, with SupCon", {}), ("after, w/o SupCon", {"use_supcon": False})):
        out = work / ("ckpt_" + ("supcon" if not extra else "nosupcon"))
        tcfg = TrainConfig(
            data=data,
            backbone=str(bb),
            out=out,
            max_steps=args.steps,
            batch_size=4,
            lr=1e-3,
            seed=0,
            overwrite=True,
            model=small | extra,
        )
        train(tcfg)
        from crossview.model import load_crossviewer

        m, p = load_crossviewer(out)
        rows.append((name, retrieval_top1(m, p, test)))
    print(f"data: {work}  train items {n_train}, held-out items {len(test)}")
    print("vision features: frozen random (tiny random Qwen3-VL vision tower, never trained)")
    print(f"{'model':<22} retrieval top-1")
    for name, acc in rows:
        print(f"{name:<22} {100 * acc:5.1f}%")


if __name__ == "__main__":
    main()
