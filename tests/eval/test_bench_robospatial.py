"""RoboSpatial-Home in its released layouts: the official yes/no prefix rule, the first-point
parser, the even-odd polygon test, the micro overall and the leaderboard's macro means."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crossview.errors import BadInputError
from crossview.eval.benchmarks import detect_benchmark
from crossview.eval.benchmarks.robospatial import (
    official_point,
    official_yesno,
    parse_polygon,
    point_in_polygon,
    polygon_mask,
)
from crossview.eval.config import EvalConfig
from crossview.eval.loaders import load_benchmark
from crossview.eval.runner import run_eval
from tests.eval.public_fixtures import write_replay

SQUARE = "[(0.1, 0.1), (0.5, 0.1), (0.5, 0.5), (0.1, 0.5)]"
CONTEXT_Q = (
    "In the image, there is a bowl. Pinpoint several points within the vacant space situated "
    "to the left of the bowl. Your answer should be formatted as a list of tuples, i.e. "
    "[(x1, y1), ...], where each tuple contains the x and y coordinates of a point satisfying "
    "the conditions above. The coordinates should be between 0 and 1, indicating the "
    "normalized pixel locations of the points."
)


def png_bytes(value: int, size: tuple[int, int] = (40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def write_annotations(root: Path, records: list[dict]) -> Path:
    """What download_benchmark.py writes: ``annotations.json`` (one list over the three
    splits, paths relative to the root) and ``images/img_{split}_{idx}.png`` with its depth
    and mask siblings (docs/research/benchmarks-a.md section 2)."""
    out, idx = [], {}
    for rec in records:
        split = rec["category"]
        n = idx.setdefault(split, 0)
        idx[split] += 1
        paths = {k: f"images/{k}_{split}_{n}.png" for k in ("img", "depth", "mask")}
        for p in paths.values():
            (root / p).parent.mkdir(parents=True, exist_ok=True)
            (root / p).write_bytes(png_bytes(90))
        out.append(
            {
                "category": split,
                "question": rec["question"],
                "answer": rec["answer"],
                "img": paths["img"],
                "depth_image": paths["depth"],
                "mask": paths["mask"],
            }
        )
    path = root / "annotations.json"
    path.write_text(json.dumps(out, indent=4), encoding="utf-8")
    return path


def write_hub_parquet(root: Path, records: list[dict]) -> list[Path]:
    """The hub's parquet release: ``data/{split}-00000-of-00001.parquet`` with columns
    category, question, answer and the image features img, depth_image, mask as
    ``{bytes, path}`` structs (how ``datasets`` stores an Image feature)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    img = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    files = []
    for split in sorted({r["category"] for r in records}):
        rows = [r for r in records if r["category"] == split]
        cell = [{"bytes": png_bytes(90), "path": None} for _ in rows]
        table = pa.table(
            {
                "category": [r["category"] for r in rows],
                "question": [r["question"] for r in rows],
                "answer": [r["answer"] for r in rows],
                "img": pa.array(cell, img),
                "depth_image": pa.array(cell, img),
                "mask": pa.array(cell, img),
            }
        )
        path = root / "data" / f"{split}-00000-of-00001.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        files.append(path)
    return files


RECORDS = [
    {"category": "configuration", "question": "Is the mug left of the bowl? Answer yes or no.",
     "answer": "Yes"},
    {"category": "compatibility", "question": "Can the cup fit above the counter? Answer yes "
     "or no.", "answer": "No"},
    {"category": "configuration", "question": "Is the picture above the desk? Answer yes or "
     "no.", "answer": "Yes"},
    {"category": "context", "question": CONTEXT_Q, "answer": SQUARE},
    {"category": "context", "question": CONTEXT_Q, "answer": SQUARE},
    {"category": "context", "question": CONTEXT_Q, "answer": SQUARE},
    {"category": "compatibility", "question": "Can the box fit in the drawer? Answer yes or "
     "no.", "answer": ""},  # empty answer: the official evaluator skips it
    {"category": "configuration", "question": "Is the lamp behind the sofa? Answer yes or no.",
     "answer": "No"},
]  # fmt: skip

RESPONSES = {
    "configuration_0": "Yes, it is.",  # official 1, robust 1
    "compatibility_0": "Not sure",  # official 1 (starts with "no"), robust: no answer, 0
    "configuration_1": "The answer is yes",  # official 0 (does not start with yes), robust 1
    "context_0": "[(0.3, 0.3), (0.9, 0.9)]",  # official: first point, inside; robust: last, out
    "context_1": "(50, 50)",  # never rescaled: outside the unit square for both
    "context_2": '{"point_2d": [0.2, 0.4]}',  # official via "[x, y]", robust keyed: both in
    "configuration_2": "no.",  # both right
}


def test_official_helpers_follow_evaluation_py():
    assert official_yesno("Yes", "  YES, it is") == (True, "yes")
    assert official_yesno("No", "None of them") == (True, "no")
    assert official_yesno("Yes", "The answer is yes") == (False, None)
    assert official_point("I'd say (0.25, 0.5) and (0.9, 0.9)") == (0.25, 0.5)
    assert official_point("[0.3, 0.7]") == (0.3, 0.7)
    assert official_point("points: [(0.1,0.2),(0.3,0.4),]") == (0.1, 0.2)
    assert official_point("[[0.4, 0.6], [0.1, 0.1]]") == (0.4, 0.6)
    assert official_point("x=0.5, y=0.5") is None
    assert official_point("(-0.1, 0.5)") is None  # unsigned decimals only
    assert parse_polygon("[(0, 0), (1, 0)]") is None  # fewer than 3 vertices
    assert parse_polygon("[(0, 0), (1, 0), (1, 'a')]") is None
    square = parse_polygon(SQUARE)
    assert point_in_polygon(0.3, 0.3, square) and not point_in_polygon(0.6, 0.3, square)


def test_polygon_mask_is_the_official_test_at_pixel_centres():
    rng = np.random.default_rng(3)
    w, h = 37, 23
    for _ in range(5):
        poly = [tuple(p) for p in rng.random((6, 2))]  # self-intersecting: even-odd matters
        mask = polygon_mask(poly, w, h)
        want = np.array(
            [
                [point_in_polygon((c + 0.5) / w, (r + 0.5) / h, poly) for c in range(w)]
                for r in range(h)
            ]
        )
        if want.any():
            np.testing.assert_array_equal(mask, want)
    sliver = [(0.5, 0.5), (0.5001, 0.5), (0.5, 0.5001)]  # covers no pixel centre
    assert polygon_mask(sliver, w, h).sum() >= 1


def test_robospatial_official_scores_equal_hand_computed(tmp_path):
    root = tmp_path / "RoboSpatial-Home"
    path = write_annotations(root, RECORDS)
    assert detect_benchmark(root).name == "robospatial"
    bench = load_benchmark(root)
    assert bench.format == "robospatial"
    ids = [it.id for it in bench.items]
    assert ids == [k for k in RESPONSES]  # compatibility_1 is skipped, its index kept
    assert bench.skipped == {"empty question or answer (the official evaluator skips it)": 1}
    ctx = bench.items[3]
    assert ctx.prompt_text == CONTEXT_Q  # sent verbatim
    assert ctx.answer_kind == "point" and ctx.coord_format == "relative"
    assert (ctx.gold_mask.width, ctx.gold_mask.height) == (40, 30)
    assert ctx.images[0].path == (path.parent / "images/img_context_0.png").resolve()
    replay = write_replay(tmp_path / "replay.jsonl", RESPONSES)
    s = run_eval(EvalConfig(bench=root, model=f"replay:{replay}", out=tmp_path / "run"))
    off = s["official"]
    # official: configuration 0,1,2 -> 1,0,1; compatibility 0 -> 1; context 0,1,2 -> 1,0,1
    assert off["overall"] == pytest.approx(5 / 7)
    assert off["by_category"]["configuration"] == {"score": pytest.approx(2 / 3), "n": 3}
    assert off["by_category"]["compatibility"] == {"score": 1.0, "n": 1}
    assert off["by_category"]["context"] == {"score": pytest.approx(2 / 3), "n": 3}
    assert off["vqa_avg"] == pytest.approx((2 / 3 + 1) / 2)
    assert off["macro_overall"] == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)
    # robust: 1, 0, 1, 0, 0, 1, 1 (whatever --coord-format: the items fix 0-1 coordinates)
    assert s["overall"]["accuracy"] == pytest.approx(4 / 7)
    d = off["disagreements"]
    assert (d["n"], d["official_higher"], d["robust_higher"]) == (3, 2, 1)
    assert set(d["ids"]) == {"compatibility_0", "configuration_1", "context_0"}
    assert s["skipped_records"] == {"empty question or answer (the official evaluator skips it)": 1}


def test_oracle_answers_context_items_in_their_own_coordinates(tmp_path):
    root = tmp_path / "rs"
    write_annotations(root, RECORDS)
    s = run_eval(EvalConfig(bench=root, model="oracle", out=tmp_path / "run"))
    assert s["overall"]["accuracy"] == 1.0  # absolute run, relative items: still all right
    assert s["official"]["by_category"]["context"]["score"] == 1.0


def test_hub_parquet_release_loads_the_same_items(tmp_path):
    write_hub_parquet(tmp_path / "hub", RECORDS)
    assert detect_benchmark(tmp_path / "hub").name == "robospatial"
    bench = load_benchmark(f"robospatial:{tmp_path / 'hub'}")
    cats = sorted(it.type for it in bench.items)
    assert cats == ["compatibility"] + ["configuration"] * 3 + ["context"] * 3
    assert bench.skipped == {"empty question or answer (the official evaluator skips it)": 1}
    assert all(it.images[0].b64 for it in bench.items)


def test_bad_records_are_named(tmp_path):
    recs = [dict(RECORDS[3], answer="[(0.1, 0.1), (0.2, 0.2)]")]
    write_annotations(tmp_path / "a", recs)
    with pytest.raises(BadInputError, match=r"item 0.*answer.*at least 3"):
        load_benchmark(tmp_path / "a")
    path = write_annotations(tmp_path / "b", RECORDS[:1])
    data = json.loads(path.read_text())
    data[0]["img"] = "../../outside.png"
    path.write_text(json.dumps(data))
    with pytest.raises(BadInputError, match=r"item 0.*img"):
        load_benchmark(path)
    data[0]["img"] = "images/missing.png"
    path.write_text(json.dumps(data))
    with pytest.raises(BadInputError, match=r"img.*not found"):
        load_benchmark(path)
    path.write_text("[{")
    with pytest.raises(BadInputError, match=r"annotations\.json"):
        load_benchmark(f"robospatial:{path}")
