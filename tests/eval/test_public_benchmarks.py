"""Public benchmarks in their own layout: official score equal to a hand-computed one
(responses the official parsers misread included), our robust score beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossview.errors import BadInputError
from crossview.eval.benchmarks import registry
from crossview.eval.config import EvalConfig
from crossview.eval.loaders import load_benchmark
from crossview.eval.runner import run_eval
from tests.eval.public_fixtures import (
    jpeg_bytes,
    write_mmsi_parquet,
    write_replay,
    write_viewspatial,
)


def _replayed(bench: str | Path, responses: dict[str, str], tmp_path: Path) -> dict:
    replay = write_replay(tmp_path / "replay.jsonl", responses)
    return run_eval(
        EvalConfig(bench=Path(str(bench)), model=f"replay:{replay}", out=tmp_path / "run")
    )


def test_every_benchmark_says_where_it_comes_from():
    for name, spec in registry().items():
        d = spec.describe()
        assert d["name"] == name and d["layout"] and d["published"] and "@" in d["source"]


# ---------------------------------------------------------------------------------------------
# MMSI-Bench


def _mmsi_rows() -> list[dict]:
    q = (
        "Where is the chair relative to me in image 2?"
        "\nOptions: A: left, B: right, C: behind, D: front"
    )
    img = [jpeg_bytes(40), jpeg_bytes(90)]
    return [
        {
            "id": 0,
            "images": img,
            "question_type": "Positional Relationship (Cam.-Obj.)",
            "question": q,
            "answer": "A",
        },
        {
            "id": 1,
            "images": img,
            "question_type": "Positional Relationship (Cam.–Obj.)",
            "question": q,
            "answer": "B",
        },
        {"id": 2, "images": img, "question_type": "Motion (Cam.)", "question": q, "answer": "D"},
        {"id": 3, "images": img, "question_type": "Motion (Cam.)", "question": q, "answer": "A"},
        {"id": 4, "images": img, "question_type": "MSR", "question": q, "answer": "C"},
    ]


def test_mmsi_official_score_and_its_misreads(tmp_path):
    path = write_mmsi_parquet(tmp_path / "MMSI-Bench" / "MMSI_Bench.parquet", _mmsi_rows())
    bench = load_benchmark(path)
    assert bench.format == "mmsi" and len(bench.items) == 5
    it = bench.items[0]
    assert it.options == ["left", "right", "behind", "front"] and len(it.images) == 2
    assert it.prompt_text.endswith(
        "\nAnswer with the option's letter from the given choices directly."
        " Enclose the option's letter within ``."
    )
    # the two dash spellings are one category
    assert bench.items[0].type == bench.items[1].type == "Positional Relationship (Cam.\u2013Obj.)"
    responses = {
        "0": "`A`",  # both right
        "1": "The answer is B.",  # both right
        "2": "D is correct.",  # official: a letter followed by a word is skipped -> nothing
        "3": "I think B. Answer: A",  # official: the first standalone letter, B
        "4": "",  # both wrong
    }
    s = _replayed(path, responses, tmp_path)
    off = s["official"]
    assert off["overall"] == pytest.approx(2 / 5)
    assert s["overall"]["accuracy"] == pytest.approx(4 / 5)
    assert off["disagreements"]["n"] == 2 and off["disagreements"]["robust_higher"] == 2
    assert sorted(off["disagreements"]["ids"]) == ["2", "3"]
    assert off["unparsed"] == 2
    cats = off["by_category"]
    assert cats["Positional Relationship (Cam.\u2013Obj.)"] == {"score": 1.0, "n": 2}
    assert cats["Motion (Cam.)"]["score"] == 0.0 and cats["MSR"]["score"] == 0.0
    # named explicitly and from its folder
    assert load_benchmark(f"mmsi:{path}").format == "mmsi"
    assert load_benchmark(path.parent).format == "mmsi"


def test_mmsi_malformed_rows_are_named(tmp_path):
    rows = _mmsi_rows()
    rows[2]["answer"] = "E"
    path = write_mmsi_parquet(tmp_path / "MMSI_Bench.parquet", rows)
    with pytest.raises(BadInputError, match=r"row 2 \(2\): answer"):
        load_benchmark(path)
    rows = _mmsi_rows()
    rows[1]["question"] = "no options here"
    path = write_mmsi_parquet(tmp_path / "MMSI_Bench.parquet", rows)
    with pytest.raises(BadInputError, match="question"):
        load_benchmark(path)
    with pytest.raises(BadInputError, match="read as published"):
        load_benchmark(path.parent, protocol="overlay")


# ---------------------------------------------------------------------------------------------
# ViewSpatial-Bench


def _viewspatial_records() -> list[dict]:
    coco = "ViewSpatial-Bench/val2017/000000000139.jpg"
    scan = [
        f"ViewSpatial-Bench/scannetv2_val/scene0011_00/original_images/{k}.jpg" for k in (0, 20)
    ]
    choices = "A. right\nB. front-up\nC. back-left\nD. front"
    return [
        {
            "question_type": "Camera perspective - Relative Direction",
            "image_path": [coco],
            "question": "Where is the counter relative to the fridge?",
            "answer": "A. right",
            "choices": choices,
        },
        {
            "question_type": "Camera perspective - Relative Direction",
            "image_path": [coco],
            "question": "Where is the cup relative to the plate?",
            "answer": "B. front-up",
            "choices": choices,
        },
        {
            "question_type": "Person perspective - Scene Simulation Relative Direction",
            "image_path": scan,
            "question": "Standing at the door facing the bed, where is the lamp?",
            "answer": "C. back-left",
            "choices": choices,
        },
        {
            "question_type": "Person perspective - Scene Simulation Relative Direction",
            "image_path": scan,
            "question": "Where is the sink?",
            "answer": "D. front",
            "choices": choices,
        },
    ]


def test_viewspatial_official_score_and_its_misreads(tmp_path):
    path = write_viewspatial(tmp_path / "ViewSpatial-Bench-repo", _viewspatial_records())
    bench = load_benchmark(path)
    assert bench.format == "viewspatial"
    it = bench.items[0]
    # evaluate.py: question + choices + prompt_format, no separator between the first two
    assert it.prompt_text == (
        "Where is the counter relative to the fridge?A. right\nB. front-up\nC. back-left\nD. front"
        "\nReply only to the corresponding option.\nAnswer:"
    )
    assert len(bench.items[2].images) == 2
    responses = {
        "0": "A",
        "1": "Let me think.\nThe answer is B",
        "2": "C\nIt is a good guess",  # official: the last line's article "a" reads as A
        "3": "D.",
    }
    s = _replayed(path, responses, tmp_path)
    off = s["official"]
    assert off["overall"] == pytest.approx(3 / 4) and s["overall"]["accuracy"] == 1.0
    assert off["disagreements"]["ids"] == ["2"]
    assert (
        off["by_category"]["Person perspective - Scene Simulation Relative Direction"]["score"]
        == 0.5
    )


def test_viewspatial_missing_image_and_escape_are_refused(tmp_path):
    recs = _viewspatial_records()
    path = write_viewspatial(tmp_path / "repo", recs)
    recs[1]["image_path"] = ["../../etc/passwd"]
    path.write_text(json.dumps(recs))
    with pytest.raises(BadInputError, match=r"item 1: image_path\[0\].*leaves"):
        load_benchmark(path)
    recs[1]["image_path"] = ["ViewSpatial-Bench/val2017/missing.jpg"]
    path.write_text(json.dumps(recs))
    with pytest.raises(BadInputError, match=r"item 1: image_path\[0\].*not found"):
        load_benchmark(path)


# ---------------------------------------------------------------------------------------------
# crossview suite / crossview benchmarks


def test_suite_runs_every_benchmark_under_a_folder_and_resumes(tmp_path, native_bench):
    import shutil

    from crossview.cli import main
    from crossview.eval.suite import discover

    root = tmp_path / "benchmarks"
    write_mmsi_parquet(root / "MMSI-Bench" / "MMSI_Bench.parquet", _mmsi_rows())
    write_viewspatial(root / "ViewSpatial-Bench", _viewspatial_records())
    shutil.copytree(native_bench.parent, root / "ours")
    # an export inside our dataset is a copy of its questions: not searched
    (root / "ours" / "exports").mkdir()
    (root / "ours" / "exports" / "questions.jsonl").write_text(native_bench.read_text())
    (root / "broken").mkdir()
    (root / "broken" / "MMSI_Bench.parquet").write_bytes(b"not parquet")
    found = discover(root)
    assert [(s, f) for s, _, f in found] == [
        ("mmsi-MMSI-Bench", "mmsi"),
        ("mmsi-broken", "mmsi"),
        ("native-ours-questions", "native"),
        ("viewspatial-ViewSpatial-Bench", "viewspatial"),
    ]
    out = tmp_path / "runs" / "oracle"
    code = main(["suite", "--model", "oracle", "--benchmarks", str(root), "--out", str(out)])
    assert code == 1  # one benchmark is broken; the others ran
    result = json.loads((out / "suite.json").read_text())
    rows = {r["benchmark"]: r for r in result["benchmarks"]}
    assert rows["mmsi-broken"]["status"] == "error" and "parquet" in rows["mmsi-broken"]["error"]
    for slug in ("mmsi-MMSI-Bench", "viewspatial-ViewSpatial-Bench", "native-ours-questions"):
        assert rows[slug]["status"] == "complete" and rows[slug]["accuracy"] == 1.0
        assert (out / slug / "report" / "report.md").is_file()
    # the oracle's replies are read the same by the official parsers
    assert rows["mmsi-MMSI-Bench"]["official"]["overall"] == 1.0
    assert rows["viewspatial-ViewSpatial-Bench"]["official"]["disagreements"] == 0
    assert "official" not in rows["native-ours-questions"]
    report = (out / "mmsi-MMSI-Bench" / "report" / "report.md").read_text()
    assert "| oracle | MMSI-Bench | 100.0 | 100.0 | 0 | 0 | 0 | 0 | - |" in report
    md = (out / "suite.md").read_text()
    assert "| mmsi-MMSI-Bench | 5 | 100.0 | 100.0 |" in md
    assert "## viewspatial-ViewSpatial-Bench" in md and "Motion (Cam.)" in md
    # a second call resumes: nothing is asked again
    before = (out / "mmsi-MMSI-Bench" / "predictions.jsonl").read_text()
    main(["suite", "--model", "oracle", "--benchmarks", str(root), "--out", str(out)])
    assert (out / "mmsi-MMSI-Bench" / "predictions.jsonl").read_text() == before


def test_benchmarks_command_lists_the_registry(capsys):
    from crossview.cli import main

    assert main(["benchmarks", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    names = {r["name"] for r in listed["public"]}
    assert {"mmsi", "viewspatial"} <= names
    assert {r["name"] for r in listed["builtin"]} == {"native", "crossviewer", "crosspoint", "tsv"}


def test_eval_command_prints_the_official_score(tmp_path, capsys):
    from crossview.cli import main

    path = write_viewspatial(tmp_path / "repo", _viewspatial_records())
    replay = write_replay(
        tmp_path / "r.jsonl", {"0": "A", "1": "B", "2": "C\nIt is a good guess", "3": "D"}
    )
    code = main(
        [
            "eval",
            "--bench",
            f"viewspatial:{path}",
            "--model",
            f"replay:{replay}",
            "--out",
            str(tmp_path / "run"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "official ViewSpatial-Bench score 0.7500 (micro mean over items)" in out
    assert "disagree on 1 of 4 items (official higher on 0, ours on 1" in out
    # a protocol the release does not have is refused with the one that works
    code = main(
        [
            "eval",
            "--bench",
            str(path),
            "--model",
            f"replay:{replay}",
            "--protocol",
            "overlay",
            "--out",
            str(tmp_path / "run2"),
        ]
    )
    assert code == 2
    assert "use --protocol published" in capsys.readouterr().err
    code = main(
        [
            "eval",
            "--bench",
            str(path),
            "--model",
            f"replay:{replay}",
            "--protocol",
            "published",
            "--out",
            str(tmp_path / "run3"),
        ]
    )
    assert code == 0
