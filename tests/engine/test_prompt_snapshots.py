"""Prompt snapshots: what each protocol shows a model, frozen for one question per type.

A change in wording, option order, colours or rendering shows up here as a diff. After an
intended change, regenerate with ``UPDATE_SNAPSHOTS=1 python -m pytest tests/engine``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from crossview.engine.config import GenerateConfig
from crossview.engine.pipeline import generate
from crossview.scene import write_scene
from crossview.tasks import QualityConfig
from tests.engine.toys import hand_scene

SNAPSHOT = Path(__file__).parent / "snapshots" / "prompts.json"


def _pixels_hash(path: Path) -> str:
    # hash the decoded pixels, not the PNG bytes (encoders differ between zlib versions)
    return hashlib.sha256(np.asarray(Image.open(path)).tobytes()).hexdigest()[:16]


def test_prompt_snapshots(tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_scene(hand_scene(), store)
    cfg = GenerateConfig(
        per_task=1, open_ended_fraction=0, quality=QualityConfig(min_visible_px=48)
    )
    generate(store, tmp_path / "ds", cfg)
    snap = {}
    for line in (tmp_path / "ds" / "questions.jsonl").read_text().splitlines():
        r = json.loads(line)
        ov = r["protocols"]["overlay"]
        snap[r["question_type"]] = {
            "region": {
                "question": r["question"],
                "options": r["options"],
                "answer": r["answer"],
                "region_refs": r["region_refs"],
            },
            "overlay": {
                "question": ov["question"],
                "options": ov["options"],
                "images": [_pixels_hash(tmp_path / "ds" / p) for p in ov["images"]],
            },
        }
    assert len(snap) == 17, sorted(snap)
    _check_snapshot(snap, SNAPSHOT, "prompt")


def _check_snapshot(snap: dict, path: Path, what: str) -> None:
    """Compare ``snap`` with the snapshot file (written with ``UPDATE_SNAPSHOTS=1``, or when
    missing, which fails so that it gets committed)."""
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        path.write_text(json.dumps(snap, indent=1, sort_keys=True) + "\n")
        if not os.environ.get("UPDATE_SNAPSHOTS"):
            raise AssertionError(f"snapshot file was missing; wrote {path}, commit it")
    expected = json.loads(path.read_text())
    for t in sorted(expected):
        assert snap.get(t) == expected[t], f"{what} of {t} changed"
    assert set(snap) == set(expected)


MARKER_SNAPSHOT = Path(__file__).parent / "snapshots" / "marker_prompts.json"


def test_marker_prompt_snapshots(tmp_path: Path) -> None:
    """The XVR and CrossPoint types as the marker protocol shows them (dots, arrows drawn).

    10 of the 12 marker types: on the toy rigs every temporal verification candidate is dropped
    as ``ssim_too_similar`` and every viewpoint localization one as
    ``fewer_than_3_distinct_cameras_in_view``."""
    from tests.engine.toys import toy_store

    store = toy_store(tmp_path / "store", 2, seed=3)
    snap = {}
    for family in ("xvr", "crosspoint"):
        cfg = GenerateConfig(family=family, per_task=1, open_ended_fraction=0)
        generate(store, tmp_path / family, cfg)
        for line in (tmp_path / family / "questions.jsonl").read_text().splitlines():
            r = json.loads(line)
            mk = r["protocols"]["marker"]
            snap[r["question_type"]] = {
                "question": mk["question"],
                "options": mk["options"],
                "answer": mk["answer"],
                "marks": mk["marks"],
                "images": [_pixels_hash(tmp_path / family / p) for p in mk["images"]],
            }
    assert len(snap) >= 10, sorted(snap)
    _check_snapshot(snap, MARKER_SNAPSHOT, "marker prompt")
