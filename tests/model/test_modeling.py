"""The full model on a tiny random Qwen3-VL: shapes, exactness, save/load, ablations, overfit."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tests.model.conftest import SMALL


def test_shapes_through_every_stage(built, examples):
    model, proc = built
    batch = proc(examples[:2])
    K = model.config.num_object_tokens
    with torch.no_grad():
        out = model(batch)
    B, L = batch["input_ids"].shape
    assert out["logits"].shape == (B, L, model.backbone.config.text_config.vocab_size)
    smp = out["samples"][0]
    D = model.art.mlp[-1].out_features
    for v in range(2):
        n = batch["masks"][0][v].shape[0]
        assert smp["tokens"][v].shape == (n, K, D)
        assert smp["valid"][v].shape == (n, K)
        assert smp["emb"][v].shape == (n, model.config.contrast_dim)
        assert smp["aligned"][v].shape == (n, K, D)
    assert smp["matches"][(0, 1)].shape == (batch["masks"][0][0].shape[0],)
    # every placeholder became K <REGION> tokens
    rid = proc.special_ids["region"]
    for b in range(B):
        n_reg = int((batch["input_ids"][b] == rid).sum())
        assert n_reg == K * len(batch["region_refs"][b])
    assert set(out["losses"]) >= {"answer", "supcon", "triplet", "retrieval_top1"}
    assert torch.isfinite(out["loss"])


def test_unedited_embeddings_reproduce_backbone_logits(backbone_dir, examples):
    from crossview.model import build_crossviewer

    model, proc = build_crossviewer(str(backbone_dir), use_prefix_tokens=False, **SMALL)
    model.eval()
    ex = dataclasses.replace(examples[0], question="What is in the images?", region_refs=[])
    batch = proc([ex], with_answer=False)
    with torch.no_grad():
        ours = model(batch)["logits"]
        ref = model.backbone(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            pixel_values=batch["pixel_values"],
            image_grid_thw=batch["image_grid_thw"],
            mm_token_type_ids=batch["mm_token_type_ids"],
        ).logits
    assert torch.equal(ours, ref)


def test_region_edits_change_logits_after_the_regions_only(built, examples):
    model, proc = built
    batch = proc(examples[:1], with_answer=False)
    rid = proc.special_ids["scene"]
    first = int(torch.nonzero(batch["input_ids"][0] == rid)[0])
    with torch.no_grad():
        a = model(batch)["logits"]
        model.adapter[-1].bias.add_(1.0)
        b = model(batch)["logits"]
    assert torch.equal(a[0, :first], b[0, :first])  # causal: before the first edit, unchanged
    assert not torch.allclose(a[0, first:], b[0, first:])


def test_save_load_identical_outputs(built, examples, tmp_path):
    from crossview.model import load_crossviewer

    model, proc = built
    with torch.no_grad():
        for p in model.adapter.parameters():
            p.add_(0.01 * torch.randn_like(p))
    batch = proc(examples[:2])
    with torch.no_grad():
        a = model(batch)
    model.save_pretrained(tmp_path / "ckpt", processor=proc)
    model2, proc2 = load_crossviewer(tmp_path / "ckpt")
    batch2 = proc2(examples[:2])
    assert torch.equal(batch["input_ids"], batch2["input_ids"])
    with torch.no_grad():
        b = model2(batch2)
    assert torch.equal(a["logits"], b["logits"])
    for k in ("answer", "supcon", "triplet"):
        assert torch.equal(a["losses"][k], b["losses"][k])


def _run(backbone_dir, examples, **kw):
    from crossview.model import build_crossviewer

    torch.manual_seed(0)
    model, proc = build_crossviewer(str(backbone_dir), **(SMALL | kw))
    model.eval()
    with torch.no_grad():
        return model, model(proc(examples[:2]))


def test_ablation_no_art(backbone_dir, examples):
    _, out = _run(backbone_dir, examples, use_art=False)
    for v in out["samples"][0]["valid"]:
        assert (v.sum(1) == 1).all()
    _, full = _run(backbone_dir, examples)
    assert (full["samples"][0]["valid"][0].sum(1) > 1).any()


def test_ablation_no_cross_attention(backbone_dir, examples):
    calls = []
    from crossview.model import build_crossviewer

    for flag in (True, False):
        model, proc = build_crossviewer(str(backbone_dir), use_cross_attention=flag, **SMALL)
        n = []
        for blk in model.ocva.blocks:
            blk.attn.register_forward_hook(lambda *a, n=n: n.append(1))
        with torch.no_grad():
            model(proc(examples[:1]))
        calls.append(len(n))
    assert calls[0] > 0 and calls[1] == 0


def test_ablation_loss_switches(backbone_dir, examples):
    for key, term in (("use_supcon", "supcon"), ("use_triplet", "triplet")):
        _, out = _run(backbone_dir, examples, **{key: False})
        c = {"answer": 1.0, "supcon": 1.0, "triplet": 0.1}
        c[term] = 0.0
        expected = sum(c[k] * float(out["losses"][k]) for k in c)
        assert float(out["loss"]) == pytest.approx(expected, rel=1e-6)
        _, full = _run(backbone_dir, examples)
        assert float(full["loss"]) != float(out["loss"])


def test_ablation_box_as_mask(backbone_dir, examples):
    _, a = _run(backbone_dir, examples)
    _, b = _run(backbone_dir, examples, box_as_mask=True)
    ca = torch.cat(a["samples"][0]["n_cells"])
    cb = torch.cat(b["samples"][0]["n_cells"])
    assert not torch.equal(ca, cb)


def test_match_modes(backbone_dir, examples):
    _, gt = _run(backbone_dir, examples, match_mode="gt")
    _, hu = _run(backbone_dir, examples, match_mode="hungarian")
    ex = examples[0]
    t0, t1 = ex.track_ids
    m = gt["samples"][0]["matches"][(0, 1)]
    assert [int(t1[j]) for j in m] == [int(t) for t in t0]
    assert hu["samples"][0]["matches"][(0, 1)].shape == m.shape


def test_loss_falls_when_overfitting(built, examples):
    """The total and every term fall on four items.

    The tiny random LLM's lm_head (weights ~0.02, hidden 64, final RMSNorm) bounds its logits to
    about +-1.5, so the answer CE can only move a little; the alignment terms move a lot.
    """
    model, proc = built
    model.train()
    batch = proc(examples[:4])
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=3e-3)
    hist = []
    for _ in range(20):
        out = model(batch)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        hist.append({k: float(v.detach()) for k, v in out["losses"].items()})
        hist[-1]["loss"] = float(out["loss"].detach())
    first, last = hist[0], hist[-1]
    assert last["loss"] < 0.85 * first["loss"], hist
    assert last["supcon"] < 0.7 * first["supcon"]
    assert last["triplet"] < first["triplet"]
    assert last["answer"] < first["answer"]
    assert last["retrieval_top1"] == 1.0
    assert not any(p.requires_grad for p in model.backbone.parameters())
