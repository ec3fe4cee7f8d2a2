"""`crossview train` (through its typer function) on CPU, resume, and the harness backend."""

from __future__ import annotations

import json

import torch
import typer
from typer.testing import CliRunner

from crossview.model.commands import train_cmd

SMALL_ARGS = ["--num-object-tokens", "4"]


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(train_cmd)
    return app


def test_train_cli_short_run_and_resume(backbone_dir, dataset_dir, tmp_path):
    out = tmp_path / "ckpt"
    args = ["--data", str(dataset_dir), "--backbone", str(backbone_dir), "--out", str(out)]
    r = CliRunner().invoke(
        _app(), [*args, *SMALL_ARGS, "--max-steps", "2", "--save-every", "1", "--batch-size", "2"]
    )
    assert r.exit_code == 0, r.output
    for name in ("crossviewer.safetensors", "config.json", "loss_curves.png", "train_log.jsonl"):
        assert (out / name).is_file()
    log = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in log] == [1, 2]
    assert {"loss", "answer", "supcon", "triplet"} <= set(log[0])
    assert (out / "checkpoints" / "step_2" / "trainer_state.pt").is_file()
    # finished: a second run is skipped; --resume continues from step 2 to 3
    r = CliRunner().invoke(_app(), [*args, *SMALL_ARGS, "--max-steps", "2"])
    assert r.exit_code == 0 and len((out / "train_log.jsonl").read_text().splitlines()) == 2
    r = CliRunner().invoke(_app(), [*args, *SMALL_ARGS, "--max-steps", "3", "--resume"])
    assert r.exit_code == 0, r.output
    steps = [json.loads(x)["step"] for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]


def _prompt(dataset_dir, rec):
    from crossview.eval.items import ImageSource, Prompt
    from crossview.eval.prompts import CHOICE_INSTRUCTION

    regions = []
    for v, o in rec["region_refs"]:
        obj = rec["views"][v]["objects"][o]
        regions.append(
            {"view": v, "object": o, "mask_rle": obj["mask_rle"], "track_id": obj["track_id"]}
        )
    opts = "\n".join(rec["options"])
    return Prompt(
        item_id=rec["sample_id"],
        variant=0,
        text=f"{rec['question']}\n{opts}\n{CHOICE_INSTRUCTION}",
        images=tuple(ImageSource(path=dataset_dir / v["image_path"]) for v in rec["views"]),
        letters=("A", "B", "C"),
        regions=tuple(regions),
    )


def test_backend_scores_and_generates(built, dataset_dir, tmp_path):
    from crossview.eval.backends import BackendSettings, create_backend
    from crossview.model.backend import CrossViewerRunner

    model, proc = built
    model.save_pretrained(tmp_path / "ckpt", processor=proc)
    recs = [json.loads(x) for x in (dataset_dir / "questions.jsonl").read_text().splitlines()]
    prompts = [_prompt(dataset_dir, r) for r in recs[:2]]
    runner = CrossViewerRunner(str(tmp_path / "ckpt"))
    scores = runner.score_options(prompts)
    assert all(set(s) == {"A", "B", "C"} for s in scores)
    assert all(v <= 0 for s in scores for v in s.values())
    # batched (left-padded) scores equal one-at-a-time scores
    single = runner.score_options(prompts[1:])
    assert torch.allclose(
        torch.tensor(list(scores[1].values())), torch.tensor(list(single[0].values())), atol=1e-4
    )
    texts = runner.generate(prompts, max_new_tokens=3)
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    backend = create_backend(
        f"crossviewer:{tmp_path / 'ckpt'}@likelihood", BackendSettings(max_tokens=3)
    )
    assert backend.accepts_regions
    resp = backend.generate(prompts)
    assert all(r.text.startswith("Answer: ") for r in resp)
