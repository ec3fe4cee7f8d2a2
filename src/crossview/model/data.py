"""A torch Dataset over a native ``questions.jsonl``: records -> :class:`Example`.

Image paths resolve against the dataset folder (the folder holding ``questions.jsonl``); masks
are decoded from ``views[*].objects[*].mask_rle``. Point items (no option or text answer to
train on) are skipped.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from crossview.dataset.record import Record
from crossview.errors import BadInputError
from crossview.geometry.masks import rle_decode
from crossview.model.processor_crossviewer import Example

__all__ = ["CrossViewDataset", "example_from_record", "read_records"]

_LETTER = re.compile(r"^\s*([A-Z])[.)]\s*")


def read_records(path: Path, split: str | None = None) -> list[Record]:
    """Read ``questions.jsonl`` (a file or the dataset folder), keeping ``split`` if given
    (records without a split are kept) and leaving out coordinate (``point``) records, which
    CrossViewer does not answer. Each record is checked by :meth:`Record.from_json`."""
    path = Path(path)
    file = path / "questions.jsonl" if path.is_dir() else path
    if not file.is_file():
        raise BadInputError("no questions.jsonl here", file=file)
    out = []
    for n, line in enumerate(file.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInputError(f"not JSON: {exc.msg}", file=file, record=f"line {n + 1}") from None
        r = Record.from_json(rec, file, f"line {n + 1}", id_keys=("sample_id", "id"))
        if split and r.split not in (None, split):
            continue
        if r.answer_kind == "point":
            continue
        out.append(r)
    return out


def example_from_record(rec: Record, root: Path, file: Path | None = None) -> Example:
    """Turn one native record into an :class:`Example` (opens images, decodes masks).

    ``root`` is the dataset folder the record's image paths are relative to."""
    from PIL import Image

    sid = rec.sample_id
    views = rec.views
    images, masks, tracks = [], [], []
    for k, v in enumerate(views):
        p = root / v["image_path"]
        if not p.is_file():
            raise BadInputError(
                f"image not found: {p}", file=file, record=sid, field=f"views[{k}].image_path"
            )
        img = Image.open(p).convert("RGB")
        images.append(img)
        objs = v.get("objects") or []
        if objs:
            masks.append(np.stack([rle_decode(o["mask_rle"]) for o in objs]).astype(bool))
        else:
            masks.append(np.zeros((0, img.height, img.width), bool))
        tracks.append(np.array([int(o.get("track_id", -1)) for o in objs], dtype=np.int64))
    refs = [(int(r[0]), int(r[1])) for r in rec.region_refs]
    for j, (v, o) in enumerate(refs):
        if not (0 <= v < len(views) and 0 <= o < len(masks[v])):
            raise BadInputError(
                f"region ref {[v, o]} names no object",
                file=file,
                record=sid,
                field=f"region_refs[{j}]",
            )
    options = [_LETTER.sub("", o, count=1) for o in rec.options]
    return Example(
        id=sid,
        question=rec.question,
        options=options,
        answer=rec.answer,
        images=images,
        masks=masks,
        track_ids=tracks,
        region_refs=refs,
        scene_id=rec.scene_id or sid,
        answer_kind=rec.answer_kind,
        meta={"question_type": rec.question_type},
    )


class CrossViewDataset(Dataset):
    """Examples of a native dataset folder (or ``questions.jsonl`` file).

    Args:
        path: the dataset folder or its ``questions.jsonl``.
        split: keep only this split (None keeps all).
        limit: keep the first ``limit`` records.
    """

    def __init__(self, path: str | Path, split: str | None = None, limit: int | None = None):
        path = Path(path)
        self.file = path / "questions.jsonl" if path.is_dir() else path
        self.root = self.file.parent
        self.records = read_records(self.file, split)[:limit]

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> Example:
        return example_from_record(self.records[i], self.root, self.file)
