"""MindCube in its released ``data/`` layout: official settings, parser and overall."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossview.errors import BadInputError
from crossview.eval.benchmarks.mindcube import official_parse, setting_of, split_question
from crossview.eval.config import EvalConfig
from crossview.eval.loaders import load_benchmark
from crossview.eval.runner import run_eval
from tests.eval.public_fixtures import jpeg_bytes, write_replay

Q = (
    "Based on these two views showing the same scene: in which direction did I move from the "
    "first view to the second view? A. Directly left B. Diagonally forward and right "
    "C. Diagonally forward and left D. Directly right"
)


def write_mindcube(root: Path, records: list[dict]) -> Path:
    """The unzipped data.zip of MLL-Lab/MindCube: data/raw/MindCube_tinybench.jsonl with image
    paths relative to data/ (data/other_all_image/<setting>/<scene>/<file>.jpg)."""
    data = root / "data"
    for rec in records:
        for rel in rec["images"]:
            (data / rel).parent.mkdir(parents=True, exist_ok=True)
            (data / rel).write_bytes(jpeg_bytes(120))
    path = data / "raw" / "MindCube_tinybench.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _rec(iid: str, gold: str, setting: str = "among") -> dict:
    imgs = [
        f"other_all_image/{setting}/backpack_002/front_039.jpg",
        f"other_all_image/{setting}/backpack_002/left_123.jpg",
    ]
    return {
        "id": iid,
        "category": ["perpendicular", "P-P", "meanwhile", "self"],
        "type": "0_frame",
        "meta_info": [["black waist bag", "plush toy"], [None, "face"]],
        "question": Q,
        "images": imgs,
        "gt_answer": gold,
    }


def test_official_helpers_follow_the_released_code():
    assert setting_of("among_group002_q0_1_1") == "among"
    assert setting_of("rotation_group000_q1_1") == "rotation"
    assert setting_of("around_rotation_x") == "around"  # checked in this order
    assert setting_of("something") == "other"
    stem, options = split_question(Q)
    assert stem.endswith("second view?")
    assert options == [
        "Directly left",
        "Diagonally forward and right",
        "Diagonally forward and left",
        "Directly right",
    ]
    assert official_parse("<answer>C. Diagonally forward and left</answer>") == "C"
    assert official_parse("E.g. the answer is B") == "E"  # any capital + period wins
    assert official_parse("a. left") is None  # case-sensitive
    assert official_parse("<Answer>B</Answer>") == "B"
    assert official_parse("I pick **A**") == "A"
    assert official_parse("") is None


def test_mindcube_official_score_excludes_translation(tmp_path):
    recs = [
        _rec("among_group002_q0_1_1", "C"),
        _rec("rotation_group000_q1_1", "B", "rotation"),
        _rec("around_group001_q2_1", "A", "around"),
        _rec("translation_group004_q0_1", "D", "translation"),
        _rec("among_group009_q1_2", "B"),
        _rec("among_group010_q0_0", ""),  # no gold: the official evaluator skips it
    ]
    path = write_mindcube(tmp_path / "MindCube", recs)
    bench = load_benchmark(tmp_path / "MindCube")  # the folder is recognised
    assert bench.format == "mindcube" and len(bench.items) == 5
    assert bench.skipped == {"no gt_answer (the official evaluator skips it)": 1}
    it = bench.items[0]
    assert it.prompt_text.startswith("[Task]\nYour task is to analyze")
    assert it.prompt_text.endswith("'<answer>A. Above</answer>'.\n\n[Question]\n" + Q)
    assert it.images[0].path == (path.parent.parent / recs[0]["images"][0]).resolve()
    responses = {
        "among_group002_q0_1_1": "<answer>C. Diagonally forward and left</answer>",
        "rotation_group000_q1_1": "E.g. the answer is B",  # official reads E
        "around_group001_q2_1": "I pick **A**",
        "translation_group004_q0_1": "D",
        "among_group009_q1_2": "<Answer>B</Answer>",
    }
    replay = write_replay(tmp_path / "replay.jsonl", responses)
    s = run_eval(EvalConfig(bench=path, model=f"replay:{replay}", out=tmp_path / "run"))
    off = s["official"]
    assert off["overall"] == pytest.approx(3 / 4) and off["n_overall"] == 4
    assert off["excluded_from_overall"] == ["translation"]
    assert off["by_category"]["translation"] == {"score": 1.0, "n": 1}
    assert off["by_category"]["rotation"]["score"] == 0.0
    assert s["overall"]["accuracy"] == 1.0
    assert off["disagreements"]["ids"] == ["rotation_group000_q1_1"]
    assert s["skipped_records"] == {"no gt_answer (the official evaluator skips it)": 1}


def test_mindcube_bad_records_are_named(tmp_path):
    recs = [_rec("among_1", "F")]
    path = write_mindcube(tmp_path / "m", recs)
    with pytest.raises(BadInputError, match=r"line 1 \(among_1\): gt_answer"):
        load_benchmark(f"mindcube:{path}")
    recs = [_rec("among_1", "A")]
    recs[0]["images"] = ["other_all_image/among/backpack_002/nope.jpg"]
    path.write_text(json.dumps(recs[0]) + "\n")
    with pytest.raises(BadInputError, match=r"images\[0\].*not found"):
        load_benchmark(path)
