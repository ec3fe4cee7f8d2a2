"""Object-Centric Cross-View Aligner (OCVA): each source object absorbs its matched target.

Fusion path (sec. 4.4): per matched pair, multi-head cross-attention with the source object's
tokens as queries and the matched target object's tokens as keys and values, then an FFN, each
with a residual connection and layer normalisation; ``depth`` such blocks. The contrastive path
is the shared :class:`~crossview.model.retrieval.ContrastiveHead`, applied by the model.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["OCVA", "OCVABlock"]


class OCVABlock(nn.Module):
    """One cross-attention + FFN block with post-norm residuals.

    Args:
        dim: token width D (divisible by ``heads``).
        heads: attention heads.
        ffn_mult: FFN hidden width over D.
        cross_attention: False skips the attention sublayer (``w/o CrossView Attn``).
    """

    def __init__(self, dim: int, heads: int = 8, ffn_mult: int = 4, cross_attention: bool = True):
        super().__init__()
        self.cross_attention = cross_attention
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm1 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(
            nn.Linear(dim, dim * ffn_mult), nn.GELU(), nn.Linear(dim * ffn_mult, dim)
        )
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x0: Tensor, x1: Tensor, valid1: Tensor) -> Tensor:
        """(N, K, D) source tokens, (N, K, D) matched target tokens, (N, K) -> (N, K, D).

        Objects whose target has no valid token (no match) skip the attention sublayer.
        """
        if self.cross_attention:
            has = valid1.any(1)
            kpm = ~valid1.clone()
            kpm[~has, 0] = False  # avoid all-masked rows (NaN); their update is zeroed below
            upd, _ = self.attn(x0, x1, x1, key_padding_mask=kpm, need_weights=False)
            # an unmatched object passes unchanged, exactly as without cross-attention
            x0 = torch.where(has[:, None, None], self.norm1(x0 + upd), x0)
        return self.norm2(x0 + self.ffn(x0))


class OCVA(nn.Module):
    """A stack of :class:`OCVABlock` (paper: depth 2, 8 heads)."""

    def __init__(
        self,
        dim: int,
        heads: int = 8,
        depth: int = 2,
        ffn_mult: int = 4,
        cross_attention: bool = True,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            OCVABlock(dim, heads, ffn_mult, cross_attention) for _ in range(depth)
        )

    def forward(self, tokens0: Tensor, tokens1: Tensor, valid1: Tensor) -> Tensor:
        """Fuse source objects with their matched targets.

        Args:
            tokens0: (N, K, D) source-view object tokens.
            tokens1: (N, K, D) target-view tokens reordered so row i is the match of object i.
            valid1: (N, K) bool validity of ``tokens1``.

        Returns:
            (N, K, D) fused source tokens.
        """
        x = tokens0
        if x.shape[0] == 0:
            return x
        for blk in self.blocks:
            x = blk(x, tokens1, valid1)
        return x
