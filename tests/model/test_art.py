"""ART: token budget across object sizes, shapes, validity, ablations, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crossview.model.art import AdaptiveRegionTokenizer, art_grid, box_fill, kmeans

IMG, CELLS = 192, 24  # 8 pixels per feature cell


def disc(r: float, cx: float = 96, cy: float = 96) -> torch.Tensor:
    yy, xx = np.mgrid[0:IMG, 0:IMG]
    return torch.from_numpy((xx - cx) ** 2 + (yy - cy) ** 2 <= r * r)


def make_art(**kw) -> AdaptiveRegionTokenizer:
    torch.manual_seed(0)
    args = {"in_dim": 8, "out_dim": 12, "num_tokens": 10, "target_tokens": 32} | kw
    return AdaptiveRegionTokenizer(**args)


@pytest.mark.parametrize("r", [5, 10, 20, 35, 50])
def test_keeps_about_T_tokens_across_sizes(r):
    art = make_art()
    feat = torch.randn(CELLS, CELLS, 8)
    m = disc(r)
    area_cells = float(m.sum()) / 64
    _, _, scale = art_grid(m, (CELLS, CELLS), 32)
    cells = art.object_cells(feat, m)
    assert 16 <= cells.shape[0] <= 64, (r, area_cells, cells.shape[0])
    # small objects are upsampled, large ones downsampled
    assert (scale > 1) == (area_cells < 32)


def test_large_objects_only_mildly_downsampled():
    m = torch.ones(IMG, IMG, dtype=torch.bool)  # 576 cells
    _, grid, scale = art_grid(m, (CELLS, CELLS), 32, min_scale=0.5)
    assert scale == 0.5 and grid == (12, 12)


def test_shapes_validity_and_empty_mask():
    art = make_art(num_tokens=4, target_tokens=8)
    feat = torch.randn(CELLS, CELLS, 8)
    tiny = torch.zeros(IMG, IMG, dtype=torch.bool)
    tiny[10:12, 10:12] = True  # a fraction of a cell
    masks = torch.stack([disc(30), tiny, torch.zeros(IMG, IMG, dtype=torch.bool)])
    out = art(feat, masks)
    assert out["tokens"].shape == (3, 4, 12)
    assert out["valid"].shape == (3, 4)
    assert out["valid"][0].all()
    assert out["valid"][1].sum() >= 1
    assert not out["valid"][2].any() and (out["tokens"][2] == 0).all()
    assert out["n_cells"][2] == 0


def test_kmeans_deterministic_and_small_inputs():
    x = torch.randn(50, 6)
    a, b = kmeans(x, 5), kmeans(x, 5)
    assert a.shape == (5, 6) and torch.equal(a, b)
    assert torch.equal(kmeans(x[:3], 5), x[:3])
    # two well separated blobs are found
    blobs = torch.cat([torch.zeros(20, 2), torch.full((20, 2), 10.0)])
    c = kmeans(blobs, 2)
    assert sorted(c[:, 0].tolist()) == [0.0, 10.0]


def test_no_art_gives_one_pooled_token():
    art = make_art(use_art=False)
    feat = torch.randn(CELLS, CELLS, 8)
    out = art(feat, disc(40)[None])
    assert out["valid"][0].sum() == 1
    keep = torch.zeros(CELLS, CELLS, dtype=torch.bool)
    cells = art.object_cells(feat, disc(40))
    assert cells.shape == (1, 8)
    del keep


def test_box_as_mask_changes_the_mask():
    m = disc(30)[None]
    box = box_fill(m)
    assert box.sum() > m.sum() and (box | m).sum() == box.sum()
    feat = torch.randn(CELLS, CELLS, 8)
    a = make_art()(feat, m)["n_cells"]
    b = make_art(box_as_mask=True)(feat, m)["n_cells"]
    assert a != b


def test_gradient_reaches_features():
    art = make_art(num_tokens=4)
    feat = torch.randn(CELLS, CELLS, 8, requires_grad=True)
    art(feat, disc(25)[None])["tokens"].sum().backward()
    assert feat.grad is not None and feat.grad.abs().sum() > 0
    assert art.pos_embed.grad is not None
