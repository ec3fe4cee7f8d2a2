"""Benchmark fixtures written in each published layout, with tiny PNG images."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crossview.geometry.masks import rle_encode

W, H = 40, 30


def png_bytes(value: int, size: tuple[int, int] = (W, H)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def gold_mask() -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[5:10, 20:30] = True  # rows 5-9, cols 20-29
    return m


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _native_record(sid: str, qtype: str, options: list[str], answer: str, **extra) -> dict:
    views = [
        {
            "view_id": "cam0_t000",
            "image_path": "renders/region/v0.png",
            "width": W,
            "height": H,
            "objects": [
                {"track_id": 1, "mask_rle": rle_encode(gold_mask()), "bbox_xyxy": [20, 5, 30, 10]}
            ],
        },
        {
            "view_id": "cam1_t000",
            "image_path": "renders/region/v1.png",
            "width": W,
            "height": H,
            "objects": [
                {"track_id": 1, "mask_rle": rle_encode(gold_mask()), "bbox_xyxy": [20, 5, 30, 10]}
            ],
        },
    ]
    rec = {
        "sample_id": sid,
        "question_type": qtype,
        "family": "crossview",
        "category": "Cross-view correspondence",
        "task_name": qtype,
        "question": "Which object in view 2 is <region>?",
        "options": options,
        "answer": answer,
        "answer_kind": "choice" if options else "free",
        "views": views,
        "region_refs": [[0, 0]],
        "protocols": {
            "overlay": {
                "question": "Which object in Image 2 is the one outlined in red in Image 1?",
                "options": options,
                "images": [f"renders/overlay/{sid}_0.png", f"renders/overlay/{sid}_1.png"],
            },
        },
        "gold": None,
        "split": "test",
    }
    rec.update(extra)
    return rec


@pytest.fixture
def native_bench(tmp_path: Path) -> Path:
    """Six items: letter, colour, yes/no, image number, point, free text."""
    root = tmp_path / "dataset"
    (root / "renders" / "region").mkdir(parents=True)
    (root / "renders" / "overlay").mkdir(parents=True)
    for k in range(2):
        (root / "renders" / "region" / f"v{k}.png").write_bytes(png_bytes(50 + k))
    recs = [
        _native_record(
            "s-Q1-0", "Q1", ["A. the box", "B. the mug", "C. the cup", "D. the can"], "B"
        ),
        _native_record(
            "s-pc-0",
            "point_correspondence",
            ["A. red", "B. blue", "C. green"],
            "C",
            family="xvr",
            category="Point level",
        ),
        _native_record("s-Q5-0", "Q5", ["A. Yes", "B. No"], "A"),
        _native_record(
            "s-sv-0",
            "spatial_verification",
            ["A. Image 1", "B. Image 2"],
            "B",
            family="xvr",
            category="Camera level",
        ),
        _native_record(
            "s-cp-0",
            "Correspondence-Pointing",
            [],
            "point",
            family="crosspoint",
            category="Correspondence",
            answer_kind="point",
            gold={"view": 1, "mask_rle": rle_encode(gold_mask()), "point": [25, 7]},
        ),
        _native_record("s-Q9-open", "Q9", [], "mug"),
    ]
    for r in recs:
        for p in r["protocols"]["overlay"]["images"]:
            (root / p).write_bytes(png_bytes(100))
    return write_jsonl(root / "questions.jsonl", recs)


@pytest.fixture
def crossviewer_bench(tmp_path: Path) -> Path:
    root = tmp_path / "cv"
    (root / "images").mkdir(parents=True)
    for k in range(2):
        (root / "images" / f"f{k}.jpg").write_bytes(png_bytes(10 * k))
    m = rle_encode(gold_mask())
    recs = []
    for i, ans in enumerate("AB"):
        recs.append(
            {
                "sample_id": f"take1_{i}",
                "question_type": "Q2",
                "question": "Is <region> the same as <region>?",
                "options": ["A. first candidate", "B. second candidate"],
                "answer": ans,
                "views": [
                    {
                        "image_path": f"images/f{k}.jpg",
                        "objects": [{"mask_rle": m, "bbox_xyxy": [20, 5, 30, 10], "track_id": 3}],
                    }
                    for k in range(2)
                ],
                "region_refs": [[0, 0], [1, 0]],
            }
        )
    return write_jsonl(root / "crossviewer_test.jsonl", recs)


@pytest.fixture
def crosspoint_bench(tmp_path: Path) -> Path:
    root = tmp_path / "CrossPoint-Bench"
    (root / "image" / "origin_image").mkdir(parents=True)
    (root / "image" / "visual_image").mkdir(parents=True)
    for name in ("a.png", "b.png"):
        (root / "image" / "visual_image" / name).write_bytes(png_bytes(80))
    buf = io.BytesIO()
    Image.fromarray((gold_mask() * 255).astype(np.uint8)).save(buf, format="PNG")
    mask_b64 = base64.b64encode(buf.getvalue()).decode()
    recs = [
        {
            "images": ["visual_image/a.png", "visual_image/b.png"],
            "question": "Is the point marked in Image 1 visible in Image 2?\nA. Yes\nB. No",
            "type": "Visibility Reasoning",
            "level": "Level 2",
            "answer": "A",
        },
        {
            "images": ["visual_image/a.png", "visual_image/b.png"],
            "question": "Which marked point in Image 2 matches Image 1?\nA. red\nB. green\nC. blue",
            "type": "Correspondence-Judgement",
            "level": "Level 3",
            "answer": "C",
        },
        {
            "images": ["visual_image/a.png", "visual_image/b.png"],
            "question": "Point to the location in Image 2 of the point marked in Image 1.",
            "type": "Correspondence-Pointing",
            "level": "Level 4",
            "answer": mask_b64,
        },
    ]
    return write_jsonl(root / "CrossPoint-Bench.jsonl", recs)


def write_tsv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def allangles_tsv(tmp_path: Path) -> Path:
    """All-Angles Bench style: base64 image lists, options A-D, category, sourced_dataset."""
    b = [base64.b64encode(png_bytes(v)).decode() for v in (10, 20, 30)]
    header = [
        "index",
        "image",
        "question",
        "A",
        "B",
        "C",
        "D",
        "answer",
        "category",
        "sourced_dataset",
    ]
    rows = [
        [
            "0",
            str([b[0], b[1], b[2]]),
            "How many chairs are there across the views?",
            "1",
            "2",
            "3",
            "4",
            "B",
            "counting",
            "EgoHumans",
        ],
        [
            "1",
            str([b[0], b[1]]),
            "Is the camera of view 2 to the left of view 1?",
            "Yes",
            "No",
            "",
            "",
            "A",
            "camera_pose_estimation",
            "EgoHumans",
        ],
        [
            "2",
            "0",
            "Same images as row 0: which is closest to the table?",
            "the chair",
            "the lamp",
            "the sofa",
            "",
            "C",
            "relative_distance",
            "EgoHumans",
        ],
    ]
    return write_tsv(tmp_path / "All_Angles_Bench.tsv", header, rows)


@pytest.fixture
def mmvm_tsv(tmp_path: Path) -> Path:
    """MMVM style: image paths, options, multi-label match_type."""
    root = tmp_path / "mmvm"
    (root / "match_bench").mkdir(parents=True)
    for k in range(2):
        (root / "match_bench" / f"{k}.jpg").write_bytes(png_bytes(40 + k))
    header = ["index", "image_path", "question", "A", "B", "C", "answer", "match_type"]
    rows = [
        [
            "100",
            str(["match_bench/0.jpg", "match_bench/1.jpg"]),
            "Which box in the right image matches the boxed object on the left?",
            "box 1",
            "box 2",
            "box 3",
            "A",
            "Color, Shape",
        ],
        [
            "101",
            str(["match_bench/0.jpg", "match_bench/1.jpg"]),
            "Which box matches?",
            "box 1",
            "box 2",
            "box 3",
            "C",
            "Textual",
        ],
    ]
    return write_tsv(root / "mllm_match_eval_full.tsv", header, rows)
