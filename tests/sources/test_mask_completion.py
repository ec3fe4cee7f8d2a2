"""Mask completion from boxes: GrabCut quality and filter, SAM 2 loading errors."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from crossview.errors import BadInputError, MissingExtraError
from crossview.sources.masks import (
    CompletionConfig,
    box_iou,
    complete_masks,
    load_sam2_predictor,
    resolve_overlaps,
)
from tests.sources.adapter_world import box_of, toy_world


@pytest.fixture(scope="module")
def view():
    return toy_world().views[0]


def test_grabcut_recovers_objects_from_their_boxes(view) -> None:
    boxes = np.array([box_of(view.mask(t)) for t in view.track_ids])
    results = complete_masks(view.image, boxes)
    assert len(results) == len(view.track_ids)
    for tid, r, b in zip(view.track_ids, results, boxes):
        gt = view.mask(tid)
        assert r.mask.shape == gt.shape and r.mask.dtype == bool
        assert (r.mask & gt).sum() / (r.mask | gt).sum() > 0.9
        assert r.kept and r.reason == "" and 0.9 <= r.score <= 1.0
        x0, y0, x1, y1 = b
        assert not r.mask[:y0].any() and not r.mask[y1:].any()  # confined to the box
        assert not r.mask[:, :x0].any() and not r.mask[:, x1:].any()


def test_grabcut_is_deterministic(view) -> None:
    boxes = np.array([box_of(view.mask(t)) for t in view.track_ids])
    a = complete_masks(view.image, boxes)
    b = complete_masks(view.image, boxes)
    assert all((x.mask == y.mask).all() and x.score == y.score for x, y in zip(a, b))


def test_quality_filter_drops_boxes_without_an_object(view) -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, view.image.shape, dtype=np.uint8)
    boxes = np.array([[2, 2, 20, 14], [200, 200, 210, 210]])
    r_table, r_out = complete_masks(view.image, boxes)
    assert not r_table.kept and r_table.reason in ("empty", "low_score", "low_fill")
    assert not r_out.kept and r_out.reason == "bad_box"
    (r_noise,) = complete_masks(noise, np.array([[20, 20, 60, 50]]))
    assert not r_noise.kept


def test_threshold_is_configurable(view) -> None:
    box = np.array([box_of(view.mask(view.track_ids[0]))])
    (r,) = complete_masks(view.image, box, config=CompletionConfig(min_score=1.01))
    assert not r.kept and r.reason == "low_score" and r.mask.any()


def test_unknown_method_lists_the_valid_ones(view) -> None:
    with pytest.raises(BadInputError, match="grabcut, sam2, none"):
        complete_masks(view.image, np.zeros((0, 4)), method="magic")


def test_none_drops_every_box(view) -> None:
    (r,) = complete_masks(view.image, np.array([[10, 10, 30, 30]]), method="none")
    assert not r.kept and r.reason == "no_completion" and not r.mask.any()


def test_sam2_needs_an_existing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="needs a checkpoint"):
        load_sam2_predictor(None)
    with pytest.raises(BadInputError, match="checkpoint file is missing") as info:
        complete_masks(
            np.zeros((8, 8, 3), np.uint8),
            np.zeros((0, 4)),
            method="sam2",
            sam2_checkpoint=tmp_path / "nope.pt",
        )
    assert info.value.file == str(tmp_path / "nope.pt")


@pytest.mark.skipif(importlib.util.find_spec("sam2") is not None, reason="sam2 is installed")
def test_sam2_without_the_package_names_the_extra(tmp_path: Path) -> None:
    ckpt = tmp_path / "sam2.1_hiera_tiny.pt"
    ckpt.write_bytes(b"not really weights")
    with pytest.raises(MissingExtraError) as info:
        load_sam2_predictor(ckpt)
    assert info.value.extra == "sam2" and "crossview[sam2]" in str(info.value)


def test_overlaps_go_to_the_smaller_box() -> None:
    big = np.zeros((10, 10), bool)
    big[1:9, 1:9] = True
    small = np.zeros((10, 10), bool)
    small[3:6, 3:6] = True
    a, b = resolve_overlaps([big, small], np.array([[1, 1, 9, 9], [3, 3, 6, 6]]))
    assert (b == small).all() and not (a & b).any() and (a | b).sum() == big.sum()


def test_box_iou() -> None:
    assert box_iou([0, 0, 2, 2], [0, 0, 2, 2]) == 1.0
    assert box_iou([0, 0, 2, 2], [1, 0, 3, 2]) == pytest.approx(1 / 3)
    assert box_iou([0, 0, 1, 1], [2, 2, 3, 3]) == 0.0


@pytest.mark.skipif(importlib.util.find_spec("sam2") is not None, reason="sam2 is installed")
def test_import_with_sam2_fails_before_any_work(tmp_path: Path) -> None:
    from crossview.sources.adapters import import_dataset

    ckpt = tmp_path / "sam2.pt"
    ckpt.write_bytes(b"x")
    with pytest.raises(MissingExtraError, match=r"crossview\[sam2\]"):
        import_dataset(
            "messytable",
            tmp_path,
            tmp_path / "store",
            mask_completion="sam2",
            sam2_checkpoint=ckpt,
        )
    assert not (tmp_path / "store").exists()
