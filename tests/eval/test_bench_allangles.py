"""All-Angles Bench in its Hugging Face layout (data.json + image folders): the official
VLMEvalKit prompt, ``can_infer`` parsing without a judge, report_acc scores; the VLMEvalKit TSV
of the benchmark still read by the generic TSV loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossview.errors import BadInputError
from crossview.eval.benchmarks import detect_benchmark, get_benchmark
from crossview.eval.benchmarks.allangles import as_prediction, build_prompt, can_infer
from crossview.eval.config import EvalConfig
from crossview.eval.loaders import load_benchmark
from crossview.eval.runner import run_eval
from tests.eval.public_fixtures import jpeg_bytes, write_replay

ABC = {"A": "left", "B": "right", "C": "behind"}


def write_allangles(root: Path, records: list[dict]) -> Path:
    """The clone of huggingface.co/datasets/ch-chenyu/All-Angles-Bench: ``data.json`` at the
    root (a JSON list of {index, folder, category, pair_idx, sourced_dataset, image_path,
    question, A, B, C, answer}; image paths relative to the root, the scene folders beside it).
    Field names per docs/research/benchmarks-allangles-impl.md; the values are made up."""
    for rec in records:
        for rel in rec.get("image_path") or []:
            p = root / rel
            if not p.is_file() and ".." not in rel and not rel.startswith("/"):
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(jpeg_bytes(60 + len(rel)))
    path = root / "data.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=4), encoding="utf-8")
    return path


def _rec(index: int, category: str, options: list[str], answer: str, pair: int) -> dict:
    folder = "egohumans/01_tagging" if index % 2 == 0 else "egoexo4d/cmu_bike01_2"
    rec = {
        "index": index,
        "folder": folder,
        "category": category,
        "pair_idx": pair,
        "sourced_dataset": "EgoHumans" if index % 2 == 0 else "Ego-Exo4D",
        "image_path": [f"{folder}/cam0{k}.jpg" for k in (1, 2, 3)],
        "question": f"Question {index}: across these views, which option is right?",
    }
    rec.update({letter: text for letter, text in zip("ABC", options)})
    rec["answer"] = answer
    return rec


def _records() -> list[dict]:
    dirs = ["left", "right", "behind"]
    views = ["view 1", "view 2", "view 3"]
    return [
        _rec(0, "counting", ["2", "3", "4"], "B", 1),
        _rec(1, "attribute_identification", ["red", "blue", "green"], "A", 0),
        _rec(2, "relative_distance", ["the chair", "the table", "the door"], "C", 3),
        _rec(3, "relative_direction", dirs, "A", 2),
        _rec(4, "relative_direction", dirs, "B", 5),
        _rec(5, "manipulation", ["clockwise", "counterclockwise", "no change"], "B", 4),
        _rec(6, "camera_pose_estimation", views, "C", 7),
        _rec(7, "camera_pose_estimation", views, "A", 6),
        _rec(8, "counting", [1, 2, 3], "C", 9),  # numbers in the file: written as text
        _rec(9, "manipulation", ["clockwise", "counterclockwise", "no change"], "B", 8),
    ]


# ---------------------------------------------------------------------------------------------
# The official helpers, case by case (matching_util.py of the benchmark's VLMEvalKit fork)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("B", "B"),
        ("The answer is (C).", "C"),  # punctuation becomes spaces
        ("**A**", "A"),
        ("Answer: B\n", "B"),
        ("A or B", None),  # two letters: nothing
        ("a", None),  # letters are case-sensitive; the text "a" is in no option
        ("A quick look says right", "A"),  # the article A is a letter token
        ("B)", "B"),
        ("Right, I think", "B"),  # no letter: the one option text inside the answer
        ("BEHIND", "C"),  # text match is case-insensitive
        ("left or right", None),  # two option texts: nothing
        ("Z", "Z"),  # no option letter but Z
        ("Cannot determine the answer.", "Z"),  # a refusal string
        ("Failed to obtain answer via API. left", "A"),  # the option reading gives up, text not
        ("B and Z", "B"),
        ("nothing here", None),
    ],
)
def test_can_infer_reads_as_the_fork_does(answer, expected):
    assert can_infer(answer, dict(ABC)) == expected


def test_can_infer_text_needs_exactly_one_option_inside():
    assert can_infer("counterclockwise", {"A": "clockwise", "B": "counterclockwise"}) is None
    assert can_infer("3 people", {"A": "1", "B": "2", "C": "3"}) == "C"
    assert can_infer("2 or 3", {"A": "1", "B": "2", "C": "3"}) is None


def test_predictions_go_through_the_xlsx_round_trip():
    assert as_prediction("") == "nan"
    assert as_prediction("None") == "nan" and as_prediction("NA") == "nan"
    assert as_prediction(" None") == " None"
    assert as_prediction("x" * 40000) == "x" * 32767
    # "None" would otherwise match an option "none"
    assert can_infer(as_prediction("None"), {"A": "none", "B": "two"}) is None
    assert can_infer("None", {"A": "none", "B": "two"}) == "A"


def test_prompt_is_the_forks_build_prompt_verbatim():
    assert build_prompt("How many people?", ["2", "3", "4"]) == (
        "Question: How many people?\n"
        "Options:\n"
        "A. 2\n"
        "B. 3\n"
        "C. 4\n"
        "Please select the correct answer from the options above. \n"
    )


# ---------------------------------------------------------------------------------------------
# The release: loading, detection, an end-to-end replayed run


def test_allangles_loads_its_released_layout(tmp_path):
    path = write_allangles(tmp_path / "All-Angles-Bench", _records())
    for where in (path.parent, path):
        assert detect_benchmark(where) is get_benchmark("allangles")
    bench = load_benchmark(path.parent)
    assert bench.format == "allangles" and bench.protocol == "published"
    assert [it.id for it in bench.items] == [str(k) for k in range(10)]
    it = bench.items[0]
    assert it.prompt_text == (
        "Question: Question 0: across these views, which option is right?\n"
        "Options:\nA. 2\nB. 3\nC. 4\n"
        "Please select the correct answer from the options above. \n"
    )
    assert it.options == ["2", "3", "4"] and it.answer == "B"
    assert it.type == "counting" and it.categories == ("counting",)
    assert [im.path for im in it.images] == [
        (path.parent / "egohumans/01_tagging" / f"cam0{k}.jpg").resolve() for k in (1, 2, 3)
    ]
    assert it.meta == {
        "index": 0,
        "folder": "egohumans/01_tagging",
        "pair_idx": 1,
        "sourced_dataset": "EgoHumans",
    }
    assert bench.items[8].options == ["1", "2", "3"]
    assert "A. 1\nB. 2\nC. 3\n" in bench.items[8].prompt_text
    assert load_benchmark(f"allangles:{path}").format == "allangles"
    with pytest.raises(BadInputError, match="read as published"):
        load_benchmark(path, protocol="overlay")


def test_allangles_official_score_without_a_judge(tmp_path):
    path = write_allangles(tmp_path / "All-Angles-Bench", _records())
    responses = {
        "0": "B",  # both right
        "1": "The answer is (A).",  # both right
        "2": "I would say A is wrong; the answer is C",  # two letters: judge; robust C, right
        "3": "Left.",  # official by option text: right; robust right
        "4": "A quick look at view 2 says: right",  # official reads the article: A, wrong
        "5": "counterclockwise",  # two option texts inside it: judge; robust B, right
        "6": "Cannot determine the answer from these views.",  # Z; robust: a refusal
        "7": "",  # xlsx makes it "nan": judge; robust: empty
        # "8": no response at all: 0 for both, not sent to a judge
        "9": "<think>The answer is B",  # official B, right; robust: unfinished reasoning
    }
    replay = write_replay(tmp_path / "replay.jsonl", responses)
    s = run_eval(EvalConfig(bench=path.parent, model=f"replay:{replay}", out=tmp_path / "run"))
    off = s["official"]
    # official credits: 0:1 1:1 2:0 3:1 4:0 5:0 6:0 7:0 8:0 9:1 -> 4/10
    assert off["overall"] == pytest.approx(0.4)
    assert off["n_items"] == 10 and off["n_scored"] == 9
    assert off["by_category"] == {
        "attribute_identification": {"score": 1.0, "n": 1},
        "camera_pose_estimation": {"score": 0.0, "n": 2},
        "counting": {"score": 0.5, "n": 2},
        "manipulation": {"score": 0.5, "n": 2},
        "relative_direction": {"score": 0.5, "n": 2},
        "relative_distance": {"score": 0.0, "n": 1},
    }
    assert off["flags"]["needs_llm_judge"]["n"] == 3
    assert off["flags"]["needs_llm_judge"]["ids"] == ["2", "5", "7"]
    assert off["unparsed"] == 3 and off["flags"]["answered_z"]["n"] == 1
    assert off["overall_if_judge_right"] == pytest.approx(0.7)
    # robust (over answered items; 8 failed, so the run is incomplete): right on 0-5 -> 6/9
    assert s["overall"]["accuracy"] == pytest.approx(6 / 9)
    assert s["failed_ids"] == ["8"] and not s["complete"]
    d = off["disagreements"]
    assert d["official_higher"] == 1 and d["robust_higher"] == 3
    assert sorted(d["ids"]) == ["2", "4", "5", "9"]
    # the flags reach the eval line and the report
    from crossview.eval.commands import official_line
    from crossview.eval.report import load_run, markdown_table

    assert official_line(off).endswith("; flagged: answered_z 1, needs_llm_judge 3")
    table = markdown_table([load_run(tmp_path / "run")])
    assert "| 1 | 3 | 3 | answered_z 1, needs_llm_judge 3 |" in table


def test_allangles_bad_records_are_named(tmp_path):
    root = tmp_path / "aa"
    (tmp_path / "outside.jpg").write_bytes(jpeg_bytes(5))

    def load_with(change: dict, n: int = 1) -> None:
        recs = _records()
        recs[n].update(change)
        write_allangles(root, recs)
        load_benchmark(root / "data.json")

    with pytest.raises(BadInputError, match=r"data\.json.*item 1 \(index 1\): answer.*'D'"):
        load_with({"answer": "D"})
    with pytest.raises(BadInputError, match=r"item 1 \(index 1\): answer"):
        load_with({"answer": " A"})  # compared as it is by eval_vanilla
    with pytest.raises(BadInputError, match=r"item 1 \(index 1\): question.*missing"):
        load_with({"question": ""})
    with pytest.raises(BadInputError, match=r"item 1 \(index 1\): C.*follows the empty option B"):
        load_with({"B": None})
    with pytest.raises(BadInputError, match=r"item 2 \(index 2\): image_path\[1\].*leaves"):
        load_with({"image_path": ["egohumans/01_tagging/cam01.jpg", "../outside.jpg"]}, n=2)
    with pytest.raises(BadInputError, match=r"image_path\[0\].*absolute"):
        load_with({"image_path": [str(tmp_path / "outside.jpg")]})
    with pytest.raises(BadInputError, match=r"item 1 \(index 1\): image_path\[2\].*not found"):
        load_with({"image_path": ["a/cam01.jpg", "a/cam02.jpg", "../aa/missing/cam03.jpg"]})
    with pytest.raises(BadInputError, match=r"item 3: index.*missing"):
        load_with({"index": None}, n=3)
    with pytest.raises(BadInputError, match="duplicate id '0'"):
        load_with({"index": 0})
    (root / "data.json").write_text("[{", encoding="utf-8")
    with pytest.raises(BadInputError, match="not valid JSON"):
        load_benchmark(f"allangles:{root}")


def test_detection_is_by_the_fields_and_leaves_the_tsv_alone(tmp_path, allangles_tsv):
    path = write_allangles(tmp_path / "bench", _records()[:2])
    renamed = path.rename(tmp_path / "bench" / "all_angles.json")
    assert detect_benchmark(renamed) is get_benchmark("allangles")
    assert detect_benchmark(renamed.parent) is None  # a folder is recognised by data.json
    other = tmp_path / "other.json"
    other.write_text(json.dumps([{"index": 0, "question": "q", "answer": "A", "image_path": []}]))
    assert detect_benchmark(other) is None
    # the VLMEvalKit TSV of All-Angles stays with the generic TSV loader, unchanged
    assert detect_benchmark(allangles_tsv) is None
    b = load_benchmark(allangles_tsv)
    assert b.format == "tsv" and b.protocol == "published"
    a, yn, ref = b.items
    assert a.id == "0" and len(a.images) == 3 and a.images[0].b64
    assert a.options == ["1", "2", "3", "4"] and a.type == "counting" and a.prompt_text is None
    assert yn.options == ["Yes", "No"] and yn.choice_kind == "yesno"
    assert ref.images == a.images
