"""A tiny randomly initialised Qwen3-VL through the ``hf`` backend on a 3-item benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from crossview.eval.backends import BackendSettings
from crossview.eval.runner import EvalConfig, run_eval
from tests.eval.conftest import write_jsonl
from tests.eval.tiny_qwen3vl import build_tiny_qwen3vl


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen3vl(tmp_path_factory.mktemp("tiny-qwen3vl"))


def test_hf_backend_runs_three_items(tiny_model: Path, native_bench: Path, tmp_path: Path) -> None:
    recs = [json.loads(x) for x in native_bench.read_text().splitlines()][:3]
    bench = write_jsonl(native_bench.parent / "three.jsonl", recs)
    cfg = EvalConfig(
        bench=bench,
        model=f"hf:{tiny_model}",
        out=tmp_path / "run",
        backend=BackendSettings(max_tokens=4, batch_size=2),
    )
    s = run_eval(cfg)
    assert s["complete"] and s["overall"]["n"] == 3 and s["n_answered"] == 3
    # a random model's babble is "no answer" (or a lucky letter), never a guess by the harness
    lines = [
        json.loads(x) for x in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()
    ]
    assert all(r["status"] == "answered" and isinstance(r["response"], str) for r in lines)
    assert s["run"]["backend"]["model_class"] == "Qwen3VLForConditionalGeneration"
    assert s["run"]["backend"]["greedy"] is True


def test_hf_greedy_batched_equals_single(tiny_model: Path, native_bench: Path) -> None:
    from crossview.eval.backends import create_backend
    from crossview.eval.loaders import load_benchmark
    from crossview.eval.prompts import build_tasks

    items = load_benchmark(native_bench).items[:3]
    prompts = [build_tasks(it)[0].prompt for it in items]
    b = create_backend(f"hf:{tiny_model}", BackendSettings(max_tokens=3, batch_size=3))
    batched = [r.text for r in b.generate(prompts)]
    single = [b.generate([p])[0].text for p in prompts]
    assert batched == single == [r.text for r in b.generate(prompts)]
