"""The main job end to end, small: simulate, generate every family, evaluate, report."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossview.cli import main


@pytest.mark.sim
def test_quickstart_runs_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("mujoco")
    out = tmp_path / "qs"
    args = ["quickstart", "--out", str(out), "--scenes", "2", "--per-task", "3", "--workers", "1"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "Where to look" in text and str(out / "report" / "report.html") in text
    report = (out / "report" / "report.md").read_text()
    for row in ("| random |", "| oracle |"):
        assert row in report
    oracle_row = next(line for line in report.splitlines() if line.startswith("| oracle |"))
    assert "| 100.0 |" in oracle_row
    families = {p.name for p in (out / "runs").iterdir()}
    assert {"random", "oracle"} <= families
    # a second run finds everything done and reuses it: the proposal shards are not rewritten
    # (the records are rebuilt from them, byte for byte)
    before = (out / "dataset" / "questions.jsonl").read_bytes()
    shards = {p.name: p.stat().st_mtime_ns for p in (out / "dataset" / "shards").iterdir()}
    assert shards
    assert main(args) == 0
    assert (out / "runs" / "oracle" / "summary.json").is_file()
    assert (out / "dataset" / "questions.jsonl").read_bytes() == before
    again = {p.name: p.stat().st_mtime_ns for p in (out / "dataset" / "shards").iterdir()}
    assert again == shards


def test_quickstart_refuses_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    assert main(["quickstart", "--out", str(tmp_path)]) == 2
    assert (tmp_path / "mine.txt").read_text() == "keep me"
