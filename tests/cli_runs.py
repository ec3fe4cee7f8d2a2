"""Scene stores and datasets made the way a user makes them: ``crossview sim`` then
``crossview generate``, each in a subprocess (for module fixtures of slow tests)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def sim_and_generate(work: Path, sim: Sequence[str], generate: Sequence[str]) -> Path:
    """Run ``crossview sim --out work/store *sim`` and ``crossview generate --scenes
    work/store --out work/ds *generate``; return the dataset folder ``work/ds``."""
    py = [sys.executable, "-m", "crossview"]
    store, ds = str(work / "store"), str(work / "ds")
    subprocess.run([*py, "sim", "--out", store, *sim], check=True, capture_output=True)
    subprocess.run(
        [*py, "generate", "--scenes", store, "--out", ds, *generate],
        check=True,
        capture_output=True,
    )
    return work / "ds"
