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
    records = [rec for _, rec in iter_jsonl(src)]
    for r in records:
        if r.get("family") != "crosspoint" or r.get("open_ended"):
            continue
        if split is not None and r.get("split") != split:
            continue
        names = []
        for k, rel in enumerate(r["protocols"]["marker"]["images"]):
            name = f"{r['sample_id']}_{k}{Path(rel).suffix}"
            shutil.copyfile(dataset / rel, out / "image" / name)
            names.append(name)
        question = r["protocols"]["marker"]["question"]
        if r["options"]:
            question += "\n" + "\n".join(r["protocols"]["marker"]["options"])
        if r["answer_kind"] == "point":
            answer = mask_png_b64(rle_decode(r["gold"]["mask_rle"]))
        else:
            answer = r["answer"]
        lines.append(
            {
                "idx": len(lines),
                "id": r["sample_id"],
                "images": names,
                "question": question,
                "type": r["question_type"],
                "level": r.get("level", "object"),
                "answer": answer,
            }
        )
    path = out / BENCH_FILE
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(x) + "\n" for x in lines)
    return path
