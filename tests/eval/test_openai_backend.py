"""The openai backend against a loopback server speaking chat completions over real HTTP."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

pytest.importorskip("httpx")

from crossview.eval.backends import BackendSettings
from crossview.eval.runner import EvalConfig, run_eval
from tests.eval.loopback_server import ScriptedServer

SECRET = "sk-test-0123456789-never-written"
SCRIPT = {
    "A. the box": ["429", "500", "ok:Based on the two views, the answer is B"],
    "A. red": ["ok:<think>maybe A</think>The green dot."],
    "A. Yes": ["500", "ok:Yes, it is the same object."],
    "A. Image 1": ["ok:Image 2"],
    "point_2d": ['ok:{"point_2d": [25, 7]}'],
    "short phrase": ["ok:Answer: the mug"],
}


def _settings(url: str, **kw) -> BackendSettings:
    return BackendSettings(base_url=url, backoff_s=0.01, timeout_s=5, **kw)


def test_scripted_answers_with_retries(
    native_bench: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with ScriptedServer(SCRIPT) as srv:
        s = run_eval(
            EvalConfig(
                bench=native_bench,
                model="openai:test-model",
                out=tmp_path / "r",
                backend=_settings(srv.url, concurrency=4, retries=3),
            )
        )
    assert s["complete"] and s["overall"]["accuracy"] == 1.0
    assert len(srv.requests) == 6 + 3  # 2 + 1 retries
    assert all(h["Authorization"] == f"Bearer {SECRET}" for h in srv.headers)
    req = srv.requests[0]
    parts = req["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "text", "image_url", "text"]
    assert parts[0]["text"] == "Image 1:" and parts[2]["text"] == "Image 2:"
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert req["temperature"] == 0.0
    for f in (tmp_path / "r").iterdir():  # the key is never written anywhere
        assert SECRET not in f.read_text()
    recs = [json.loads(x) for x in (tmp_path / "r" / "predictions.jsonl").read_text().splitlines()]
    assert max(r["attempts"] for r in recs) == 3


def test_failures_are_not_answers_and_resume_fills_them(native_bench: Path, tmp_path: Path) -> None:
    broken = {**SCRIPT, "A. the box": ["500"], "A. red": ["nocontent"]}
    cfg = EvalConfig(
        bench=native_bench,
        model="openai:m",
        out=tmp_path / "r",
        backend=_settings("", concurrency=2, retries=1),
    )
    with ScriptedServer(broken) as srv:
        cfg.backend.base_url = srv.url
        s = run_eval(cfg)
    assert not s["complete"] and sorted(s["failed_ids"]) == ["s-Q1-0", "s-pc-0"]
    assert s["overall"]["n"] == 4 and s["overall"]["accuracy"] == 1.0
    with ScriptedServer(SCRIPT) as srv:
        cfg.backend.base_url = srv.url
        cfg.resume = True
        cfg.backend.retries = 3  # backend settings may change on resume
        s = run_eval(cfg)
    assert len(srv.requests) == 3 + 1  # only the failed items (Q1: 429, 500, then the answer)
    assert s["complete"] and s["overall"]["n"] == 6 and s["overall"]["accuracy"] == 1.0


def test_concurrency_is_bounded_with_slow_answers(native_bench: Path, tmp_path: Path) -> None:
    slow = {k: ["slow:0.2:" + v[-1][3:]] for k, v in SCRIPT.items()}
    with ScriptedServer(slow) as srv:
        s = run_eval(
            EvalConfig(
                bench=native_bench,
                model="openai:m",
                out=tmp_path / "r",
                circular=True,
                backend=_settings(srv.url, concurrency=3),
            )
        )
    assert s["complete"] and s["circular"]["overall"]["accuracy"] < 1.0  # fixed text, rotated
    assert 2 <= srv.max_in_flight <= 3


def test_timeouts_and_connection_errors_are_failures(native_bench: Path, tmp_path: Path) -> None:
    slow = {k: ["slow:1.5:A"] for k in SCRIPT}
    with ScriptedServer(slow) as srv:
        s = run_eval(
            EvalConfig(
                bench=native_bench,
                model="openai:m",
                out=tmp_path / "t",
                limit=1,
                backend=BackendSettings(base_url=srv.url, timeout_s=0.2, retries=1, backoff_s=0.01),
            )
        )
    assert s["failed_ids"] == ["s-Q1-0"] and s["overall"]["n"] == 0
    with socket.socket() as sock:  # a loopback port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = run_eval(
        EvalConfig(
            bench=native_bench,
            model="openai:m",
            out=tmp_path / "c",
            limit=2,
            backend=_settings(f"http://127.0.0.1:{port}/v1", retries=2),
        )
    )
    assert s["failed_ids"] == ["s-Q1-0", "s-pc-0"] and not s["complete"]
    rec = json.loads((tmp_path / "c" / "predictions.jsonl").read_text().splitlines()[0])
    assert rec["status"] == "failed" and rec["attempts"] == 3
