"""Scoring functions: Wilson intervals, point-in-mask, tables, circular and failures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from crossview.eval.extract import Extraction
from crossview.eval.items import EvalItem, GoldMask
from crossview.eval.scoring import (
    cluster_key,
    clustered_interval,
    free_match,
    gold_point,
    paired_comparison,
    point_in_image,
    point_in_mask,
    random_baseline,
    score,
    summarize,
    t975,
    wilson_interval,
)
from crossview.geometry.masks import rle_encode
from tests.eval.conftest import gold_mask


@pytest.mark.parametrize(("k", "n"), [(0, 10), (5, 10), (8, 10), (10, 10), (1, 3), (37, 120)])
def test_wilson_matches_scipy(k: int, n: int) -> None:
    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(ref.low, abs=1e-9) and hi == pytest.approx(ref.high, abs=1e-9)


def test_wilson_known_values() -> None:
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_point_in_image_and_mask() -> None:
    m = gold_mask()
    assert point_in_image(-0.5, -0.5, 40, 30) and not point_in_image(39.5, 0, 40, 30)
    assert point_in_mask(25, 7, m) and point_in_mask(19.6, 5, m)
    assert not point_in_mask(19.4, 5, m) and not point_in_mask(100, 7, m)


def _point_item() -> EvalItem:
    gm = GoldMask(view=0, width=40, height=30, rle=rle_encode(gold_mask()))
    return EvalItem(
        id="p",
        type="pt",
        question="q",
        options=[],
        answer="point",
        answer_kind="point",
        images=[],
        gold_mask=gm,
    )


def test_score_point_kinds() -> None:
    it = _point_item()
    assert score(it, "point", Extraction((25.0, 7.0))) == (True, "")
    assert score(it, "point", Extraction((2.0, 2.0))) == (False, "")
    assert score(it, "point", Extraction((45.0, 7.0))) == (False, "outside image")
    assert score(it, "point", Extraction(None, "refusal")) == (False, "no answer: refusal")
    assert random_baseline(it) == pytest.approx(50 / 1200)
    u, v = gold_point(it.gold_mask)
    assert point_in_mask(u, v, gold_mask())


def test_free_match() -> None:
    assert free_match("two mugs", "2 mugs")
    assert free_match("it is the mug", "mug")
    assert not free_match("the mug is not the answer, the cup on the left is", "mug")


def _choice(i: str, t: str, n: int = 4) -> EvalItem:
    return EvalItem(
        id=i,
        type=t,
        question="q",
        options=[f"o{k}" for k in range(n)],
        answer="A",
        answer_kind="choice",
        images=[],
        categories=(t.upper(),),
        family="f",
    )


def test_summary_failures_excluded_and_no_answer_wrong() -> None:
    items = [_choice("1", "t1"), _choice("2", "t1"), _choice("3", "t2", 2), _choice("4", "t2", 2)]
    recs = {
        ("1", 0): {"status": "answered", "correct": True, "no_answer": False},
        ("2", 0): {"status": "answered", "correct": False, "no_answer": True},
        ("3", 0): {"status": "failed"},
        ("4", 0): {"status": "answered", "correct": True, "no_answer": False},
    }
    s = summarize(items, recs, {i.id: [0] for i in items}, circular=False)
    assert s["overall"]["n"] == 3 and s["overall"]["correct"] == 2
    assert s["overall"]["no_answer_rate"] == pytest.approx(1 / 3)
    assert s["failed_ids"] == ["3"] and not s["complete"]
    assert s["by_type"]["t1"]["accuracy"] == 0.5 and s["by_type"]["t2"]["accuracy"] == 1.0
    assert s["macro_over_types"] == pytest.approx(0.75)
    assert s["by_type"]["t1"]["random_baseline"] == 0.25
    assert s["by_type"]["t2"]["random_baseline"] == 0.5
    assert s["random_baseline_macro"] == pytest.approx(0.375)
    assert set(s["by_category"]) == {"T1", "T2"}
    assert math.isclose(sum(s["overall"]["ci95"]) / 2, 0.6, abs_tol=0.2)


def test_summary_circular_needs_every_rotation() -> None:
    items = [_choice("1", "t", 2), _choice("2", "t", 2)]
    ok = {"status": "answered", "correct": True, "no_answer": False}
    bad = {"status": "answered", "correct": False, "no_answer": False}
    recs = {("1", 0): ok, ("1", 1): ok, ("2", 0): ok, ("2", 1): bad}
    s = summarize(items, recs, {"1": [0, 1], "2": [0, 1]}, circular=True)
    assert s["overall"]["accuracy"] == 1.0
    assert s["circular"]["overall"]["accuracy"] == 0.5 and s["complete"]
    del recs[("2", 1)]
    s = summarize(items, recs, {"1": [0, 1], "2": [0, 1]}, circular=True)
    assert s["circular"]["failed_ids"] == ["2"] and not s["complete"]


def test_multilabel_categories() -> None:
    it = _choice("1", "t")
    it.categories = ("Color", "Shape")
    s = summarize(
        [it],
        {("1", 0): {"status": "answered", "correct": True, "no_answer": False}},
        {"1": [0]},
        circular=False,
    )
    assert s["by_category"]["Color"]["n"] == 1 and s["by_category"]["Shape"]["n"] == 1
    assert np.isclose(s["overall"]["accuracy"], 1.0)


def test_clustered_interval_widens_with_correlated_scenes() -> None:
    """20 scenes of 15 items: when a scene's items are all right or all wrong the clustered
    interval is far wider than Wilson's; when items are independent the two agree."""
    rng = np.random.default_rng(3)
    scenes = [f"scene:{s}" for s in range(20) for _ in range(15)]
    correlated = [float(s % 2 == 0) for s in range(20) for _ in range(15)]
    independent = rng.permutation(correlated).tolist()
    wl, wh = wilson_interval(int(sum(correlated)), len(correlated))
    lo, hi = clustered_interval(correlated, scenes)
    assert lo < 0.5 < hi and (hi - lo) > 3 * (wh - wl)
    # t with 19 df on the 20 cluster means (each 0 or 1): mean 0.5 +- 2.093 * 0.5 / sqrt(19)
    assert hi - 0.5 == pytest.approx(2.093 * math.sqrt(20 / 19 * 20 * 15**2 * 0.25) / 300)
    lo, hi = clustered_interval(independent, scenes)
    assert 0.7 < (hi - lo) / (wh - wl) < 1.3
    # each item its own cluster: the Wald interval, close to Wilson's at p = 0.5
    lo, hi = clustered_interval(correlated, [str(k) for k in range(len(correlated))])
    assert 0.9 < (hi - lo) / (wh - wl) < 1.1
    assert clustered_interval([1.0, 0.0], ["a", "a"]) == (0.0, 1.0)  # one cluster: unknown
    assert t975(3) == 3.182 and t975(200) == pytest.approx(1.96, abs=1e-3)


def test_summary_reports_clustered_intervals_by_scene() -> None:
    items = [_choice(str(k), "t1") for k in range(12)]
    for k, it in enumerate(items):
        it.meta["provenance"] = {"scene_id": f"s{k // 4}", "rig_id": None}
    recs = {
        (it.id, 0): {"status": "answered", "correct": k < 4, "no_answer": False}
        for k, it in enumerate(items)
    }
    s = summarize(items, recs, {i.id: [0] for i in items}, circular=False)
    o = s["overall"]
    assert o["clusters"] == 3 and cluster_key(items[0]) == "scene:s0"
    assert o["ci95_clustered"][1] - o["ci95_clustered"][0] > o["ci95"][1] - o["ci95"][0]
    assert s["by_type"]["t1"]["clusters"] == 3


def test_paired_comparison_tells_a_real_difference_from_noise() -> None:
    rng = np.random.default_rng(5)
    ids = [str(k) for k in range(400)]
    clusters = {i: f"scene:{int(i) // 10}" for i in ids}
    b = {i: bool(rng.random() < 0.5) for i in ids}
    better = {i: b[i] or bool(rng.random() < 0.4) for i in ids}  # fixes 40% of B's errors
    res = paired_comparison(better, b, clusters)
    assert res["verdict"] == "A better" and res["ci95"][0] > 0 and res["b_only"] == 0
    assert res["difference"] == pytest.approx(res["accuracy_a"] - res["accuracy_b"])
    assert res["clusters"] == 40 and res["n"] == 400
    assert paired_comparison(b, better, clusters)["verdict"] == "B better"
    same = paired_comparison(b, dict(b), clusters)
    assert same["difference"] == 0 and same["verdict"] == "no clear difference"
    noise = {i: bool(rng.random() < 0.5) for i in ids}  # another coin: no clear winner
    assert paired_comparison(noise, b, clusters)["ci95"][0] < 0.05
    assert paired_comparison({"x": True}, {"y": True}, {})["verdict"] == "no shared items"


def test_mean_relative_accuracy_counts_thresholds():
    from crossview.eval.scoring import mean_relative_accuracy

    assert mean_relative_accuracy(2.0, 2.0) == 1.0
    assert mean_relative_accuracy(2.1, 2.0) == 1.0  # 5% error passes every threshold
    # 20% error passes thresholds 0.50..0.80 (1 - t >= 0.2): 7 of 10
    assert mean_relative_accuracy(2.4, 2.0) == pytest.approx(0.7)
    assert mean_relative_accuracy(4.0, 2.0) == 0.0
    assert mean_relative_accuracy(0.3, 0.0) == pytest.approx(0.5)  # absolute error at gold 0
