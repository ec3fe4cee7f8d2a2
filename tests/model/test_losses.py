"""Losses against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from crossview.model.losses import answer_ce, supcon_loss, total_loss, triplet_loss


def test_supcon_hand_computed():
    s = 1 / math.sqrt(2)
    z = [(1.0, 0.0), (s, s), (0.0, 1.0), (-1.0, 0.0)]
    labels = [0, 0, 1, 0]
    t = 0.5

    def dot(a, b):
        return a[0] * b[0] + a[1] * b[1]

    per_anchor = []
    for i in range(4):
        pos = [p for p in range(4) if p != i and labels[p] == labels[i]]
        if not pos:
            continue
        denom = sum(math.exp(dot(z[i], z[a]) / t) for a in range(4) if a != i)
        per_anchor.append(-sum(dot(z[i], z[p]) / t - math.log(denom) for p in pos) / len(pos))
    expected = sum(per_anchor) / len(per_anchor)
    got = supcon_loss(torch.tensor(z), torch.tensor(labels), temperature=t)
    assert float(got) == pytest.approx(expected, rel=1e-5)


def test_supcon_ignores_negative_labels_and_no_positive_is_zero():
    z = torch.nn.functional.normalize(torch.randn(3, 4), dim=-1)
    assert float(supcon_loss(z, torch.tensor([0, 1, 2]))) == 0.0
    a = supcon_loss(z, torch.tensor([0, 0, -1]))
    b = supcon_loss(z[:2], torch.tensor([0, 0]))
    assert float(a) == pytest.approx(float(b))


def test_triplet_hand_computed():
    anchor = torch.tensor([[1.0, 0.0]])
    positive = torch.tensor([[0.0, 1.0]])
    cands = torch.tensor([[0.0, 1.0], [0.6, 0.8], [-1.0, 0.0]])
    got = triplet_loss(anchor, positive, cands, torch.tensor([3]), torch.tensor([3, 4, 5]), 0.5)
    # hardest negative: (0.6, 0.8) (label 4, similarity 0.6)
    expected = math.sqrt(2) - math.sqrt(0.4**2 + 0.8**2) + 0.5
    assert float(got) == pytest.approx(expected, rel=1e-6)
    easy = triplet_loss(anchor, anchor, cands[2:], torch.tensor([3]), torch.tensor([5]), 0.5)
    assert float(easy) == 0.0  # d(a,p)=0, d(a,n)=2 > margin


def test_answer_ce_and_total():
    logits = torch.randn(1, 4, 7)
    labels = torch.tensor([[-100, -100, 3, 5]])
    expected = (
        -torch.log_softmax(logits[0, 1], -1)[3] - torch.log_softmax(logits[0, 2], -1)[5]
    ) / 2
    assert float(answer_ce(logits, labels)) == pytest.approx(float(expected), rel=1e-6)
    losses = {
        "answer": torch.tensor(2.0),
        "supcon": torch.tensor(3.0),
        "triplet": torch.tensor(4.0),
    }
    w = {"answer": 1.0, "supcon": 1.0, "triplet": 0.1}
    assert float(total_loss(losses, w)) == pytest.approx(5.4)
    assert float(total_loss(losses, w | {"answer": 0.5})) == pytest.approx(4.4)
