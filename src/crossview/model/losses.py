"""CrossViewer's losses as standalone functions; their weights come from the config.

total = w_answer * CE + w_supcon * SupCon + w_triplet * Triplet (Eq. 6).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["answer_ce", "supcon_loss", "total_loss", "triplet_loss"]


def supcon_loss(emb: Tensor, labels: Tensor, temperature: float = 0.07) -> Tensor:
    """Supervised contrastive loss (Khosla et al. 2020, the "L_out" form), several positives.

    For anchor i with positives P(i) (other embeddings with its label):
    ``-1/|P(i)| sum_{p in P(i)} log(exp(z_i.z_p/t) / sum_{a != i} exp(z_i.z_a/t))``,
    averaged over anchors that have a positive.

    Args:
        emb: (N, C) L2-normalised embeddings.
        labels: (N,) long labels (track identities); negative labels are ignored.
        temperature: t.

    Returns:
        scalar; 0 (still attached to the graph) when no anchor has a positive.
    """
    keep = labels >= 0
    emb, labels = emb[keep], labels[keep]
    n = emb.shape[0]
    if n < 2:
        return emb.sum() * 0.0
    logits = emb @ emb.T / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=emb.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    pos = (labels[:, None] == labels[None, :]) & ~self_mask
    n_pos = pos.sum(1)
    has = n_pos > 0
    if not has.any():
        return emb.sum() * 0.0
    mean_pos = torch.where(pos, log_prob, torch.zeros_like(log_prob)).sum(1) / n_pos.clamp(min=1)
    return -mean_pos[has].mean()


def triplet_loss(
    anchor: Tensor,
    positive: Tensor,
    candidates: Tensor,
    anchor_labels: Tensor,
    candidate_labels: Tensor,
    margin: float = 0.5,
) -> Tensor:
    """Online hard-negative triplet loss with Euclidean distance.

    The negative of anchor i is the candidate of highest cosine similarity whose label differs
    from the anchor's (mined from the target-side embeddings of the mini-batch).

    Args:
        anchor: (N, C) source embeddings (L2-normalised).
        positive: (N, C) their matched target embeddings (same label).
        candidates: (M, C) target-side embeddings to mine negatives from.
        anchor_labels: (N,) long; candidate_labels: (M,) long.
        margin: the margin.

    Returns:
        scalar: mean of ``relu(d(a, p) - d(a, n) + margin)`` over anchors that have a negative;
        0 (attached) when none has.
    """
    if anchor.shape[0] == 0 or candidates.shape[0] == 0:
        return anchor.sum() * 0.0 + candidates.sum() * 0.0
    sim = anchor @ candidates.T
    neg_ok = anchor_labels[:, None] != candidate_labels[None, :]
    sim = sim.masked_fill(~neg_ok, float("-inf"))
    has = neg_ok.any(1)
    if not has.any():
        return anchor.sum() * 0.0
    neg = candidates[sim.argmax(1)]
    d_pos = (anchor - positive).norm(dim=-1)
    d_neg = (anchor - neg).norm(dim=-1)
    return F.relu(d_pos - d_neg + margin)[has].mean()


def answer_ce(logits: Tensor, labels: Tensor) -> Tensor:
    """Token-level cross-entropy of the answer (next-token shift; -100 is ignored).

    Args:
        logits: (B, L, V); labels: (B, L) long, -100 outside the answer.

    Returns:
        scalar mean over answer tokens; 0 (attached) when there is none.
    """
    lg = logits[:, :-1].float()
    tg = labels[:, 1:]
    if not (tg != -100).any():
        return lg.sum() * 0.0
    return F.cross_entropy(lg.reshape(-1, lg.shape[-1]), tg.reshape(-1), ignore_index=-100)


def total_loss(losses: Mapping[str, Tensor], weights: Mapping[str, float]) -> Tensor:
    """``sum_k weights[k] * losses[k]`` over the losses present (absent terms count 0)."""
    terms = [weights[k] * v for k, v in losses.items() if k in weights and weights[k] != 0]
    if not terms:
        return next(iter(losses.values())) * 0.0
    return torch.stack(terms).sum()
