"""BLINK's multi-view subtasks in the Hugging Face parquet layout: the official rule-based
reader (``analyze_answer`` without its GPT-3.5 step), per-subtask and mean-of-subtasks scores,
the hidden test split, malformed records, detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossview.errors import BadInputError
from crossview.eval.benchmarks import detect_benchmark
from crossview.eval.benchmarks.blink import TEST_SKIP_REASON, analyze_answer, task_of
from crossview.eval.config import EvalConfig
from crossview.eval.loaders import load_benchmark
from crossview.eval.runner import run_eval
from tests.eval.public_fixtures import jpeg_bytes, write_mmsi_parquet, write_replay

MVR_PROMPT = (
    "The images are frames from a video. The video is shooting a static scene. The camera is "
    "either moving clockwise (left) or counter-clockwise (right) around the object. The first "
    "image is from the beginning of the video and the second image is from the end. Is the "
    "camera moving left or right when shooting the video? Select from the following options."
    "\n(A) left\n(B) right"
)
VC_PROMPT = (
    "A point is circled on the first image, labeled with REF. We change the camera position or "
    "lighting and shoot the second image. You are given multiple red-circled points on the "
    'second image, choices of "A, B, C, D" are drawn beside each circle. Which point on the '
    "second image corresponds to the point in the first image? Select from the following "
    "options.\n(A) Point A\n(B) Point B\n(C) Point C\n(D) Point D"
)
MVR = ("Multi-view_Reasoning", "Is the camera moving left or right when shooting the video?")
VC = (
    "Visual_Correspondence",
    "Which point on the second image corresponds to the point in the first image?",
)
_FEATURES = {
    "idx": {"dtype": "string", "_type": "Value"},
    "question": {"dtype": "string", "_type": "Value"},
    "sub_task": {"dtype": "string", "_type": "Value"},
    **{f"image_{k}": {"_type": "Image"} for k in range(1, 5)},
    "choices": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"},
    "answer": {"dtype": "string", "_type": "Value"},
    "prompt": {"dtype": "string", "_type": "Value"},
    "explanation": {"dtype": "string", "_type": "Value"},
}


def write_blink_shard(path: Path, rows: list[dict]) -> Path:
    """One shard of huggingface.co/datasets/BLINK-Benchmark/BLINK as ``datasets`` writes it
    (``<config>/val-00000-of-00001.parquet``): idx, question, sub_task, image_1..image_4 as
    ``struct<bytes: binary, path: string>`` (null when the question has fewer images),
    choices (list of strings), answer (``"(A)"``.., ``"hidden"`` in test), prompt, explanation
    (field names from zeyofu/BLINK_Benchmark@2d6a779 eval/test_benchmark.py; sub_task from
    lmms-eval's blink/utils.py; explanation reported by third-party copies, unconfirmed)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    cols: dict[str, pa.Array] = {
        "idx": pa.array([r["idx"] for r in rows], pa.string()),
        "question": pa.array([r["question"] for r in rows], pa.string()),
        "sub_task": pa.array([r["sub_task"] for r in rows], pa.string()),
    }
    for k in range(1, 5):
        cells = [r["images"][k - 1] if k <= len(r["images"]) else None for r in rows]
        cols[f"image_{k}"] = pa.array(
            [None if c is None else {"bytes": c, "path": None} for c in cells], image
        )
    cols["choices"] = pa.array([r["choices"] for r in rows], pa.list_(pa.string()))
    for key in ("answer", "prompt"):
        cols[key] = pa.array([r[key] for r in rows], pa.string())
    cols["explanation"] = pa.array([r.get("explanation", "") for r in rows], pa.string())
    table = pa.table(cols).replace_schema_metadata(
        {"huggingface": json.dumps({"info": {"features": _FEATURES}})}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def _row(task: tuple[str, str], n: int, answer: str, split: str = "val") -> dict:
    name, question = task
    mvr = name == "Multi-view_Reasoning"
    return {
        "idx": f"{split}_{name}_{n}",
        "question": question,
        "sub_task": name,
        "images": [jpeg_bytes(30 + n), jpeg_bytes(200 - n)],
        "choices": ["left", "right"] if mvr else ["Point A", "Point B", "Point C", "Point D"],
        "answer": answer,
        "prompt": MVR_PROMPT if mvr else VC_PROMPT,
    }


def _snapshot(root: Path) -> Path:
    """The dataset folder: both multi-view configs (Multi-view_Reasoning with its hidden test
    shard) and a config crossview does not read."""
    mvr = [_row(MVR, k, a) for k, a in enumerate(["(B)", "(A)", "(B)", "(B)"], start=1)]
    vc = [_row(VC, k, a) for k, a in enumerate(["(C)", "(D)", "(A)", "(B)", "(A)"], start=1)]
    write_blink_shard(root / "Multi-view_Reasoning" / "val-00000-of-00001.parquet", mvr)
    write_blink_shard(
        root / "Multi-view_Reasoning" / "test-00000-of-00001.parquet",
        [_row(MVR, k, "hidden", "test") for k in (1, 2)],
    )
    write_blink_shard(root / "Visual_Correspondence" / "val-00000-of-00001.parquet", vc)
    counting = _row(("Counting", "How many blue floats are there?"), 1, "(A)")
    counting["images"] = counting["images"][:1]
    write_blink_shard(root / "Counting" / "val-00000-of-00001.parquet", [counting])
    return root


def test_analyze_answer_follows_the_released_code():
    assert analyze_answer("A", 2).prediction == "(A)"
    assert analyze_answer("(B)", 2).prediction == "(B)"
    # the exact-match shortcuts come before the cut to the item's choices
    assert analyze_answer("E", 2).prediction == "(E)"
    assert analyze_answer("(E)", 4) == (analyze_answer("(E)", 4).prediction, False)
    # tokens must be exactly "(X)": punctuation, bare letters, restated options: GPT-3.5
    for text in ("(A).", "A\n", "Answer: A", "Point D", "", "I cannot tell"):
        assert analyze_answer(text, 4) == (None, True), text
    # one token in the whole response
    assert analyze_answer("I think it is (B) because of the shelf", 2).prediction == "(B)"
    # several in the whole response, one in the last paragraph: the last paragraph's
    assert analyze_answer("(A) or (B)?\n\nSo (B) right", 2).prediction == "(B)"
    assert analyze_answer("The answer is (B).\n\n(A) would be wrong", 2).prediction == "(A)"
    # several everywhere: GPT-3.5
    assert analyze_answer("(A) or (B)", 2).needs_llm
    # tokens outside the item's choices do not count
    assert analyze_answer("(C) is not an option; (A)", 2).prediction == "(A)"
    assert analyze_answer("(C) (D)", 2).needs_llm
    assert task_of("val_Multi-view_Reasoning_17", "val") == "Multi-view_Reasoning"
    assert task_of("test_Visual_Correspondence_3", "test") == "Visual_Correspondence"


def test_blink_official_score_per_subtask_and_its_misreads(tmp_path):
    root = _snapshot(tmp_path / "BLINK")
    bench = load_benchmark(root)
    assert bench.format == "blink" and len(bench.items) == 9  # Counting is not read
    assert bench.skipped == {TEST_SKIP_REASON: 2}
    it = bench.items[0]
    assert it.id == "val_Multi-view_Reasoning_1" and it.type == "Multi-view_Reasoning"
    assert it.prompt_text == MVR_PROMPT  # d['prompt'] verbatim
    assert it.options == ["left", "right"] and it.answer == "B"
    assert [im.read_bytes() for im in it.images] == [jpeg_bytes(31), jpeg_bytes(199)]
    vc = bench.items[4]
    assert vc.type == "Visual_Correspondence" and vc.prompt_text == VC_PROMPT
    assert vc.answer == "C" and len(vc.options) == 4
    responses = {
        "val_Multi-view_Reasoning_1": "(B)",  # both right
        "val_Multi-view_Reasoning_2": "A",  # both right
        # official: two tokens, the last paragraph's single one wins: (A)
        "val_Multi-view_Reasoning_3": "The answer is (B) right.\n\n(A) would be the reverse.",
        # official: (B), the only "(X)" token; ours: the last mention, A
        "val_Multi-view_Reasoning_4": "(B)\n\nI am not sure; it could also be A.",
        "val_Visual_Correspondence_1": "(C)",  # both right
        "val_Visual_Correspondence_2": "Point D",  # official: GPT-3.5 needed -> 0; ours: D
        "val_Visual_Correspondence_3": "(E)",  # official: "(E)" != "(A)"; ours: not an option
        "val_Visual_Correspondence_4": "(A) and (C) are off the handle.\n\n(B) Point B",
        "val_Visual_Correspondence_5": "The REF point is on the cup.\n\nAnswer: (A).",  # GPT-3.5
    }
    replay = write_replay(tmp_path / "replay.jsonl", responses)
    s = run_eval(EvalConfig(bench=root, model=f"replay:{replay}", out=tmp_path / "run"))
    off = s["official"]
    # Multi-view_Reasoning 3/4, Visual_Correspondence 2/5; evaluate.py's Total is their mean
    assert off["by_category"]["Multi-view_Reasoning"] == {"score": 0.75, "n": 4}
    assert off["by_category"]["Visual_Correspondence"] == {"score": 0.4, "n": 5}
    assert off["overall"] == pytest.approx((3 / 4 + 2 / 5) / 2)  # 0.575
    assert off["micro"] == pytest.approx(5 / 9)
    assert off["flags"]["needs_llm_matcher"] == {
        "n": 2,
        "by_category": {"Visual_Correspondence": 2},
        "ids": ["val_Visual_Correspondence_2", "val_Visual_Correspondence_5"],
    }
    assert off["unparsed"] == 2 and off["n_scored"] == 9
    # ours: 3/4 and 4/5, micro 7/9
    assert s["overall"]["accuracy"] == pytest.approx(7 / 9)
    d = off["disagreements"]
    assert d["n"] == 4 and d["official_higher"] == 1 and d["robust_higher"] == 3
    assert sorted(d["ids"]) == [
        "val_Multi-view_Reasoning_3",
        "val_Multi-view_Reasoning_4",
        "val_Visual_Correspondence_2",
        "val_Visual_Correspondence_5",
    ]
    assert s["skipped_records"] == {TEST_SKIP_REASON: 2}


def test_blink_test_split_is_refused_with_the_way_out(tmp_path):
    root = _snapshot(tmp_path / "BLINK")
    test_shard = root / "Multi-view_Reasoning" / "test-00000-of-00001.parquet"
    with pytest.raises(BadInputError, match=r"answers are hidden.*val split") as err:
        load_benchmark(test_shard)
    assert err.value.file == str(test_shard)
    # a folder with test shards only
    (root / "Multi-view_Reasoning" / "val-00000-of-00001.parquet").unlink()
    with pytest.raises(BadInputError, match=r"no val shard.*Multi-view_Reasoning/"):
        load_benchmark(root / "Multi-view_Reasoning")
    # a val shard whose answer is hidden names the record
    rows = [_row(MVR, 1, "(A)"), _row(MVR, 2, "hidden")]
    path = write_blink_shard(tmp_path / "x" / "Multi-view_Reasoning" / "val-0.parquet", rows)
    with pytest.raises(BadInputError, match=r"row 1 \(val_Multi-view_Reasoning_2\): answer: "):
        load_benchmark(path)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda r: r.update(answer="(C)"), r"row 1 \(val_Multi-view_Reasoning_2\): answer: "),
        (lambda r: r.update(answer="B"), r"row 1 \(val_Multi-view_Reasoning_2\): answer: "),
        (lambda r: r.update(images=r["images"][:1]), r"\(val_Multi-view_Reasoning_2\): image_2"),
        (lambda r: r.update(choices=[]), r"\(val_Multi-view_Reasoning_2\): choices: "),
        (lambda r: r.update(prompt=""), r"\(val_Multi-view_Reasoning_2\): prompt: missing"),
        (lambda r: r.update(idx="val_Counting_2"), r"\(val_Counting_2\): idx: .*'Counting'"),
        (lambda r: r.update(idx="test_Multi-view_Reasoning_2"), r"\): idx: .*'val_'"),
    ],
)
def test_blink_bad_records_are_named(tmp_path, change, where):
    rows = [_row(MVR, 1, "(A)"), _row(MVR, 2, "(B)")]
    change(rows[1])
    path = write_blink_shard(tmp_path / "Multi-view_Reasoning" / "val-00000-of-00001.parquet", rows)
    with pytest.raises(BadInputError, match=where) as err:
        load_benchmark(path)
    assert err.value.file == str(path)


def test_blink_missing_column_and_unreadable_shard(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "Multi-view_Reasoning" / "val-00000-of-00001.parquet"
    path.parent.mkdir()
    pq.write_table(pa.table({"idx": ["val_Multi-view_Reasoning_1"], "prompt": ["p"]}), path)
    with pytest.raises(BadInputError, match=r"lacks column.*answer"):
        load_benchmark(tmp_path)
    path.write_bytes(b"not parquet")  # the folder is still recognised; the shard fails loudly
    with pytest.raises(BadInputError, match="not a readable parquet"):
        load_benchmark(tmp_path)


def test_blink_detection(tmp_path):
    root = _snapshot(tmp_path / "BLINK")
    shard = root / "Visual_Correspondence" / "val-00000-of-00001.parquet"
    for p in (root, root / "Multi-view_Reasoning", shard):
        spec = detect_benchmark(p)
        assert spec is not None and spec.name == "blink", p
    assert len(load_benchmark(shard).items) == 5
    assert len(load_benchmark(f"blink:{root / 'Visual_Correspondence'}").items) == 5
    # a shard moved out of its config folder is recognised by its columns and its idx
    moved = tmp_path / "elsewhere" / "val-00000-of-00001.parquet"
    moved.parent.mkdir()
    moved.write_bytes(shard.read_bytes())
    assert detect_benchmark(moved).name == "blink"
    # ... but not a shard of another BLINK subtask, nor another config folder, nor a parent
    other = tmp_path / "other" / "val-00000-of-00001.parquet"
    other.parent.mkdir()
    other.write_bytes((root / "Counting" / "val-00000-of-00001.parquet").read_bytes())
    assert detect_benchmark(other) is None
    assert detect_benchmark(root / "Counting") is None
    assert detect_benchmark(tmp_path) is None
    # MMSI-Bench's parquet is not BLINK's, and BLINK's is not MMSI's
    mmsi_row = {
        "id": 0,
        "images": [jpeg_bytes(1)],
        "question_type": "MSR",
        "question": "q\nOptions: A: a, B: b",
        "answer": "A",
    }
    mmsi = write_mmsi_parquet(tmp_path / "mmsi" / "val-00000-of-00001.parquet", [mmsi_row])
    assert detect_benchmark(mmsi) is None
    assert detect_benchmark(mmsi.parent) is None
    assert detect_benchmark(root).name == "blink"
