"""OCVA: shapes, dependence on the matched target, the no-cross-attention switch."""

from __future__ import annotations

import torch

from crossview.model.ocva import OCVA


def test_shapes_and_target_dependence():
    torch.manual_seed(0)
    ocva = OCVA(16, heads=8, depth=2).eval()
    x0, x1 = torch.randn(3, 4, 16), torch.randn(3, 4, 16)
    v1 = torch.ones(3, 4, dtype=torch.bool)
    y = ocva(x0, x1, v1)
    assert y.shape == (3, 4, 16)
    y2 = ocva(x0, torch.randn(3, 4, 16), v1)
    assert not torch.allclose(y, y2)


def test_unmatched_rows_and_masked_keys():
    torch.manual_seed(0)
    ocva = OCVA(16, heads=4, depth=2).eval()
    plain = OCVA(16, heads=4, depth=2, cross_attention=False).eval()
    plain.load_state_dict(ocva.state_dict())
    x0, x1 = torch.randn(2, 4, 16), torch.randn(2, 4, 16)
    v1 = torch.ones(2, 4, dtype=torch.bool)
    v1[1] = False  # object 1 has no match
    y, yp = ocva(x0, x1, v1), plain(x0, x1, v1)
    assert torch.isfinite(y).all()
    assert torch.allclose(y[1], yp[1], atol=1e-6)  # no match: no attention update
    # masked key tokens do not matter
    v1[0, 2:] = False
    x1b = x1.clone()
    x1b[0, 2:] = 100.0
    assert torch.allclose(ocva(x0, x1, v1), ocva(x0, x1b, v1), atol=1e-5)


def test_no_cross_attention_ignores_target():
    torch.manual_seed(0)
    ocva = OCVA(16, heads=4, depth=2, cross_attention=False).eval()
    x0 = torch.randn(2, 4, 16)
    v1 = torch.ones(2, 4, dtype=torch.bool)
    assert torch.equal(ocva(x0, torch.randn(2, 4, 16), v1), ocva(x0, torch.randn(2, 4, 16), v1))
