"""Cross-view object retrieval: pooled object embeddings, cosine similarity, 1-to-1 matching.

Names follow one view pair: ``0`` is the source view, ``1`` the target view (``emb0``, ``sim``
of shape (N0, N1), ``match0`` mapping each source object to a target object or -1).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

__all__ = [
    "ContrastiveHead",
    "greedy_match",
    "gt_match",
    "hungarian_match",
    "masked_mean_pool",
    "match",
    "reorder",
]


def masked_mean_pool(tokens: Tensor, valid: Tensor) -> Tensor:
    """Mean of the valid tokens of each object.

    Args:
        tokens: (N, K, D).
        valid: (N, K) bool.

    Returns:
        (N, D); zeros for an object without valid tokens.
    """
    w = valid.to(tokens.dtype)[..., None]
    return (tokens * w).sum(1) / w.sum(1).clamp(min=1.0)


class ContrastiveHead(nn.Module):
    """The shared projection g of Eq. (3): (N, D) -> unit vectors (N, contrast_dim)."""

    def __init__(self, dim: int, contrast_dim: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, contrast_dim))

    def forward(self, pooled: Tensor) -> Tensor:
        """(N, D) pooled object features -> (N, contrast_dim) L2-normalised embeddings."""
        return F.normalize(self.net(pooled), dim=-1)


def greedy_match(sim: np.ndarray, valid0: np.ndarray, valid1: np.ndarray) -> np.ndarray:
    """Highest-scoring unmatched pairs first.

    Args:
        sim: (N0, N1) similarities.
        valid0: (N0,) bool, objects of view 0 that take part.
        valid1: (N1,) bool.

    Returns:
        (N0,) int64: the matched index in view 1, or -1.
    """
    out = np.full(sim.shape[0], -1, dtype=np.int64)
    pairs = [(i, j) for i in np.flatnonzero(valid0) for j in np.flatnonzero(valid1)]
    pairs.sort(key=lambda p: (-sim[p], p))
    used0, used1 = set(), set()
    for i, j in pairs:
        if i not in used0 and j not in used1:
            out[i] = j
            used0.add(i)
            used1.add(j)
    return out


def hungarian_match(sim: np.ndarray, valid0: np.ndarray, valid1: np.ndarray) -> np.ndarray:
    """The 1-to-1 assignment of maximal total similarity (``scipy linear_sum_assignment``).

    Same arguments and result as :func:`greedy_match`.
    """
    out = np.full(sim.shape[0], -1, dtype=np.int64)
    i0, i1 = np.flatnonzero(valid0), np.flatnonzero(valid1)
    if len(i0) and len(i1):
        r, c = linear_sum_assignment(sim[np.ix_(i0, i1)], maximize=True)
        out[i0[r]] = i1[c]
    return out


def gt_match(track0: np.ndarray, track1: np.ndarray, valid0, valid1) -> np.ndarray:
    """Match by track id (the oracle ``gt`` ordering); -1 where view 1 lacks the track."""
    out = np.full(len(track0), -1, dtype=np.int64)
    where = {int(t): j for j, t in enumerate(track1) if valid1[j]}
    for i, t in enumerate(track0):
        if valid0[i]:
            out[i] = where.get(int(t), -1)
    return out


_MATCHERS = {"greedy": greedy_match, "hungarian": hungarian_match}


def match(
    mode: str,
    sim: Tensor,
    valid0: Tensor,
    valid1: Tensor,
    track0: Tensor | None = None,
    track1: Tensor | None = None,
) -> Tensor:
    """Match the objects of a view pair with ``mode`` in ``greedy``, ``hungarian``, ``gt``.

    Args:
        mode: the matching mode.
        sim: (N0, N1) similarity.
        valid0: (N0,) bool; valid1: (N1,) bool.
        track0, track1: (N0,), (N1,) track ids (``gt`` only).

    Returns:
        (N0,) long on ``sim``'s device: index in view 1 or -1.
    """
    v0, v1 = valid0.cpu().numpy(), valid1.cpu().numpy()
    if mode == "gt":
        t0 = None if track0 is None else track0.cpu().numpy()
        t1 = None if track1 is None else track1.cpu().numpy()
        if t0 is None or t1 is None or (t0[v0] < 0).any() or (t1[v1] < 0).any():
            raise ValueError(
                "match mode 'gt' needs the objects' track ids (ground truth); evaluation "
                "prompts do not carry them, so use 'greedy' or 'hungarian' there"
            )
        m = gt_match(t0, t1, v0, v1)
    elif mode in _MATCHERS:
        m = _MATCHERS[mode](sim.detach().float().cpu().numpy(), v0, v1)
    else:
        raise ValueError(f"unknown match mode {mode!r}; valid: gt, {', '.join(_MATCHERS)}")
    return torch.as_tensor(m, device=sim.device)


def reorder(tokens1: Tensor, valid1: Tensor, match0: Tensor) -> tuple[Tensor, Tensor]:
    """Reorder view-1 tokens so that row ``i`` holds the match of view-0 object ``i``.

    Args:
        tokens1: (N1, K, D); valid1: (N1, K) bool token validity.
        match0: (N0,) long, -1 for unmatched.

    Returns:
        ``(tokens, valid)`` of shapes (N0, K, D) and (N0, K); unmatched rows are zero/False.
    """
    idx = match0.clamp(min=0)
    hit = (match0 >= 0)[:, None]
    if tokens1.shape[0] == 0:
        n0 = match0.shape[0]
        return tokens1.new_zeros(n0, *tokens1.shape[1:]), valid1.new_zeros(n0, valid1.shape[1])
    return tokens1[idx] * hit[..., None].to(tokens1.dtype), valid1[idx] & hit
