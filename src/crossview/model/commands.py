"""``crossview train``: a plain function with a typer-annotated signature (cli.py registers it).

Importing this module stays light: torch, transformers and accelerate load when the command
runs. Model options left unset keep the :class:`CrossViewerConfig` defaults (paper values).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crossview.model.train import MATCH_MODES, TrainConfig

_D = TrainConfig(data=Path("."), backbone="", out=Path("."))


def train_cmd(
    data: Annotated[
        Path, typer.Option(help="Native dataset folder (questions.jsonl) to train on.")
    ],
    backbone: Annotated[
        str, typer.Option(help="Qwen3-VL folder or hub id (e.g. Qwen/Qwen3-VL-2B-Instruct).")
    ],
    out: Annotated[Path, typer.Option(help="Checkpoint folder to write (logs and plot inside).")],
    split: Annotated[
        str, typer.Option(help="Train on this split only; 'all' for every record.")
    ] = _D.split or "all",
    limit: Annotated[int | None, typer.Option(help="Use the first N records.")] = _D.limit,
    epochs: Annotated[int, typer.Option(help="Passes over the data.")] = _D.epochs,
    max_steps: Annotated[
        int | None, typer.Option(help="Stop after N optimiser steps.")
    ] = _D.max_steps,
    batch_size: Annotated[int, typer.Option(help="Examples per device per step.")] = _D.batch_size,
    grad_accum: Annotated[int, typer.Option(help="Gradient-accumulation steps.")] = _D.grad_accum,
    lr: Annotated[float, typer.Option(help="Peak learning rate (AdamW, cosine decay).")] = _D.lr,
    mixed_precision: Annotated[
        str, typer.Option(help="no, bf16 or fp16 (bf16 loads the backbone in bfloat16).")
    ] = _D.mixed_precision,
    gradient_checkpointing: Annotated[
        bool, typer.Option(help="Recompute backbone activations in the backward pass.")
    ] = _D.gradient_checkpointing,
    save_every: Annotated[
        int, typer.Option(help="Checkpoint every N steps (0: at the end only).")
    ] = _D.save_every,
    resume: Annotated[bool, typer.Option(help="Continue from the latest checkpoint.")] = _D.resume,
    overwrite: Annotated[
        bool, typer.Option(help="Retrain although OUT is finished.")
    ] = _D.overwrite,
    seed: Annotated[int, typer.Option(help="Seed of shuffling and initialisation.")] = _D.seed,
    save_backbone: Annotated[
        bool, typer.Option(help="Copy the backbone into OUT instead of referencing it.")
    ] = _D.save_backbone,
    lora_rank: Annotated[int | None, typer.Option(help="LoRA rank on the LLM (0: frozen).")] = None,
    num_object_tokens: Annotated[int | None, typer.Option(help="K tokens per object.")] = None,
    match_mode: Annotated[
        str | None, typer.Option(help=f"Retrieval matching: {', '.join(MATCH_MODES)}.")
    ] = None,
    w_answer: Annotated[float | None, typer.Option(help="Answer CE weight.")] = None,
    w_supcon: Annotated[float | None, typer.Option(help="SupCon weight.")] = None,
    w_triplet: Annotated[float | None, typer.Option(help="Triplet weight.")] = None,
    no_art: Annotated[
        bool, typer.Option(help="Ablation: masked mean pool instead of ART.")
    ] = False,
    no_cross_attention: Annotated[
        bool, typer.Option(help="Ablation: OCVA without cross-attention.")
    ] = False,
    no_supcon: Annotated[bool, typer.Option(help="Ablation: no SupCon loss.")] = False,
    no_triplet: Annotated[bool, typer.Option(help="Ablation: no triplet loss.")] = False,
    box_as_mask: Annotated[bool, typer.Option(help="Ablation: boxes instead of masks.")] = False,
) -> None:
    """Train CrossViewer's ART, OCVA and adapter (optionally LoRA) through accelerate.

    Run it under ``accelerate launch`` for several GPUs (DDP, FSDP or DeepSpeed).
    """
    from rich.console import Console

    from crossview.errors import BadInputError
    from crossview.model.train import train

    if match_mode is not None and match_mode not in MATCH_MODES:
        raise BadInputError(
            f"unknown match mode {match_mode!r}; valid: {', '.join(MATCH_MODES)}",
            field="match_mode",
        )
    model: dict = {
        k: v
        for k, v in {
            "lora_rank": lora_rank,
            "num_object_tokens": num_object_tokens,
            "match_mode": match_mode,
            "w_answer": w_answer,
            "w_supcon": w_supcon,
            "w_triplet": w_triplet,
        }.items()
        if v is not None
    }
    for flag, key in (
        (no_art, "use_art"),
        (no_cross_attention, "use_cross_attention"),
        (no_supcon, "use_supcon"),
        (no_triplet, "use_triplet"),
    ):
        if flag:
            model[key] = False
    if box_as_mask:
        model["box_as_mask"] = True
    cfg = TrainConfig(
        data=data,
        backbone=backbone,
        out=out,
        split=None if split == "all" else split,
        limit=limit,
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        grad_accum=grad_accum,
        lr=lr,
        mixed_precision=mixed_precision,
        gradient_checkpointing=gradient_checkpointing,
        save_every=save_every,
        resume=resume,
        overwrite=overwrite,
        seed=seed,
        save_backbone=save_backbone,
        model=model,
    )
    path = train(cfg)
    Console(stderr=True).print(f"checkpoint: {path}")
