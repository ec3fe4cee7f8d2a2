"""Loaders on fixtures written in each published layout."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crossview.errors import BadInputError
from crossview.eval.loaders import infer_choice_kind, load_benchmark
from crossview.geometry import rle_encode
from tests.eval.conftest import gold_mask, png_bytes, write_jsonl


def test_native_overlay_default(native_bench: Path) -> None:
    b = load_benchmark(native_bench)
    assert b.format == "native" and b.protocol == "auto"
    items = {it.id: it for it in b.items}
    q1 = items["s-Q1-0"]
    assert q1.options == ["the box", "the mug", "the cup", "the can"]
    assert q1.answer == "B" and q1.choice_kind == "letter"
    assert [p.path.name for p in q1.images] == ["s-Q1-0_0.png", "s-Q1-0_1.png"]
    assert "outlined in red" in q1.question and q1.regions == []
    assert items["s-pc-0"].choice_kind == "color"
    assert items["s-Q5-0"].choice_kind == "yesno"
    assert items["s-sv-0"].choice_kind == "image"
    pt = items["s-cp-0"]
    assert pt.answer_kind == "point" and pt.gold_mask.view == 1
    assert (pt.gold_mask.width, pt.gold_mask.height) == (40, 30)
    assert items["s-Q9-open"].answer_kind == "free"
    assert q1.categories == ("Cross-view correspondence",) and q1.family == "crossview"


def test_native_region_protocol(native_bench: Path) -> None:
    b = load_benchmark(native_bench, protocol="region")
    it = b.items[0]
    assert "<region>" in it.question
    assert [p.path.name for p in it.images] == ["v0.png", "v1.png"]
    assert it.regions[0]["view"] == 0 and it.regions[0]["mask_rle"]["size"] == [30, 40]


def test_missing_protocol_fails_loudly(native_bench: Path) -> None:
    with pytest.raises(BadInputError, match="no 'marker' protocol"):
        load_benchmark(native_bench, protocol="marker")


def test_crossviewer(crossviewer_bench: Path) -> None:
    b = load_benchmark(crossviewer_bench)
    assert b.format == "crossviewer" and b.protocol == "region"
    assert [it.id for it in b.items] == ["take1_0", "take1_1"]
    assert b.items[0].type == "Q2" and len(b.items[0].regions) == 2
    with pytest.raises(BadInputError, match="'region' or 'overlay'; protocol 'marker'"):
        load_benchmark(crossviewer_bench, protocol="marker")


def test_crossviewer_overlay_draws_the_masks(crossviewer_bench: Path) -> None:
    """Under the overlay protocol each <region> becomes a colour and its mask is drawn."""
    from crossview.render.palette import PALETTE

    b = load_benchmark(crossviewer_bench, protocol="overlay")
    item = b.items[0]
    assert b.protocol == "overlay" and not item.regions
    m = re.fullmatch(r"Is (\w+) the same as (\w+)\?", item.question)
    assert m and m.group(1) in PALETTE and m.group(2) in PALETTE and m.group(1) != m.group(2)
    assert [img.overlay[0][1] for img in item.images] == [m.group(1), m.group(2)]
    shown = np.asarray(item.images[0].open())
    base = np.asarray(Image.open(item.images[0].path).convert("RGB"))
    inside = gold_mask()
    assert (shown[~inside] != base[~inside]).any(axis=-1).mean() < 0.1  # only near the mask
    assert (shown[inside] != base[inside]).any(axis=-1).all()  # every mask pixel is drawn
    again = load_benchmark(crossviewer_bench, protocol="overlay").items[0]
    assert again.question == item.question  # seeded by the item id


def test_crossviewer_overlay_refuses_a_mask_of_another_size(
    crossviewer_bench: Path, tmp_path: Path
) -> None:
    recs = [json.loads(line) for line in crossviewer_bench.read_text().splitlines()]
    recs[1]["views"][1]["objects"][0]["mask_rle"] = rle_encode(np.zeros((5, 7), bool))
    crossviewer_bench.write_text("".join(json.dumps(r) + "\n" for r in recs))
    with pytest.raises(BadInputError, match=r"take1_1.*objects\[0\]\.mask_rle.*mask size 7x5"):
        load_benchmark(crossviewer_bench, protocol="overlay")


def test_crosspoint(crosspoint_bench: Path) -> None:
    b = load_benchmark(crosspoint_bench)
    assert b.format == "crosspoint"
    vis, judge, point = b.items
    assert [it.id for it in b.items] == ["0", "1", "2"]  # no id: 0-based line number
    assert vis.options == ["Yes", "No"] and vis.choice_kind == "yesno" and vis.answer == "A"
    assert judge.options == ["red", "green", "blue"] and judge.options_in_question
    assert point.answer_kind == "point" and point.gold_mask.view == 1
    assert point.gold_mask.decode().sum() == 50
    assert vis.images[0].path.parent.name == "visual_image"  # resolved under image/
    assert vis.meta["level"] == "Level 2"


def test_allangles_tsv(allangles_tsv: Path) -> None:
    b = load_benchmark(allangles_tsv)
    assert b.format == "tsv"
    a, yn, ref = b.items
    assert a.id == "0" and len(a.images) == 3 and a.images[0].b64
    assert a.options == ["1", "2", "3", "4"] and a.type == "counting"
    assert yn.options == ["Yes", "No"] and yn.choice_kind == "yesno"
    assert ref.images == a.images  # an index in the image cell refers to another row
    assert ref.options == ["the chair", "the lamp", "the sofa"]


def test_mmvm_tsv_multilabel(mmvm_tsv: Path) -> None:
    b = load_benchmark(mmvm_tsv)
    first, second = b.items
    assert first.categories == ("Color", "Shape") and second.categories == ("Textual",)
    assert first.images[1].path.name == "1.jpg" and first.answer == "A"


@pytest.mark.parametrize("bad", ["/etc/passwd", "../outside.png", "renders/../../outside.png"])
def test_escaping_paths_refused(tmp_path: Path, bad: str) -> None:
    root = tmp_path / "bench"
    root.mkdir()
    (tmp_path / "outside.png").write_bytes(png_bytes(1))
    rec = {
        "images": [bad],
        "question": "Q\nA. Yes\nB. No",
        "type": "Visibility Reasoning",
        "answer": "A",
    }
    f = write_jsonl(root / "b.jsonl", [rec])
    with pytest.raises(BadInputError, match="refused") as exc:
        load_benchmark(f)
    assert exc.value.field == "images[0]"


def test_symlink_out_of_folder_refused(tmp_path: Path) -> None:
    root = tmp_path / "bench"
    root.mkdir()
    (tmp_path / "secret.png").write_bytes(png_bytes(1))
    (root / "link.png").symlink_to(tmp_path / "secret.png")
    f = write_jsonl(
        root / "b.jsonl",
        [{"images": ["link.png"], "question": "A. x\nB. y", "type": "t", "answer": "A"}],
    )
    with pytest.raises(BadInputError, match="leaves the benchmark folder"):
        load_benchmark(f)


def test_extra_root_allows_sibling_store(tmp_path: Path) -> None:
    (tmp_path / "scenes").mkdir()
    (tmp_path / "scenes" / "x.png").write_bytes(png_bytes(1))
    root = tmp_path / "bench"
    root.mkdir()
    f = write_jsonl(
        root / "b.jsonl",
        [{"images": ["../scenes/x.png"], "question": "A. x\nB. y", "type": "t", "answer": "A"}],
    )
    with pytest.raises(BadInputError):
        load_benchmark(f)
    assert load_benchmark(f, extra_roots=[tmp_path / "scenes"]).items[0].images[0].path


def test_corrupt_line_names_file_and_line(native_bench: Path) -> None:
    lines = native_bench.read_text().splitlines()
    lines.insert(2, '{"sample_id": "broken", ')
    native_bench.write_text("\n".join(lines) + "\n")
    with pytest.raises(BadInputError) as exc:
        load_benchmark(native_bench)
    assert exc.value.record == "line 3" and exc.value.file == str(native_bench)


def test_missing_image_and_bad_answer(native_bench: Path) -> None:
    recs = [json.loads(x) for x in native_bench.read_text().splitlines()]
    recs[0]["answer"] = "E"
    write_jsonl(native_bench, recs)
    with pytest.raises(BadInputError, match="not one of the 4 option letters"):
        load_benchmark(native_bench)
    recs[0]["answer"] = "B"
    recs[0]["protocols"]["overlay"]["images"][0] = "renders/overlay/missing.png"
    write_jsonl(native_bench, recs)
    with pytest.raises(BadInputError, match="not found"):
        load_benchmark(native_bench)


def test_duplicate_ids_refused(crossviewer_bench: Path) -> None:
    recs = [json.loads(x) for x in crossviewer_bench.read_text().splitlines()]
    recs[1]["sample_id"] = recs[0]["sample_id"]
    write_jsonl(crossviewer_bench, recs)
    with pytest.raises(BadInputError, match="duplicate id"):
        load_benchmark(crossviewer_bench)


def test_infer_choice_kind() -> None:
    assert infer_choice_kind(["Yes", "No"]) == "yesno"
    assert infer_choice_kind(["Image 1", "Image 2", "Image 3"]) == "image"
    assert infer_choice_kind(["red", "blue", "Green"]) == "color"
    assert infer_choice_kind(["the red mug", "the blue box"]) == "letter"


def test_choice_kind_comes_from_the_record(tmp_path: Path) -> None:
    """The record's choices block decides how a model may name an option; wording that would
    say otherwise (or nothing) does not; a record without the block goes by the wording."""
    from tests.eval.conftest import _native_record

    opts = ["A. The first camera", "B. The second camera"]
    views = _native_record(
        "cv-0", "Q12", opts, "B", choices={"views": [0, 1], "labels": [None, None]}
    )
    marks = _native_record(
        "cv-1",
        "point_correspondence",
        ["A. The left one", "B. The right one"],
        "A",
        choices={"views": [None, None], "labels": ["red", "blue"]},
    )
    marks["protocols"]["overlay"]["marks"] = [
        {"view": 1, "color": "red"},
        {"view": 1, "color": "blue"},
    ]
    yes = _native_record("cv-2", "Q5", ["A. Yes", "B. No"], "A", choices={"labels": ["yes", "no"]})
    bare = _native_record("cv-3", "Q5", ["A. Yes", "B. No"], "A")
    plain = _native_record(
        "cv-4",
        "Q10",
        ["A. Larger", "B. Smaller"],
        "A",
        choices={"views": [None, None], "labels": ["larger", "smaller"]},
    )
    (tmp_path / "renders" / "region").mkdir(parents=True)
    (tmp_path / "renders" / "overlay").mkdir(parents=True)
    for name in ("v0", "v1"):
        (tmp_path / "renders" / "region" / f"{name}.png").write_bytes(png_bytes(90))
    for r in (views, marks, yes, bare, plain):
        for k in range(2):
            (tmp_path / "renders" / "overlay" / f"{r['sample_id']}_{k}.png").write_bytes(
                png_bytes(9)
            )
    f = write_jsonl(tmp_path / "questions.jsonl", [views, marks, yes, bare, plain])
    kinds = {it.id: it.choice_kind for it in load_benchmark(f, protocol="overlay").items}
    assert kinds == {
        "cv-0": "image",
        "cv-1": "color",
        "cv-2": "yesno",
        "cv-3": "yesno",
        "cv-4": "letter",
    }
    assert infer_choice_kind(["The first camera", "The second camera"]) == "letter"


def test_native_auto_protocol_per_item_and_open_answer(tmp_path: Path) -> None:
    """auto shows each item its own drawn protocol; an open answer follows that protocol."""
    import json

    from PIL import Image

    for name in ("a.png", "b.png", "a_ov.png", "b_mk.png"):
        Image.new("RGB", (8, 6)).save(tmp_path / name)
    view = {"image_path": "a.png", "objects": []}
    recs = [
        {
            "sample_id": "ov",
            "question_type": "Q1",
            "question": "q <region>",
            "options": [],
            "answer": "region 2",
            "answer_kind": "free",
            "open_ended": True,
            "views": [view],
            "region_refs": [],
            "protocols": {
                "overlay": {
                    "question": "q red",
                    "options": [],
                    "images": ["a_ov.png"],
                    "answer": "red",
                }
            },
        },
        {
            "sample_id": "mk",
            "question_type": "point_correspondence",
            "question": "which dot?",
            "options": ["A. red", "B. blue"],
            "answer": "B",
            "answer_kind": "choice",
            "views": [{"image_path": "b.png", "objects": []}],
            "region_refs": [],
            "protocols": {
                "marker": {
                    "question": "which dot?",
                    "options": ["A. red", "B. blue"],
                    "images": ["b_mk.png"],
                }
            },
        },
    ]
    path = tmp_path / "questions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    items = {it.id: it for it in load_benchmark(path).items}
    assert items["ov"].answer == "red" and items["ov"].images[0].path.name == "a_ov.png"
    assert items["mk"].images[0].path.name == "b_mk.png" and items["mk"].choice_kind == "color"
    region = {it.id: it for it in load_benchmark(path, protocol="region").items}
    assert region["ov"].answer == "region 2"


def test_prompts_do_not_carry_track_ids(crossviewer_bench: Path) -> None:
    """A region's ground-truth track id would give away matching answers: only the oracle's
    prompts (built with the gold) keep it; every model sees view, object and mask alone."""
    from crossview.eval.prompts import build_tasks

    item = load_benchmark(crossviewer_bench).items[0]
    assert all("track_id" in r for r in item.regions)
    shown = build_tasks(item)[0].prompt.regions
    assert shown and all("track_id" not in r and "mask_rle" in r for r in shown)
    assert all("track_id" in r for r in build_tasks(item, with_gold=True)[0].prompt.regions)
