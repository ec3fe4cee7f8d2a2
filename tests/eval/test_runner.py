"""Runs: append-only predictions, resume after a crash, failures, replay, baselines."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from crossview.errors import BadInputError
from crossview.eval.backends import BackendSettings, create_backend
from crossview.eval.backends.base import Backend
from crossview.eval.items import Prompt, Response
from crossview.eval.runner import EvalConfig, read_predictions, run_eval
from tests.eval.conftest import write_jsonl


def _lines(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "predictions.jsonl").read_text().splitlines()]


class CrashAfter(Backend):
    """Answers with the gold letter-free text 'Answer: A', then dies after n prompts."""

    kind = "crash"

    def __init__(self, n: int) -> None:
        super().__init__("", BackendSettings(batch_size=1))
        self.n = n
        self.seen: list[tuple[str, int]] = []

    def generate(self, prompts: Sequence[Prompt]) -> list[Response]:
        if len(self.seen) >= self.n:
            raise KeyboardInterrupt  # a kill in the middle of the run
        self.seen.extend(p.key for p in prompts)
        return [Response(text="Answer: A") for _ in prompts]


def test_oracle_scores_everything(native_bench: Path, tmp_path: Path) -> None:
    for fmt in ("absolute", "relative", "relative-1000"):
        s = run_eval(
            EvalConfig(
                bench=native_bench,
                model="oracle",
                out=tmp_path / fmt,
                coord_format=fmt,
                circular=True,
            )
        )
        assert s["overall"]["accuracy"] == 1.0 and s["circular"]["overall"]["accuracy"] == 1.0
        assert s["complete"] and s["overall"]["n"] == 6


def test_oracle_on_every_format(
    crossviewer_bench, crosspoint_bench, allangles_tsv, mmvm_tsv, tmp_path: Path
) -> None:
    for k, bench in enumerate([crosspoint_bench, allangles_tsv, mmvm_tsv]):
        s = run_eval(EvalConfig(bench=bench, model="oracle", out=tmp_path / str(k)))
        assert s["overall"]["accuracy"] == 1.0, bench
    s = run_eval(EvalConfig(bench=crossviewer_bench, model="oracle", out=tmp_path / "cv"))
    assert s["overall"]["accuracy"] == 1.0  # the oracle accepts region references
    s = run_eval(EvalConfig(bench=mmvm_tsv, model="oracle", out=tmp_path / "m2"))
    assert set(s["by_category"]) == {"Color", "Shape", "Textual"}


def test_random_is_seeded_and_reported(native_bench: Path, tmp_path: Path) -> None:
    a = run_eval(EvalConfig(bench=native_bench, model="random", out=tmp_path / "a", seed=3))
    b = run_eval(EvalConfig(bench=native_bench, model="random", out=tmp_path / "b", seed=3))
    assert _lines(tmp_path / "a") == _lines(tmp_path / "b")
    assert a["overall"] == b["overall"]
    assert a["by_type"]["Q1"]["random_baseline"] == 0.25
    assert a["by_type"]["Q9"]["no_answer"] == 1  # random cannot answer free text: no answer


def test_resume_after_crash_loses_nothing_and_never_double_counts(
    native_bench: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    cfg = EvalConfig(bench=native_bench, model="random", out=run, circular=True)
    crash = CrashAfter(5)
    with pytest.raises(KeyboardInterrupt):
        run_eval(cfg, backend=crash)
    first = _lines(run)
    assert [(r["id"], r["variant"]) for r in first] == crash.seen  # all answered are on disk
    partial = json.loads((run / "summary.json").read_text())
    assert not partial["complete"]
    # a torn last line from a kill during a write
    with (run / "predictions.jsonl").open("a") as f:
        f.write('{"id": "s-Q5-0", "variant": 0, "sta')
    with pytest.raises(BadInputError, match="--resume"):
        run_eval(cfg)
    cfg.resume = True
    done = CrashAfter(10**6)
    s = run_eval(cfg, backend=done)
    assert not set(done.seen) & set(crash.seen)  # answered prompts are not asked again
    keys = [(r["id"], r["variant"]) for r in _lines(run)]
    assert len(keys) == len(set(keys)) == s["n_prompts"]
    assert s["complete"] and s["overall"]["n"] == 6
    # resuming a finished run asks nothing and changes nothing
    again = CrashAfter(0)
    assert run_eval(cfg, backend=again)["overall"] == s["overall"] and again.seen == []


def test_resume_refuses_other_settings(native_bench: Path, tmp_path: Path) -> None:
    run_eval(EvalConfig(bench=native_bench, model="random", out=tmp_path / "r"))
    with pytest.raises(BadInputError, match="other settings"):
        run_eval(
            EvalConfig(
                bench=native_bench, model="random", out=tmp_path / "r", circular=True, resume=True
            )
        )


def test_backend_failures_excluded_then_filled_by_resume(
    native_bench: Path, tmp_path: Path
) -> None:
    half = tmp_path / "half.jsonl"
    write_jsonl(
        half,
        [
            {"id": "s-Q1-0", "response": "The answer is (B)"},
            {"id": "s-Q5-0", "response": "I cannot determine."},
            {"id": "not-in-bench", "response": "A"},
        ],
    )
    run = tmp_path / "run"
    s = run_eval(EvalConfig(bench=native_bench, model=f"replay:{half}", out=run))
    assert not s["complete"] and s["overall"]["n"] == 2
    assert sorted(s["failed_ids"]) == ["s-Q9-open", "s-cp-0", "s-pc-0", "s-sv-0"]
    assert s["overall"]["correct"] == 1 and s["overall"]["no_answer"] == 1
    assert s["no_answer_reasons"] == {"no answer: refusal": 1}
    assert s["replay"]["unmatched_lines"] == 1
    full = tmp_path / "full.jsonl"
    write_jsonl(
        full,
        [
            {"id": i, "response": r}
            for i, r in [
                ("s-pc-0", "The red dot."),
                ("s-sv-0", "Image 2"),
                ("s-cp-0", '{"point_2d": [25, 7]}'),
                ("s-Q9-open", "Answer: the mug"),
                ("s-Q1-0", "A"),
            ]
        ],
    )
    # resume keeps the model; only the source of recorded responses may change for replay runs
    info = json.loads((run / "run.json").read_text())
    info["identity"]["model"] = f"replay:{full}"
    (run / "run.json").write_text(json.dumps(info))
    s = run_eval(EvalConfig(bench=native_bench, model=f"replay:{full}", out=run, resume=True))
    assert s["complete"] and s["overall"]["n"] == 6
    assert s["overall"]["correct"] == 4  # s-Q1-0 keeps its first answer (B), not the replayed A
    assert s["by_type"]["point_correspondence"]["accuracy"] == 0.0


def test_truncated_tail_is_repaired(tmp_path: Path) -> None:
    p = tmp_path / "predictions.jsonl"
    p.write_text(
        '{"id": "1", "variant": 0, "status": "failed"}\n'
        '{"id": "1", "variant": 0, "status": "answered", "correct": true}\n{"id": "2"'
    )
    recs = read_predictions(p, repair=True)
    assert recs[("1", 0)]["status"] == "answered"
    assert p.read_text().endswith("true}\n")
    p.write_text('{"id": "1", "variant": 0}\nnot json\n{"id": "2", "variant": 0}\n')
    with pytest.raises(BadInputError, match="line 2"):
        read_predictions(p)


def test_too_many_images_fails_loudly(native_bench: Path, tmp_path: Path) -> None:
    cfg = EvalConfig(
        bench=native_bench,
        model="random",
        out=tmp_path / "r",
        backend=BackendSettings(max_images=1),
    )
    with pytest.raises(BadInputError, match="never dropped"):
        run_eval(cfg)
    assert not (tmp_path / "r" / "predictions.jsonl").exists()


def test_region_protocol_needs_region_backend(native_bench: Path, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="cannot receive masks"):
        run_eval(
            EvalConfig(bench=native_bench, model="random", out=tmp_path / "r", protocol="region")
        )


@pytest.mark.parametrize("bench", ["native_bench", "crossviewer_bench"])
@pytest.mark.parametrize("asked", ["region", "marker"])
def test_every_suggested_protocol_works(
    bench: str,
    asked: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An error that names a fix names one that works: the CLI run again with it succeeds."""
    from crossview.cli import main

    path = request.getfixturevalue(bench)
    base = ["eval", "--bench", str(path), "--model", "random"]

    runs = iter(range(10))

    def run(protocol: str) -> tuple[int, str]:
        out = tmp_path / f"{protocol}-{next(runs)}"
        code = main([*base, "--protocol", protocol, "--out", str(out)])
        return code, " ".join(capsys.readouterr().err.split())

    code, said = run(asked)
    if code == 0:
        return  # the protocol is offered and the backend takes it: nothing to suggest
    suggested = re.findall(r"--protocol (\w+)|protocol '(\w+)'(?: or '(\w+)')?;", said)
    names = {n for group in suggested for n in group if n} - {asked}
    assert names, said
    for name in sorted(names):
        again, said_again = run(name)
        if name == "region":  # offered by the file; the backend's own error then names overlay
            assert again != 0 and "use --protocol overlay" in said_again
            assert run("overlay")[0] == 0
        else:
            assert again == 0, (name, said_again)


def test_unknown_model_kind_lists_valid(native_bench: Path, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"valid kinds: .*hf, openai, oracle, random"):
        run_eval(EvalConfig(bench=native_bench, model="gemini:pro", out=tmp_path / "r"))
    with pytest.raises(BadInputError, match="replay file not found"):
        create_backend("replay:/nonexistent.jsonl")


def test_escaping_image_reads_nothing(tmp_path: Path) -> None:
    root = tmp_path / "b"
    root.mkdir()
    f = write_jsonl(
        root / "x.jsonl",
        [{"images": ["../../etc/passwd"], "question": "A. a\nB. b", "type": "t", "answer": "A"}],
    )
    with pytest.raises(BadInputError, match="leaves the benchmark folder"):
        run_eval(EvalConfig(bench=f, model="random", out=tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_limit_and_run_record(native_bench: Path, tmp_path: Path) -> None:
    s = run_eval(EvalConfig(bench=native_bench, model="random", out=tmp_path / "r", limit=2))
    assert s["n_items"] == 2
    info = json.loads((tmp_path / "r" / "run.json").read_text())
    assert info["identity"]["protocol"] == "auto" and info["identity"]["seed"] == 0
    assert info["package_version"] and "git_commit" in info
    assert info["backend"]["kind"] == "random"


def test_replay_scores_a_region_protocol_file(crossviewer_bench: Path, tmp_path: Path) -> None:
    """A published CrossViewer file (protocol 'region') is scored from recorded answers: replay
    sends nothing, so it needs no mask input."""
    rec = tmp_path / "responses.jsonl"
    rec.write_text(
        json.dumps({"id": "take1_0", "response": "A"})
        + "\n"
        + json.dumps({"id": "take1_1", "response": "A"})
        + "\n"
    )
    s = run_eval(EvalConfig(bench=crossviewer_bench, model=f"replay:{rec}", out=tmp_path / "r"))
    assert s["overall"]["n"] == 2 and s["overall"]["correct"] == 1
