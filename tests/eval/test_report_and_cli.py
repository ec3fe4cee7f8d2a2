"""Reports over run folders, and the CLI functions through typer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from crossview.errors import BadInputError
from crossview.eval.commands import compare_cmd, eval_cmd, report_cmd
from crossview.eval.report import markdown_table, write_report
from crossview.eval.runner import EvalConfig, run_eval


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("eval")(eval_cmd)
    app.command("report")(report_cmd)
    app.command("compare")(compare_cmd)
    return app


def test_report_markdown_and_html(native_bench: Path, tmp_path: Path) -> None:
    run_eval(EvalConfig(bench=native_bench, model="oracle", out=tmp_path / "oracle"))
    run_eval(EvalConfig(bench=native_bench, model="random", out=tmp_path / "random", circular=True))
    md, html = write_report([tmp_path / "oracle", tmp_path / "random"], tmp_path / "rep")
    text = md.read_text()
    header = text.splitlines()[4]
    assert "Overall" in header and "Cross-view correspondence" in header
    assert "| oracle | 6 | 100.0 |" in text and "Random (chance)" in text
    assert "95% CI (scenes)" in header and "Paired with the first run (oracle)" in text
    assert "Circular" in text
    page = html.read_text()
    assert page.count("<svg") == 2 and "data:image/png;base64," in page  # gallery thumbnails
    assert "no failed items" in page  # the oracle run


def test_report_refuses_non_run(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"summary\.json"):
        write_report([tmp_path], tmp_path / "out")


def test_markdown_marks_incomplete() -> None:
    run = {
        "model": "m",
        "overall": {"n": 1, "accuracy": 0.5, "no_answer_rate": 0.0},
        "by_category": {},
        "complete": False,
    }
    assert "| NO |" in markdown_table([run])


def test_cli_eval_and_report(native_bench: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        _app(),
        [
            "eval",
            "--bench",
            str(native_bench),
            "--model",
            "random",
            "--out",
            str(tmp_path / "r"),
            "--circular",
            "--seed",
            "1",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "accuracy" in res.output and "circular accuracy" in res.output
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert {"overall", "by_type"} <= set(summary) and summary["overall"]["n"] == 6
    assert isinstance(summary["by_type"]["Q1"]["accuracy"], float)
    res = runner.invoke(_app(), ["report", str(tmp_path / "r"), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0 and (tmp_path / "rep" / "report.html").is_file()


def test_cli_bad_input_raises_for_exit_2(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        _app(),
        [
            "eval",
            "--bench",
            str(tmp_path / "none.jsonl"),
            "--model",
            "random",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert isinstance(res.exception, BadInputError)  # crossview.cli maps it to exit code 2


def test_cli_incomplete_run_exits_1(native_bench: Path, tmp_path: Path) -> None:
    replay = tmp_path / "rec.jsonl"
    replay.write_text(json.dumps({"id": "s-Q1-0", "response": "B"}) + "\n")
    res = CliRunner().invoke(
        _app(),
        [
            "eval",
            "--bench",
            str(native_bench),
            "--model",
            f"replay:{replay}",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert res.exit_code == 1 and "--resume" in res.output


def test_commands_import_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, crossview.eval.commands; "
        "print([m for m in ('httpx', 'torch', 'transformers', 'vllm') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_compare_pairs_two_runs(native_bench: Path, tmp_path: Path) -> None:
    run_eval(EvalConfig(bench=native_bench, model="oracle", out=tmp_path / "a"))
    run_eval(EvalConfig(bench=native_bench, model="random", out=tmp_path / "b", seed=2))
    runner = CliRunner()
    res = runner.invoke(
        _app(),
        ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "c.json")],
    )
    assert res.exit_code == 0, res.output
    got = json.loads((tmp_path / "c.json").read_text())
    b = [json.loads(x) for x in (tmp_path / "b" / "predictions.jsonl").read_text().splitlines()]
    wrong = sum(not r["correct"] for r in b)
    o = got["overall"]
    assert o["n"] == 6 and o["accuracy_a"] == 1.0 and o["a_only"] == wrong and o["b_only"] == 0
    assert o["difference"] == wrong / 6 and "overall" in res.output and "A-B" in res.output
    assert set(got["by_type"]) == {r["type"] for r in b} and all("cluster" in r for r in b)
    res = runner.invoke(_app(), ["compare", str(tmp_path / "a"), str(tmp_path)])
    assert res.exit_code != 0 and "predictions.jsonl is missing" in str(res.exception)
