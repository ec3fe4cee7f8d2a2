"""SPAR-Bench in its Hugging Face parquet layout: the official prompt, per-task scorer (quirks
included), macro overall and levels, beside crossview's robust score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossview.errors import BadInputError
from crossview.eval.benchmarks import detect_benchmark
from crossview.eval.benchmarks.spar import (
    BBOX_NOTE,
    compute_vci_metric,
    exact_match,
    official_score,
    process_na,
    split_options,
)
from crossview.eval.config import EvalConfig
from crossview.eval.loaders import load_benchmark
from crossview.eval.runner import run_eval
from tests.eval.public_fixtures import jpeg_bytes, write_mmsi_parquet, write_replay

_FEATURES = {
    "id": {"dtype": "int64", "_type": "Value"},
    "img_type": {"dtype": "string", "_type": "Value"},
    "format_type": {"dtype": "string", "_type": "Value"},
    "task": {"dtype": "string", "_type": "Value"},
    "source": {"dtype": "string", "_type": "Value"},
    "image": {"feature": {"_type": "Image"}, "_type": "Sequence"},
    "question": {"dtype": "string", "_type": "Value"},
    "answer": {"dtype": "string", "_type": "Value"},
}


def write_spar_shards(root: Path, rows: list[dict], n_shards: int = 2) -> Path:
    """The jasonzhango/SPAR-Bench snapshot: ``data/test-0000K-of-0000N.parquet``, columns as
    the card's features (id int64, img_type, format_type, task, source, image: a sequence of
    HF ``Image`` = list of ``{bytes, path}`` structs, question, answer), the ``huggingface``
    features in the schema metadata as ``datasets`` writes them; rows dealt out in order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    image_t = pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("img_type", pa.string()),
            ("format_type", pa.string()),
            ("task", pa.string()),
            ("source", pa.string()),
            ("image", image_t),
            ("question", pa.string()),
            ("answer", pa.string()),
        ],
        metadata={"huggingface": json.dumps({"info": {"features": _FEATURES}})},
    )
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    per = -(-len(rows) // n_shards)
    for k in range(n_shards):
        part = rows[k * per : (k + 1) * per]
        cols = {name: [r.get(name) for r in part] for name in schema.names}
        pq.write_table(
            pa.table(cols, schema=schema), data / f"test-{k:05d}-of-{n_shards:05d}.parquet"
        )
    (root / "README.md").write_text("---\ndataset_info: ...\n---\n# SPAR-Bench\n")
    return root


def _images(n: int, seed: int) -> list[dict]:
    return [{"bytes": jpeg_bytes(20 * seed + 10 * k), "path": f"{seed}_{k}.jpg"} for k in range(n)]


REL_Q = (
    "Is the chair (red bbox) to the left or right of the table (blue bbox)?\n"
    "A. left\nB. right\nC. above\nD. below"
)
SPIM_Q = (
    "If you stand at the sofa facing the lamp, where is the door?\n"
    "A. front-left\nB. behind\nC. front-right\nD. left"
)
POS_Q = (
    "The lamp in Image 1 is at [120, 300, 220, 410]. Where is it in Image 2?\n"
    "A. [100, 310, 200, 420]\nB. [600, 100, 700, 200]\nC. [10, 10, 90, 90]\nD. [400, 500, 480, 600]"
)
CAM_Q = (
    "How did the camera move from Image 1 to Image 2?\n"
    "A. forward\nB. backward\nC. left\nD. right and up"
)
VCI_Q = "How should the camera move and turn to go from the first view to the second?"
VCI_GOLD = "move_forward:1,rotate_right:30"


def _row(iid: int, task: str, question: str, answer: str, n_img: int = 1) -> dict:
    multi = task.endswith("_mv") or n_img > 1
    return {
        "id": iid,
        "img_type": "multi_view" if multi else "single_view",
        "format_type": "fill" if answer[0].isdigit() or ":" in answer else "select",
        "task": task,
        "source": "scannet",
        "image": _images(n_img, iid),
        "question": question,
        "answer": answer,
    }


def _rows() -> list[dict]:
    return [
        _row(0, "obj_spatial_relation_oo", REL_Q, "B"),
        _row(1, "obj_spatial_relation_oo", REL_Q, "C"),
        _row(2, "spatial_imagination_oc", SPIM_Q, "B"),
        _row(3, "position_matching", POS_Q, "A", 2),
        _row(4, "camera_motion_infer", CAM_Q, "D", 2),
        _row(5, "depth_prediction_oc", "What is the depth of the towel (red point)?", "1.2"),
        _row(6, "distance_prediction_oo", "How far is the cup from the plate?", "2.0"),
        _row(7, "depth_prediction_oc_mv", "What is the depth of the bed in Image 3?", "3.0", 3),
        _row(8, "distance_prediction_oc_mv", "How far is the desk from the camera?", "1.0", 3),
        _row(9, "depth_prediction_oo", "How much deeper is the mug than the cup?", "0.4"),
        _row(10, "view_change_infer", VCI_Q, VCI_GOLD, 2),
        _row(11, "view_change_infer", VCI_Q, VCI_GOLD, 2),
        _row(12, "view_change_infer", VCI_Q, VCI_GOLD, 2),
    ]


# response, official credit, robust credit (hand-computed)
RESPONSES: dict[str, tuple[str, float, float]] = {
    "0": ("B", 1.0, 1.0),
    # exact_match: '' in 'c' is True -> 1; robust: empty is no answer
    "1": ("", 1.0, 0.0),
    # official compares the first character: 'b'ecause == 'b' -> 1; robust reads A
    "2": ("Because the lamp is behind the sofa, the answer is A.", 1.0, 0.0),
    # ' a' is neither 'a', in 'a', nor starts with 'a' (no strip) -> 0; robust reads A
    "3": (" A", 0.0, 1.0),
    # 'the answer is d.' starts with 't' -> 0
    "4": ("The answer is D.", 0.0, 1.0),
    # |1.5-1.2|/1.2 = 0.25000000000000006 > 1-0.75: 5 thresholds of 10 -> 0.5 officially;
    # crossview's MRA (1e-12 tolerance) counts 0.75 too -> 0.6
    "5": ("1.5", 0.5, 0.6),
    # single-view: the first number, 1 -> |1-2|/2 = 0.5 <= 1-0.5 only -> 0.1; robust: last, 2.0
    "6": ("Between 1 and 2 meters: 2.0", 0.1, 1.0),
    # *_mv: the last number, 2 -> |2-3|/3 = 0.333 <= 0.5,0.45,0.4,0.35 -> 0.4; robust: the cue
    "7": ("Answer: 3.0 (see image 2)", 0.4, 1.0),
    # *_mv without a number: -1 -> 0 (parsed None); robust: a refusal -> 0
    "8": ("I cannot tell.", 0.0, 0.0),
    # no sign in the regex: 0.3 -> |0.3-0.4|/0.4 = 0.25000000000000006 -> 0.5; robust: -0.3 -> 0
    "9": ("-0.3", 0.5, 0.0),
    # every axis exact -> 1; robust: the normalised strings are equal
    "10": (VCI_GOLD, 1.0, 1.0),
    # forward axis: mean_relative_accuracy(gt=1, pred=2) -> |1-2|/2 = 0.5 -> 0.1 (swapped
    # arguments; unswapped it would be 0); the four other axes exact -> (4 + 0.1)/5 = 0.82
    "11": ("move_forward:2,rotate_right:30", 0.82, 0.0),
    # ' rotate_right' (with its space) is an unknown key: rotate axis 0 vs 30 -> |30-0| -> 0;
    # (4 + 0)/5 = 0.8; robust: normalised equal -> 1
    "12": ("move_forward: 1, rotate_right: 30", 0.8, 1.0),
}


def test_official_helpers_follow_the_released_code():
    assert exact_match("", "a") == 1.0 and exact_match("B.", "b") == 1.0
    assert exact_match("Both", "b") == 1.0 and exact_match("\nB", "b") == 0.0
    assert process_na("10^12 and 3.5", "depth_prediction_oc") == 10  # '2' after ^1 is read
    assert process_na("10^12 and 3.5", "depth_prediction_oc_mv") == 3.5
    assert process_na("none", "distance_prediction_oo_mv") == -1
    with pytest.raises(IndexError):
        process_na("none", "distance_prediction_oo")
    # swapped: the error is relative to the prediction (|1-2|/2), not the gold (|2-1|/1)
    assert compute_vci_metric("move_forward:2", "move_forward:1") == pytest.approx(4.1 / 5)
    assert compute_vci_metric("move_forward:1", "move_forward:2") == pytest.approx(4.0 / 5)
    assert official_score("view_change_infer", "Move forward 1 m", VCI_GOLD).credit == 0.0
    assert official_score("depth_prediction_oc", "no idea", "1.0").parsed is None
    assert split_options(CAM_Q) == ["forward", "backward", "left", "right and up"]
    assert split_options("Which? A. yes B. no") == ["yes", "no"]
    assert split_options("No options here.") == []


def test_spar_official_score_levels_and_disagreements(tmp_path):
    root = write_spar_shards(tmp_path / "SPAR-Bench", _rows())
    bench = load_benchmark(root)  # the snapshot folder is recognised
    assert bench.format == "spar" and len(bench.items) == 13 and bench.skipped == {}
    by_id = {it.id: it for it in bench.items}
    assert [it.id for it in bench.items] == [str(k) for k in range(13)]  # shard, row order
    it = by_id["0"]
    assert it.prompt_text == (
        "\n" + REL_Q + "\n\n" + "Answer with the option's letter from the given choices directly."
    )
    assert it.options == ["left", "right", "above", "below"] and it.answer == "B"
    assert it.categories == ("obj_spatial_relation_oo",) and it.meta["level"] == "High"
    assert by_id["3"].prompt_text == (
        "\n" + POS_Q + "\n" + BBOX_NOTE + "\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert len(by_id["3"].images) == 2 and by_id["3"].images[0].b64
    assert by_id["5"].prompt_text == (
        "\nWhat is the depth of the towel (red point)?"
        "\nPlease answer the question using a single word or phrase."
    )
    assert by_id["5"].answer_kind == "number" and by_id["5"].answer == "1.2"
    assert by_id["10"].prompt_text == "\n" + VCI_Q + "\n\n"  # no instruction at all
    assert by_id["10"].answer_kind == "free"
    assert by_id["7"].meta["img_type"] == "multi_view" and by_id["7"].meta["source"] == "scannet"

    replay = write_replay(tmp_path / "replay.jsonl", {k: v[0] for k, v in RESPONSES.items()})
    s = run_eval(EvalConfig(bench=root, model=f"replay:{replay}", out=tmp_path / "run"))
    off = s["official"]
    cats = off["by_category"]
    # per task (official): obj_rel_oo (1+1)/2 = 1, spim_oc 1, pos 0, cam 0, depth_oc 0.5,
    # dist_oo 0.1, depth_oc_mv 0.4, dist_oc_mv 0, depth_oo 0.5, vci (1+0.82+0.8)/3 = 0.87333
    expected = {
        "obj_spatial_relation_oo": 1.0,
        "spatial_imagination_oc": 1.0,
        "position_matching": 0.0,
        "camera_motion_infer": 0.0,
        "depth_prediction_oc": 0.5,
        "distance_prediction_oo": 0.1,
        "depth_prediction_oc_mv": 0.4,
        "distance_prediction_oc_mv": 0.0,
        "depth_prediction_oo": 0.5,
        "view_change_infer": 2.62 / 3,
    }
    assert {k: v["score"] for k, v in cats.items()} == pytest.approx(expected)
    assert cats["obj_spatial_relation_oo"]["n"] == 2 and cats["view_change_infer"]["n"] == 3
    # macro over the 10 tasks present: (1+1+0+0+0.5+0.1+0.4+0+0.5+0.873333)/10 = 0.437333
    assert off["overall"] == pytest.approx(4.373333333 / 10) and off["n_tasks"] == 10
    assert off["sparbench_score"] == pytest.approx(43.73333333)
    # Low: (0.5+0.1+0.4+0+0.5)/5 = 0.3; High: (1+1)/2; Middle officially without
    # view_change_infer: (0+0)/2 = 0; with it (README): 0.873333/3 = 0.291111
    assert off["levels"] == pytest.approx({"Low": 0.3, "Middle": 0.0, "High": 1.0})
    assert off["levels_readme"]["Middle"] == pytest.approx(2.62 / 9)
    # robust: micro over 13 items, (1+0+0+1+1+0.6+1+1+0+0+1+0+1)/13 = 7.6/13
    assert s["overall"]["accuracy"] == pytest.approx(7.6 / 13)
    # disagreements: official higher on 1, 2, 9, 11; robust higher on 3, 4, 5, 6, 7, 12
    dis = off["disagreements"]
    assert dis["n"] == 10 and dis["official_higher"] == 4 and dis["robust_higher"] == 6
    assert sorted(dis["ids"], key=int) == ["1", "2", "3", "4", "5", "6", "7", "9", "11", "12"]
    assert off["unparsed"] == 1  # item 8: no number (MCA replies are compared raw, never None)
    # each item's official credit is the hand-computed one
    spec = detect_benchmark(root)
    assert spec is not None and spec.name == "spar"
    for iid, (text, credit, _) in RESPONSES.items():
        assert spec.official(by_id[iid], text).credit == pytest.approx(credit), iid


def test_spar_is_detected_and_nothing_else_is(tmp_path):
    root = write_spar_shards(tmp_path / "SPAR-Bench", _rows(), n_shards=2)
    shard = root / "data" / "test-00000-of-00002.parquet"
    for p in (root, root / "data", shard):
        spec = detect_benchmark(p)
        assert spec is not None and spec.name == "spar", p
    assert len(load_benchmark(shard).items) == 7  # one shard named alone is read alone
    assert load_benchmark(f"spar:{root}").format == "spar"
    mmsi = write_mmsi_parquet(
        tmp_path / "MMSI-Bench" / "MMSI_Bench.parquet",
        [
            {
                "id": 0,
                "images": [jpeg_bytes(40)],
                "question_type": "MSR",
                "question": "Q?\nOptions: A: x, B: y",
                "answer": "A",
            }
        ],
    )
    assert detect_benchmark(mmsi).name == "mmsi"
    assert detect_benchmark(mmsi.parent).name == "mmsi"
    assert not spec.detect(mmsi) and not spec.detect(mmsi.parent)
    assert not spec.detect(tmp_path / "nothing-here")


def test_spar_bad_records_are_named(tmp_path):
    def broken(k: int, **change: object) -> Path:
        rows = _rows()
        rows[k].update(change)
        return write_spar_shards(tmp_path / f"b{k}{sorted(change)}", rows, n_shards=1)

    shard = "test-00000-of-00001.parquet"
    with pytest.raises(BadInputError, match=rf"{shard}.*row 1 \(1\).*task.*unknown task"):
        load_benchmark(broken(1, task="obj_count"))
    with pytest.raises(BadInputError, match=r"row 0 \(0\).*answer.*'E' is not one of the 4"):
        load_benchmark(broken(0, answer="E"))
    with pytest.raises(BadInputError, match=r"row 2 \(2\).*question.*no options"):
        load_benchmark(broken(2, question="Where is the door?"))
    with pytest.raises(BadInputError, match=r"row 5 \(5\).*answer.*not a number"):
        load_benchmark(broken(5, answer="far"))
    with pytest.raises(BadInputError, match=r"row 10 \(10\).*answer.*action:value"):
        load_benchmark(broken(10, answer="forward 1 m"))
    with pytest.raises(BadInputError, match=r"row 3 \(3\).*image.*non-empty list"):
        load_benchmark(broken(3, image=[]))
    with pytest.raises(BadInputError, match=r"row 4 \(4\).*image\[0\].*no image bytes"):
        load_benchmark(broken(4, image=[{"bytes": None, "path": "x.jpg"}]))
    with pytest.raises(BadInputError, match=r"row 6 \(6\).*question.*missing"):
        load_benchmark(broken(6, question=""))
    # a snapshot with a shard missing is refused, naming the shard
    root = write_spar_shards(tmp_path / "partial", _rows(), n_shards=2)
    (root / "data" / "test-00001-of-00002.parquet").unlink()
    with pytest.raises(BadInputError, match=r"test-00001-of-00002\.parquet is missing"):
        load_benchmark(root)
