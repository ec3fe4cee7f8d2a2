"""Write the CrossPoint family of a dataset in the published CrossPoint-Bench layout.

Layout (WangYipu2002/CrossPoint, README and eval scripts)::

    OUT/
      CrossPoint-Bench.jsonl   one item per line: idx, images, question, type, level, answer
      image/                   the images, as the model is shown them (markers drawn)

``images`` are file names inside ``image/``; ``question`` carries the options as lines
``A. ...``; ``answer`` is a letter, or for the coordinate types (Fine-grained Grounding,
Correspondence-Pointing) a base64 PNG mask, white (255) where a point is correct.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from crossview.dataset.record import Record
from crossview.errors import BadInputError
from crossview.geometry import rle_decode
from crossview.scene.store import iter_jsonl

BENCH_FILE = "CrossPoint-Bench.jsonl"


def mask_png_b64(mask: np.ndarray) -> str:
    """Base64 of a PNG of a (H, W) bool mask: 255 inside, 0 outside."""
    buf = io.BytesIO()
    Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def write_crosspoint_bench(dataset: str | Path, out: str | Path, split: str | None = None) -> Path:
    """Export the CrossPoint items of a native dataset (multiple choice and coordinates; not
    the open-ended variants) to ``out`` in the CrossPoint-Bench layout; returns the JSONL path.

    Args:
        dataset: a dataset folder (with questions.jsonl).
        out: folder to write (created).
        split: only items of this split (``test`` for a benchmark), or all when None.
    """
    dataset, out = Path(dataset), Path(out)
    src = dataset / "questions.jsonl"
    if not src.is_file():
        raise BadInputError("no questions.jsonl (is this a dataset folder?)", file=src)
    (out / "image").mkdir(parents=True, exist_ok=True)
    lines = []
    records = [Record.from_json(rec, src, f"line {n + 1}") for n, rec in iter_jsonl(src)]
    for r in records:
        if r.family != "crosspoint" or r.open_ended:
            continue
        if split is not None and r.split != split:
            continue
        pv = r.view("marker", src, r.sample_id)
        if pv is None:
            raise BadInputError(
                "a CrossPoint record without its marker protocol",
                file=src,
                record=r.sample_id,
                field="protocols.marker",
            )
        names = []
        for k, rel in enumerate(pv.images):
            name = f"{r.sample_id}_{k}{Path(rel).suffix}"
            shutil.copyfile(dataset / rel, out / "image" / name)
            names.append(name)
        question = pv.question
        if r.options:
            question += "\n" + "\n".join(pv.options)
        if r.answer_kind == "point":
            answer = mask_png_b64(rle_decode((r.gold or {})["mask_rle"]))
        else:
            answer = r.answer
        lines.append(
            {
                "idx": len(lines),
                "id": r.sample_id,
                "images": names,
                "question": question,
                "type": r.question_type,
                "level": r.level or "object",
                "answer": answer,
            }
        )
    path = out / BENCH_FILE
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(x) + "\n" for x in lines)
    return path
