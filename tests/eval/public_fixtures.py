"""Small fixtures of public benchmarks, written in each benchmark's published layout.

Each writer documents the layout it copies and where it was read (docs/research/).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from tests.eval.conftest import write_jsonl


def jpeg_bytes(value: int, size: tuple[int, int] = (32, 24)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def write_replay(path: Path, responses: dict[str, str]) -> Path:
    """A ``replay:`` file: one recorded response per item id."""
    return write_jsonl(path, [{"id": k, "response": v} for k, v in responses.items()])


def write_mmsi_parquet(path: Path, rows: list[dict]) -> Path:
    """``MMSI_Bench.parquet`` as on huggingface.co/datasets/RunsenXu/MMSI-Bench: columns id,
    images (list of JPEG bytes), question_type, question (options embedded as
    ``Options: A: ..., B: ...``), answer, thought (README "Load Dataset")."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "id": pa.array([r["id"] for r in rows], pa.int64()),
            "images": pa.array([r["images"] for r in rows], pa.list_(pa.binary())),
            "question_type": [r["question_type"] for r in rows],
            "question": [r["question"] for r in rows],
            "answer": [r["answer"] for r in rows],
            "thought": [r.get("thought", "") for r in rows],
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def write_viewspatial(root: Path, records: list[dict]) -> Path:
    """The ViewSpatial-Bench repository layout: ``eval/ViewSpatial-Bench.json`` (a list of
    {question_type, image_path, question, choices, answer}) and the images under
    ``ViewSpatial-Bench/`` at the repository root (the paths' prefix)."""
    for rec in records:
        for rel in rec["image_path"]:
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(jpeg_bytes(100))
    path = root / "eval" / "ViewSpatial-Bench.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=4), encoding="utf-8")
    return path
