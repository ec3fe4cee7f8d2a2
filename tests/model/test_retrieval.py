"""Retrieval: greedy vs Hungarian vs brute force, GT order, reordering."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from crossview.model.retrieval import (
    ContrastiveHead,
    greedy_match,
    hungarian_match,
    masked_mean_pool,
    match,
    reorder,
)


@pytest.mark.parametrize("seed", range(5))
def test_greedy_equals_hungarian_on_permutation(seed):
    rng = np.random.default_rng(seed)
    n = 6
    perm = rng.permutation(n)
    sim = np.eye(n)[perm]
    ones = np.ones(n, bool)
    g, h = greedy_match(sim, ones, ones), hungarian_match(sim, ones, ones)
    assert (g == h).all() and (g == perm).all()


@pytest.mark.parametrize("shape", [(3, 3), (4, 4), (3, 5), (5, 3)])
def test_hungarian_optimal_against_brute_force(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(5):
        sim = rng.normal(size=shape)
        n0, n1 = shape
        m = hungarian_match(sim, np.ones(n0, bool), np.ones(n1, bool))
        got = sum(sim[i, j] for i, j in enumerate(m) if j >= 0)
        k = min(n0, n1)
        best = max(
            sum(sim[i, j] for i, j in zip(rows, cols))
            for rows in itertools.combinations(range(n0), k)
            for cols in itertools.permutations(range(n1), k)
        )
        assert got == pytest.approx(best)
        assert (m >= 0).sum() == k


def test_greedy_takes_best_pair_first():
    sim = np.array([[0.9, 0.8], [0.85, 0.1]])
    ones = np.ones(2, bool)
    assert greedy_match(sim, ones, ones).tolist() == [0, 1]
    assert hungarian_match(sim, ones, ones).tolist() == [1, 0]  # 0.8 + 0.85 > 0.9 + 0.1


def test_invalid_objects_never_match():
    sim = np.ones((3, 3))
    v0, v1 = np.array([True, False, True]), np.array([True, True, False])
    for fn in (greedy_match, hungarian_match):
        m = fn(sim, v0, v1)
        assert m[1] == -1 and set(m[[0, 2]]) == {0, 1}


def test_gt_mode_and_reorder():
    sim = torch.zeros(3, 3)
    t0, t1 = torch.tensor([5, 6, 7]), torch.tensor([7, 5, 9])
    ones = torch.ones(3, dtype=torch.bool)
    m = match("gt", sim, ones, ones, t0, t1)
    assert m.tolist() == [1, -1, 0]
    tok1 = torch.arange(3.0)[:, None, None].expand(3, 2, 4).clone()
    val1 = torch.ones(3, 2, dtype=torch.bool)
    t, v = reorder(tok1, val1, m)
    assert t.shape == (3, 2, 4)
    assert t[0, 0, 0] == 1 and t[2, 0, 0] == 0 and (t[1] == 0).all() and not v[1].any()
    with pytest.raises(ValueError, match="unknown match mode"):
        match("best", sim, ones, ones)


def test_pool_and_head():
    tok = torch.randn(2, 3, 8)
    valid = torch.tensor([[True, True, False], [False, False, False]])
    p = masked_mean_pool(tok, valid)
    assert torch.allclose(p[0], tok[0, :2].mean(0)) and (p[1] == 0).all()
    e = ContrastiveHead(8, 16)(p)
    assert e.shape == (2, 16) and torch.allclose(e.norm(dim=-1), torch.ones(2))
