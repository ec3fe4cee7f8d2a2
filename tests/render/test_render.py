"""Overlays, markers and SSIM."""

from __future__ import annotations

import numpy as np
import pytest

from crossview.render.markers import Mark, draw_marks, marker_radius
from crossview.render.metrics import ssim
from crossview.render.overlay import draw_overlays
from crossview.render.palette import PALETTE, color_rgb, pick_colors


def test_ssim_identity_noise_and_shift() -> None:
    rng = np.random.default_rng(0)
    img = (rng.random((60, 80, 3)) * 255).astype(np.uint8)
    assert ssim(img, img) == pytest.approx(1.0)
    scores = [
        ssim(img, np.clip(img + rng.normal(0, s, img.shape), 0, 255).astype(np.uint8))
        for s in (5, 20, 60)
    ]
    assert 1 > scores[0] > scores[1] > scores[2]
    other = (rng.random((60, 80, 3)) * 255).astype(np.uint8)
    assert abs(ssim(img, other)) < 0.1  # independent noise: no structure in common
    smooth = np.tile(np.linspace(0, 255, 80, dtype=np.uint8)[None, :, None], (60, 1, 3))
    assert ssim(smooth, np.roll(smooth, 1, axis=1)) > 0.9
    with pytest.raises(ValueError):
        ssim(img, img[:10])


def test_dot_is_outlined_and_scales_with_image() -> None:
    for bg in (0, 255):
        img = np.full((120, 160, 3), bg, np.uint8)
        out = draw_marks(img, [Mark(0, "dot", (80.0, 60.0), "yellow")])
        assert tuple(out[60, 80]) == color_rgb("yellow")
        r = marker_radius(160, 120)
        ray = out[60, int(80 + r) : int(80 + r + 4)].mean(-1)
        # a dark outline shows on white, a light ring on black
        assert (ray < 60).any() if bg == 255 else (ray > 150).any()
    assert marker_radius(1280, 960) == pytest.approx(2 * marker_radius(640, 480))


def test_arrow_draws_from_tail_to_head() -> None:
    img = np.full((100, 100, 3), 128, np.uint8)
    out = draw_marks(img, [Mark(0, "arrow", (20.0, 50.0), "red", (80.0, 50.0))])
    changed = (out != img).any(-1)
    ys, xs = np.nonzero(changed)
    assert xs.min() < 22 and xs.max() > 78 and abs(ys.mean() - 50) < 3
    with pytest.raises(ValueError):
        draw_marks(img, [Mark(0, "arrow", (1.0, 1.0), "red")])


def test_overlay_only_touches_masked_area() -> None:
    img = np.full((50, 60, 3), 90, np.uint8)
    m = np.zeros((50, 60), bool)
    m[10:20, 10:30] = True
    out = draw_overlays(img, [m], ["blue"])
    assert (out[15, 20] != img[15, 20]).any()
    assert (out[40, 50] == img[40, 50]).all()


def test_pick_colors_avoids_and_is_seeded() -> None:
    cs = pick_colors(3, np.random.default_rng(1), avoid={"Red", "blue"})
    assert len(set(cs)) == 3 and not {"red", "blue"} & set(cs)
    assert cs == pick_colors(3, np.random.default_rng(1), avoid={"Red", "blue"})
    with pytest.raises(ValueError):
        pick_colors(len(PALETTE) + 1)
