"""The CrossPoint family written in the CrossPoint-Bench layout, read back by the harness."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from crossview.engine.config import GenerateConfig
from crossview.engine.crosspoint_bench import write_crosspoint_bench
from crossview.engine.pipeline import generate
from crossview.eval.loaders import load_benchmark
from crossview.eval.runner import EvalConfig, run_eval
from crossview.geometry import rle_decode
from tests.engine.toys import toy_store


def test_crosspoint_bench_round_trip(tmp_path: Path) -> None:
    store = toy_store(tmp_path / "store", 4, seed=7)
    ds = tmp_path / "ds"
    generate(store, ds, GenerateConfig(family="crosspoint", per_task=10))
    path = write_crosspoint_bench(ds, tmp_path / "CrossPoint-Bench")
    native = {
        json.loads(x)["sample_id"]: json.loads(x)
        for x in (ds / "questions.jsonl").read_text().splitlines()
    }
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert lines and {x["type"] for x in lines} == {
        "Fine-grained Grounding",
        "Visibility Reasoning",
        "Correspondence-Judgement",
        "Correspondence-Pointing",
    }
    for x in lines:
        assert set(x) >= {"images", "question", "type", "level", "answer"}
        r = native[x["id"]]
        for name in x["images"]:
            assert (path.parent / "image" / name).is_file()
        if r["answer_kind"] == "point":
            png = Image.open(io.BytesIO(base64.b64decode(x["answer"])))
            np.testing.assert_array_equal(np.asarray(png) > 128, rle_decode(r["gold"]["mask_rle"]))
        else:
            assert x["answer"] == r["answer"]
            assert all(o in x["question"] for o in r["protocols"]["marker"]["options"])
    bench = load_benchmark(path)
    assert bench.format == "crosspoint" and len(bench.items) == len(lines)
    summary = run_eval(EvalConfig(bench=path, model="oracle", out=tmp_path / "run"))
    assert summary["overall"]["accuracy"] == 1.0 and summary["overall"]["n"] == len(lines)


def test_native_dataset_evaluates_without_leaving_its_folder(tmp_path: Path) -> None:
    """Generate, then evaluate the native file as a user would: oracle 100%, random near chance."""
    store = toy_store(tmp_path / "store", 4, seed=8)
    ds = tmp_path / "ds"
    generate(store, ds, GenerateConfig(family="all", per_task=8, open_ended_fraction=0))
    for p in ds.rglob("*.png"):
        assert ds in p.resolve().parents or p.is_relative_to(ds)
    oracle = run_eval(
        EvalConfig(bench=ds / "questions.jsonl", model="oracle", out=tmp_path / "oracle")
    )
    assert oracle["overall"]["accuracy"] == 1.0
    region = run_eval(
        EvalConfig(
            bench=ds / "questions.jsonl",
            model="oracle",
            out=tmp_path / "oracle_region",
            protocol="region",
        )
    )
    assert region["overall"]["accuracy"] == 1.0
