"""The Ray executor's tests (tests/engine/ray_cases.py, tests/sources/sim_ray_cases.py), run in
a child pytest process.

Ray's driver exits the whole process (exit code 1, no traceback) when it loses its local raylet,
which a loaded machine can cause; in the suite's own process that would end every other test
with no summary. In a child, a crash is seen as such: the child is run once more, and a second
crash fails this test with everything the child printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[2]
CASES = [
    ROOT / "tests" / "engine" / "ray_cases.py",
    ROOT / "tests" / "sources" / "sim_ray_cases.py",
]


def _run_cases(junit: Path) -> tuple[subprocess.CompletedProcess, ET.Element | None]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *map(str, CASES),
         f"--junitxml={junit}"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=900,
    )  # fmt: skip
    suite = ET.parse(junit).getroot() if junit.is_file() else None
    return proc, suite


def test_ray_executor_cases(tmp_path: Path) -> None:
    out = ""
    for attempt in range(2):
        junit = tmp_path / f"ray-{attempt}.xml"
        proc, suite = _run_cases(junit)
        out += f"--- attempt {attempt + 1}, exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}\n"
        if suite is None:
            continue  # the child died before writing its report: Ray lost its raylet
        cases = suite.iter("testcase")
        failed = [c.get("name") for c in cases if c.find("failure") is not None
                  or c.find("error") is not None]  # fmt: skip
        ran = sum(1 for _ in suite.iter("testcase"))
        assert ran >= 8, f"only {ran} Ray cases ran\n{out}"
        assert not failed, f"Ray cases failed: {failed}\n{out}"
        return
    pytest.fail(f"the Ray cases' process died twice without a report\n{out}")
