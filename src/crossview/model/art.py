"""Adaptive Region Tokenizer (ART): one mask-grounded object -> up to K compact tokens.

Per object (paper, sec. 4.3): the tight box of the mask, padded; a scale factor from the mask's
area so that about T masked feature cells remain (small objects upsampled, large ones only
mildly downsampled); a bilinear crop-and-resize of the view's feature map to that grid;
learnable absolute position embeddings; the masked cells only; a lightweight k-means to K
centroids; a shared two-layer MLP. Objects are padded to K tokens with a validity mask.

Coordinates: a feature map has ``h x w`` cells covering the image; cell ``(i, j)`` spans
``[j, j + 1) x [i, i + 1)`` in cell units, so a pixel ``(u, v)`` of a ``W x H`` image lies at
``(u * w / W, v * h / H)``. Boxes are ``(x0, y0, x1, y1)`` in cell units, x1/y1 exclusive.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "AdaptiveRegionTokenizer",
    "art_grid",
    "box_fill",
    "cell_mask",
    "crop_and_resize",
    "kmeans",
]


def box_fill(masks: Tensor) -> Tensor:
    """Replace each mask by its filled tight box (the ``box-as-mask`` ablation).

    Args:
        masks: (N, H, W) bool.

    Returns:
        (N, H, W) bool; empty masks stay empty.
    """
    out = torch.zeros_like(masks, dtype=torch.bool)
    for k, m in enumerate(masks):
        rows, cols = torch.nonzero(m.any(1)), torch.nonzero(m.any(0))
        if len(rows):
            out[k, rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] = True
    return out


def art_grid(
    mask: Tensor,
    feat_hw: tuple[int, int],
    target_tokens: int,
    min_scale: float = 0.5,
    max_scale: float = 8.0,
    padding: float = 1.0,
) -> tuple[tuple[float, float, float, float], tuple[int, int], float]:
    """The crop box and resize grid of one object (Eq. 2 of the paper, with clamps).

    Args:
        mask: (H, W) bool, non-empty, in image pixels.
        feat_hw: ``(h, w)`` cells of the view's feature map.
        target_tokens: T, the masked cells to keep after resizing.
        min_scale: lower clamp of the scale factor (large objects: mild downsampling).
        max_scale: upper clamp of the scale factor (tiny objects).
        padding: box padding in cells.

    Returns:
        ``(box, (gh, gw), scale)``: the padded box in cell units, the resized grid and the
        scale factor ``clamp(sqrt(T / area_cells))``.
    """
    H, W = mask.shape
    h, w = feat_hw
    rows, cols = torch.nonzero(mask.any(1)), torch.nonzero(mask.any(0))
    sx, sy = w / W, h / H
    x0 = max(0.0, float(cols.min()) * sx - padding)
    x1 = min(float(w), float(cols.max() + 1) * sx + padding)
    y0 = max(0.0, float(rows.min()) * sy - padding)
    y1 = min(float(h), float(rows.max() + 1) * sy + padding)
    area_cells = float(mask.sum()) * sx * sy
    scale = min(max_scale, max(min_scale, math.sqrt(target_tokens / max(area_cells, 1e-6))))
    gh = max(1, round((y1 - y0) * scale))
    gw = max(1, round((x1 - x0) * scale))
    return (x0, y0, x1, y1), (gh, gw), scale


def _sample_points(box: tuple[float, float, float, float], grid: tuple[int, int]) -> Tensor:
    """Cell centres of a ``grid`` laid over ``box``: (gh, gw, 2) as ``(x, y)`` in cell units."""
    x0, y0, x1, y1 = box
    gh, gw = grid
    xs = x0 + (torch.arange(gw, dtype=torch.float32) + 0.5) * (x1 - x0) / gw
    ys = y0 + (torch.arange(gh, dtype=torch.float32) + 0.5) * (y1 - y0) / gh
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx, yy], dim=-1)


def crop_and_resize(
    feat: Tensor, box: tuple[float, float, float, float], grid: tuple[int, int]
) -> Tensor:
    """Bilinear crop-and-resize of a feature map (RoIAlign with one sample per cell).

    Args:
        feat: (h, w, C) feature map.
        box: ``(x0, y0, x1, y1)`` in cell units.
        grid: ``(gh, gw)`` output cells.

    Returns:
        (gh, gw, C), differentiable with respect to ``feat``.
    """
    h, w, _ = feat.shape
    pts = _sample_points(box, grid).to(feat.device)
    norm = torch.stack([pts[..., 0] / w, pts[..., 1] / h], dim=-1) * 2 - 1
    out = F.grid_sample(
        feat.permute(2, 0, 1)[None],
        norm[None].to(feat.dtype),
        mode="bilinear",
        padding_mode="border",
        align_corners=False,
    )
    return out[0].permute(1, 2, 0)


def cell_mask(
    mask: Tensor,
    feat_hw: tuple[int, int],
    box: tuple[float, float, float, float],
    grid: tuple[int, int],
) -> Tensor:
    """Which cells of a resized crop the object covers (coverage >= 0.5, at least one cell).

    Args:
        mask: (H, W) bool in image pixels.
        feat_hw: ``(h, w)`` of the view's feature map (fixes the pixel <-> cell scale).
        box: the crop box in cell units.
        grid: ``(gh, gw)`` cells of the crop.

    Returns:
        (gh, gw) bool with at least one True when ``mask`` is non-empty inside ``box``.
    """
    H, W = mask.shape
    h, w = feat_hw
    x0, y0, x1, y1 = box
    px0, px1 = math.floor(x0 * W / w), math.ceil(x1 * W / w)
    py0, py1 = math.floor(y0 * H / h), math.ceil(y1 * H / h)
    crop = mask[py0:py1, px0:px1].float()[None, None]
    gh, gw = grid
    if crop.shape[-2] >= gh and crop.shape[-1] >= gw:
        cover = F.adaptive_avg_pool2d(crop, (gh, gw))[0, 0]
    else:
        cover = F.interpolate(crop, size=(gh, gw), mode="bilinear", align_corners=False)[0, 0]
    keep = cover >= 0.5
    if not keep.any() and cover.max() > 0:
        keep = cover == cover.max()
    return keep


def kmeans(tokens: Tensor, k: int, iters: int = 5) -> Tensor:
    """Lightweight k-means with a deterministic initialisation (evenly spaced tokens).

    Centroids are means of tokens, so gradients flow to the tokens through them.

    Args:
        tokens: (N, C).
        k: clusters wanted.
        iters: Lloyd iterations.

    Returns:
        (min(N, k), C) centroids; the tokens themselves when ``N <= k``.
    """
    n = tokens.shape[0]
    if n <= k:
        return tokens
    idx = torch.linspace(0, n - 1, k, device=tokens.device).round().long()
    centroids = tokens[idx]
    for _ in range(iters):
        assign = torch.cdist(tokens.detach().float(), centroids.detach().float()).argmin(1)
        onehot = F.one_hot(assign, k).to(tokens.dtype)  # (N, k)
        counts = onehot.sum(0)[:, None]
        sums = onehot.T @ tokens
        centroids = torch.where(counts > 0, sums / counts.clamp(min=1), centroids)
    return centroids


class AdaptiveRegionTokenizer(nn.Module):
    """ART: per-view feature map + object masks -> (N, K, D) tokens with validity.

    Args:
        in_dim: C, width of the vision features.
        out_dim: D, width of the region tokens.
        num_tokens: K.
        target_tokens: T.
        min_scale, max_scale, padding, kmeans_iters: see :func:`art_grid` and :func:`kmeans`.
        pos_grid: side of the learnable absolute position-embedding table.
        use_art: False for the ``w/o ART`` ablation (one masked-mean-pooled token per object).
        box_as_mask: True for the ``box-as-mask`` ablation.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        num_tokens: int = 10,
        target_tokens: int = 32,
        min_scale: float = 0.5,
        max_scale: float = 8.0,
        padding: float = 1.0,
        kmeans_iters: int = 5,
        pos_grid: int = 16,
        use_art: bool = True,
        box_as_mask: bool = False,
    ) -> None:
        super().__init__()
        self.num_tokens = num_tokens
        self.target_tokens = target_tokens
        self.min_scale, self.max_scale, self.padding = min_scale, max_scale, padding
        self.kmeans_iters = kmeans_iters
        self.use_art = use_art
        self.box_as_mask = box_as_mask
        self.pos_embed = nn.Parameter(torch.randn(1, in_dim, pos_grid, pos_grid) * 0.02)
        self.mlp = nn.Sequential(nn.Linear(in_dim, out_dim), nn.GELU(), nn.Linear(out_dim, out_dim))

    def _position(self, box: tuple[float, float, float, float], grid, hw) -> Tensor:
        h, w = hw
        pts = _sample_points(box, grid).to(self.pos_embed.device)
        norm = torch.stack([pts[..., 0] / w, pts[..., 1] / h], dim=-1) * 2 - 1
        pe = F.grid_sample(self.pos_embed, norm[None].to(self.pos_embed.dtype), align_corners=False)
        return pe[0].permute(1, 2, 0)  # (gh, gw, C)

    def object_cells(self, feat: Tensor, mask: Tensor) -> Tensor:
        """The masked cells of one object before k-means: (M, C) with position embeddings."""
        hw = (feat.shape[0], feat.shape[1])
        if not self.use_art:
            full = (0.0, 0.0, float(hw[1]), float(hw[0]))
            keep = cell_mask(mask, hw, full, hw)
            return feat[keep].mean(0, keepdim=True)
        box, grid, _ = art_grid(
            mask, hw, self.target_tokens, self.min_scale, self.max_scale, self.padding
        )
        crop = crop_and_resize(feat, box, grid) + self._position(box, grid, hw).to(feat.dtype)
        keep = cell_mask(mask, hw, box, grid)
        return crop[keep]

    def forward(self, feat: Tensor, masks: Tensor) -> dict[str, Tensor]:
        """Tokenise the objects of one view.

        Args:
            feat: (h, w, C) feature map of the view.
            masks: (N, H, W) bool object masks in image pixels (any H, W).

        Returns:
            ``tokens`` (N, K, D) (zeros where invalid), ``valid`` (N, K) bool token validity,
            ``n_cells`` (N,) long: masked cells each object kept before k-means (0 for an
            empty mask).
        """
        K = self.num_tokens
        masks = masks.to(feat.device).bool()
        if self.box_as_mask:
            masks = box_fill(masks)
        out = feat.new_zeros(masks.shape[0], K, self.mlp[-1].out_features)
        valid = torch.zeros(masks.shape[0], K, dtype=torch.bool, device=feat.device)
        n_cells = torch.zeros(masks.shape[0], dtype=torch.long)
        for i, m in enumerate(masks):
            if not m.any():
                continue
            cells = self.object_cells(feat, m)
            n_cells[i] = cells.shape[0]
            cent = kmeans(cells, K, self.kmeans_iters)
            out[i, : cent.shape[0]] = self.mlp(cent)
            valid[i, : cent.shape[0]] = True
        return {"tokens": out, "valid": valid, "n_cells": n_cells}
