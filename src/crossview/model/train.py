"""Train CrossViewer (ART, OCVA, adapter; optionally LoRA on the LLM) with accelerate.

The same function runs on one CPU, one GPU, or several GPUs launched with
``accelerate launch`` (DDP; FSDP and DeepSpeed through an accelerate config file). It logs
the loss terms to ``OUT/train_log.jsonl``, plots them to ``OUT/loss_curves.png``, writes
checkpoints to ``OUT/checkpoints/step_N`` and resumes from the latest one.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from crossview.errors import BadInputError, require

__all__ = ["MATCH_MODES", "TrainConfig", "plot_curves", "train"]

MATCH_MODES = ("greedy", "hungarian", "gt")
"""Retrieval matching modes of CrossViewer (``CrossViewerConfig.match_mode``)."""


@dataclass
class TrainConfig:
    """Settings of one training run (the CLI's options take their defaults from here)."""

    data: Path
    """Native dataset folder (``questions.jsonl``) to train on."""
    backbone: str
    """Qwen3-VL folder or hub id."""
    out: Path
    """Output folder: final checkpoint, logs, plot, intermediate checkpoints."""
    split: str | None = "train"
    """Train on records of this split only (None: all records)."""
    limit: int | None = None
    """Use the first ``limit`` records (None: all)."""
    epochs: int = 1
    """Passes over the data."""
    max_steps: int | None = None
    """Stop after this many optimiser steps (None: run every epoch)."""
    batch_size: int = 2
    """Examples per device per step."""
    grad_accum: int = 1
    """Gradient-accumulation steps."""
    lr: float = 1e-4
    """Peak learning rate (AdamW; the public code uses 1e-4)."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    warmup_ratio: float = 0.05
    """Fraction of steps of linear warm-up before the cosine decay."""
    min_lr_ratio: float = 0.01
    """Final learning rate as a fraction of ``lr``."""
    grad_clip: float = 1.0
    """Gradient-norm clip (0: none)."""
    mixed_precision: str = "no"
    """``no``, ``bf16`` or ``fp16`` (accelerate)."""
    gradient_checkpointing: bool = False
    """Recompute backbone activations in the backward pass."""
    save_every: int = 0
    """Write a checkpoint every this many steps (0: only at the end)."""
    resume: bool = False
    """Continue from the latest checkpoint in ``out/checkpoints``."""
    seed: int = 42
    """Seed of shuffling and initialisation."""
    save_backbone: bool = False
    """Save the backbone inside the final checkpoint (else referenced)."""
    overwrite: bool = False
    """Train again although ``out`` already holds a finished checkpoint."""
    model: dict[str, Any] = field(default_factory=dict)
    """:class:`CrossViewerConfig` overrides (ablation switches, K, loss weights...)."""


def _schedule(total: int, warmup_ratio: float, min_ratio: float):
    warm = max(1, round(total * warmup_ratio)) if warmup_ratio > 0 else 0

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        t = (step - warm) / max(1, total - warm)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    return f


def _latest(ckpts: Path) -> Path | None:
    found = sorted(
        (p for p in ckpts.glob("step_*") if (p / "trainer_state.pt").is_file()),
        key=lambda p: int(p.name.split("_")[1]),
    )
    return found[-1] if found else None


def train(cfg: TrainConfig) -> Path:
    """Train and write the final checkpoint to ``cfg.out``; return ``cfg.out``.

    Idempotent: when ``cfg.out`` already holds a finished checkpoint the run is skipped
    unless ``cfg.overwrite`` (or ``cfg.resume``) is set.
    """
    torch = require("torch", "model", "training CrossViewer")
    accelerate = require("accelerate", "model", "training CrossViewer")
    from torch.utils.data import DataLoader

    from crossview.model.data import CrossViewDataset
    from crossview.model.modeling_crossviewer import build_crossviewer

    out = Path(cfg.out)
    if (out / "crossviewer.safetensors").is_file() and not (cfg.overwrite or cfg.resume):
        return out
    if cfg.overwrite and log_path_exists(out):
        (out / "train_log.jsonl").unlink()
    ds = CrossViewDataset(cfg.data, split=cfg.split, limit=cfg.limit)
    if len(ds) == 0:
        raise BadInputError(f"no trainable records (split={cfg.split!r})", file=ds.file)
    ddp = accelerate.utils.DistributedDataParallelKwargs(find_unused_parameters=True)
    acc = accelerate.Accelerator(
        mixed_precision=cfg.mixed_precision,
        gradient_accumulation_steps=cfg.grad_accum,
        kwargs_handlers=[ddp],
    )
    accelerate.utils.set_seed(cfg.seed)
    dtype = {"bf16": "bfloat16", "fp16": "float16"}.get(cfg.mixed_precision)
    overrides = {"backbone_dtype": dtype, **cfg.model}
    model, processor = build_crossviewer(cfg.backbone, **overrides)
    if cfg.gradient_checkpointing:
        model.backbone.gradient_checkpointing_enable()
        model.backbone.enable_input_require_grads()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    loader = DataLoader(
        ds, batch_size=cfg.batch_size, shuffle=True, collate_fn=processor, generator=gen
    )
    per_epoch = math.ceil(len(loader) / max(1, acc.num_processes) / cfg.grad_accum)
    total = cfg.max_steps or per_epoch * cfg.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, _schedule(total, cfg.warmup_ratio, cfg.min_lr_ratio)
    )
    model, opt, loader, sched = acc.prepare(model, opt, loader, sched)
    step, history = 0, []
    ckpts = out / "checkpoints"
    log_path = out / "train_log.jsonl"
    if cfg.resume and (last := _latest(ckpts)) is not None:
        state = torch.load(last / "trainer_state.pt", map_location="cpu", weights_only=False)
        from safetensors.torch import load_file

        acc.unwrap_model(model).load_state_dict(
            load_file(str(last / "crossviewer.safetensors")), strict=False
        )
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, history = state["step"], state["history"]
        random.setstate(state["py_rng"])
        torch.set_rng_state(state["torch_rng"])
    if acc.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(
            json.dumps(
                {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()}, indent=1
            )
        )
    model.train()
    epoch = 0
    while step < total:
        for batch in loader:
            if step >= total:
                break
            with acc.accumulate(model):
                res = model(batch)
                acc.backward(res["loss"])
                if acc.sync_gradients and cfg.grad_clip > 0:
                    acc.clip_grad_norm_(params, cfg.grad_clip)
                opt.step()
                sched.step()
                opt.zero_grad()
            if not acc.sync_gradients:
                continue
            step += 1
            rec = {"step": step, "epoch": epoch, "lr": sched.get_last_lr()[0]}
            rec["loss"] = float(res["loss"].detach())
            for k, v in res["losses"].items():
                rec[k] = float(v.detach())
            history.append(rec)
            if acc.is_main_process:
                with log_path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(rec) + "\n")
            if cfg.save_every and step % cfg.save_every == 0 and acc.is_main_process:
                _save_checkpoint(acc, model, opt, sched, step, history, ckpts / f"step_{step}")
        epoch += 1
    acc.wait_for_everyone()
    if acc.is_main_process:
        final = acc.unwrap_model(model)
        final.save_pretrained(out, processor=processor, save_backbone=cfg.save_backbone)
        plot_curves(history, out / "loss_curves.png")
    return out


def log_path_exists(out: Path) -> bool:
    """Whether ``out`` holds a training log."""
    return (out / "train_log.jsonl").is_file()


def _save_checkpoint(acc, model, opt, sched, step: int, history: list, where: Path) -> None:
    import torch
    from safetensors.torch import save_file

    where.mkdir(parents=True, exist_ok=True)
    m = acc.unwrap_model(model)
    save_file(m.trainable_state_dict(), str(where / "crossviewer.safetensors"))
    m.config.save_pretrained(where)
    torch.save(
        {
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "step": step,
            "history": history,
            "py_rng": random.getstate(),
            "torch_rng": torch.get_rng_state(),
        },
        where / "trainer_state.pt",
    )


def plot_curves(history: list[dict[str, Any]], path: Path, size: tuple[int, int] = (640, 360)):
    """Draw the loss terms against the step into a PNG (Pillow only, no plotting library)."""
    from PIL import Image, ImageDraw

    keys = [k for k in ("loss", "answer", "supcon", "triplet") if any(k in h for h in history)]
    colors = {
        "loss": (0, 0, 0),
        "answer": (200, 40, 40),
        "supcon": (40, 90, 200),
        "triplet": (40, 160, 60),
    }
    W, H = size
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    pts = [(h["step"], h[k]) for h in history for k in keys if k in h and math.isfinite(h[k])]
    if not pts:
        img.save(path)
        return
    s0, s1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = 0.0, max(p[1] for p in pts) or 1.0
    m = 40

    def xy(s, y):
        return (
            m + (s - s0) / max(1, s1 - s0) * (W - 2 * m),
            H - m - (y - y0) / (y1 - y0) * (H - 2 * m),
        )

    d.rectangle([m, m, W - m, H - m], outline=(160, 160, 160))
    d.text((m, H - m + 8), f"step {s0}", fill="black")
    d.text((W - m - 60, H - m + 8), f"step {s1}", fill="black")
    d.text((4, m - 14), f"{y1:.3g}", fill="black")
    for i, k in enumerate(keys):
        line = [xy(h["step"], h[k]) for h in history if k in h and math.isfinite(h[k])]
        if len(line) > 1:
            d.line(line, fill=colors[k], width=2)
        d.text((m + 90 * i, 8), k, fill=colors[k])
    img.save(path)
