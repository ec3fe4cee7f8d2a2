"""Tests of crossview.geometry.masks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossview.geometry import (
    mask_area,
    mask_bbox,
    mask_centroid,
    mask_iou,
    rle_area,
    rle_decode,
    rle_encode,
    visible_fraction,
)
from tests.geometry.geometry_strategies import SEEDS

# pycocotools' decode trips a numpy 2 DeprecationWarning (``__array__`` without ``copy``)
# inside pycocotools itself; it is not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


@st.composite
def random_masks(draw: st.DrawFn) -> np.ndarray:
    h = draw(st.integers(1, 40))
    w = draw(st.integers(1, 40))
    p = draw(st.sampled_from([0.0, 0.05, 0.5, 0.95, 1.0]))
    rng = np.random.default_rng(draw(SEEDS))
    return rng.random((h, w)) < p


def _uncompressed_counts(mask: np.ndarray) -> list[int]:
    """COCO uncompressed RLE by hand: column-major runs starting with zeros."""
    flat = mask.T.ravel().astype(int)
    counts, current, run = [], 0, 0
    for value in flat:
        if value == current:
            run += 1
        else:
            counts.append(run)
            current, run = value, 1
    counts.append(run)
    return counts


def _rect(h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


class TestRle:
    @settings(max_examples=200, deadline=None)
    @given(mask=random_masks())
    def test_round_trip_and_area(self, mask: np.ndarray) -> None:
        rle = rle_encode(mask)
        assert rle["size"] == list(mask.shape)
        assert isinstance(rle["counts"], str)
        assert json.loads(json.dumps(rle)) == rle
        decoded = rle_decode(rle)
        assert decoded.dtype == np.bool_ and decoded.shape == mask.shape
        np.testing.assert_array_equal(decoded, mask)
        assert rle_area(rle) == int(mask.sum())
        # bytes counts and uncompressed list counts decode to the same mask.
        as_bytes = {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
        np.testing.assert_array_equal(rle_decode(as_bytes), mask)
        uncompressed = {"size": list(mask.shape), "counts": _uncompressed_counts(mask)}
        np.testing.assert_array_equal(rle_decode(uncompressed), mask)
        assert rle_area(uncompressed) == int(mask.sum())
        assert rle_area(as_bytes) == int(mask.sum())

    def test_non_bool_input(self) -> None:
        m = np.array([[0, 2], [1, 0]], dtype=np.uint8)
        np.testing.assert_array_equal(rle_decode(rle_encode(m)), m != 0)

    def test_known_uncompressed(self) -> None:
        # 2x3 mask, column-major: col0 = [0, 1], col1 = [1, 1], col2 = [0, 0].
        rle = {"size": [2, 3], "counts": [1, 3, 2]}
        expected = np.array([[0, 1, 0], [1, 1, 0]], bool)
        np.testing.assert_array_equal(rle_decode(rle), expected)
        assert rle_area(rle) == 3
        np.testing.assert_array_equal(rle_decode(rle_encode(expected)), expected)

    @pytest.mark.parametrize(
        ("rle", "message"),
        [
            ({"counts": "abc"}, "keys 'size' and 'counts'"),
            ({"size": [2], "counts": "abc"}, r"rle\['size'\]"),
            ({"size": [2, 2], "counts": [1, 2]}, "summing to H \\* W = 4"),
            ({"size": [2, 2], "counts": 5}, r"rle\['counts'\] must be"),
        ],
    )
    def test_malformed(self, rle: dict, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            rle_decode(rle)

    def test_encode_rejects_non_2d(self) -> None:
        with pytest.raises(ValueError, match=r"mask must be a 2-D \(H, W\) mask"):
            rle_encode(np.zeros((2, 3, 1), bool))


class TestMaskMeasures:
    @settings(max_examples=100, deadline=None)
    @given(mask=random_masks())
    def test_area_and_bbox_on_random_masks(self, mask: np.ndarray) -> None:
        assert mask_area(mask) == int(mask.sum())
        box = mask_bbox(mask)
        if not mask.any():
            assert box is None
            assert mask_centroid(mask) is None
            return
        x0, y0, x1, y1 = box
        assert mask[y0:y1, x0:x1].sum() == mask.sum()
        assert mask[y0, x0:x1].any() and mask[y1 - 1, x0:x1].any()
        assert mask[y0:y1, x0].any() and mask[y0:y1, x1 - 1].any()

    def test_rectangle(self) -> None:
        m = _rect(10, 12, 2, 5, 3, 7)  # rows 2..4, cols 3..6
        assert mask_area(m) == 12
        assert mask_bbox(m) == (3, 2, 7, 5)
        assert mask_centroid(m) == pytest.approx((4.5, 3.0))

    def test_single_pixel(self) -> None:
        m = _rect(4, 4, 1, 2, 3, 4)
        assert mask_bbox(m) == (3, 1, 4, 2)
        assert mask_centroid(m) == (3.0, 1.0)

    def test_empty(self) -> None:
        m = np.zeros((3, 3), bool)
        assert mask_area(m) == 0
        assert mask_bbox(m) is None
        assert mask_centroid(m) is None

    def test_iou_known_shapes(self) -> None:
        a = _rect(10, 10, 0, 4, 0, 4)  # 16 px
        b = _rect(10, 10, 2, 6, 2, 6)  # 16 px, overlap 2x2 = 4
        assert mask_iou(a, b) == pytest.approx(4 / 28)
        assert mask_iou(a, a) == 1.0
        assert mask_iou(a, _rect(10, 10, 5, 8, 5, 8)) == 0.0
        empty = np.zeros((10, 10), bool)
        assert mask_iou(empty, empty) == 0.0
        assert mask_iou(a, empty) == 0.0
        assert mask_iou(a, b) == mask_iou(b, a)

    def test_iou_shape_mismatch(self) -> None:
        with pytest.raises(ValueError, match=r"a and b must have the same shape"):
            mask_iou(np.zeros((3, 3)), np.zeros((3, 4)))

    def test_visible_fraction(self) -> None:
        amodal = _rect(10, 10, 0, 4, 0, 5)  # 20 px
        visible = _rect(10, 10, 0, 4, 0, 2)  # 8 px inside the amodal mask
        assert visible_fraction(visible, amodal) == pytest.approx(0.4)
        # Visible pixels outside the amodal mask do not count.
        visible_plus = visible | _rect(10, 10, 8, 10, 8, 10)
        assert visible_fraction(visible_plus, amodal) == pytest.approx(0.4)
        assert visible_fraction(amodal, amodal) == 1.0
        assert visible_fraction(np.zeros_like(amodal), amodal) == 0.0
        assert visible_fraction(visible, np.zeros_like(amodal)) == 0.0
