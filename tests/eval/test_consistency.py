"""Consistency variants: options rotated, images reversed, paraphrases; answers must not move."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from crossview.engine.config import GenerateConfig
from crossview.engine.pipeline import generate
from crossview.eval.items import EvalItem, ImageSource
from crossview.eval.loaders import load_benchmark
from crossview.eval.prompts import (
    IMAGE_ORDER,
    PARAPHRASE,
    build_tasks,
    reorderable,
    reverse_images,
    variant_kind,
)
from crossview.eval.runner import EvalConfig, run_eval
from crossview.render.palette import PALETTE
from tests.engine.toys import toy_store
from tests.eval.conftest import write_jsonl


def _item(question: str, options: list[str], answer: str = "A", n: int = 3) -> EvalItem:
    return EvalItem(
        id="x",
        type="t",
        question=question,
        options=options,
        answer=answer,
        answer_kind="choice",
        images=[ImageSource(path=Path(f"/img{k}.png")) for k in range(n)],
        regions=[{"view": 0, "object": 0}, {"view": 2, "object": 1}],
    )


def test_reversed_images_are_renamed_and_regions_follow() -> None:
    it = _item(
        "Standing at the camera of Image 1, which image is to your right?", ["Image 2", "Image 3"]
    )
    assert reorderable(it)
    r = reverse_images(it)
    assert r.question == "Standing at the camera of Image 3, which image is to your right?"
    assert r.options == ["Image 2", "Image 1"] and r.answer == "A"
    assert [s.path.name for s in r.images] == ["img2.png", "img1.png", "img0.png"]
    assert [g["view"] for g in r.regions] == [2, 0]
    # words that name images by position or as a group: the order cannot change
    for q in (
        "Which of Images 2-4 shows the scene from the left?",
        "Is the first image taken earlier?",
        "Which of the other images matches Image 1?",
        "Is the object visible in each image?",
    ):
        assert not reorderable(_item(q, ["Yes", "No"]))
    assert not reorderable(_item("Is it red?", ["Yes", "No"]))  # no image named
    assert not reorderable(_item("Is it in Image 4?", ["Yes", "No"]))  # out of range


def test_variant_ids_and_kinds() -> None:
    it = _item("Is the object in Image 1 the one in Image 2?", ["Yes", "No"], "B", n=2)
    it.paraphrases = ["Does Image 2 show the object of Image 1?"]
    tasks = build_tasks(it, consistency=True)
    ids = [t.prompt.variant for t in tasks]
    assert ids == [0, 1, IMAGE_ORDER, PARAPHRASE]
    assert [variant_kind(v) for v in ids] == ["plain", "rotation", "image order", "paraphrase"]
    assert [t.answer for t in tasks] == ["B", "A", "B", "B"]  # rotation moves the letter
    assert tasks[1].order == (1, 0) and tasks[2].order == (0, 1)
    assert tasks[3].prompt.text.startswith("Does Image 2 show the object of Image 1?")
    assert [t.prompt.variant for t in build_tasks(it)] == [0]  # nothing asked by default


@pytest.fixture(scope="module")
def paraphrased(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("consistency")
    store = toy_store(root / "store", 4, seed=5)
    cfg = GenerateConfig(family="all", per_task=2, open_ended_fraction=0.0, paraphrases=True)
    generate(store, root / "ds", cfg)
    return root / "ds" / "questions.jsonl"


def test_generator_writes_paraphrases_on_request(paraphrased: Path, tmp_path: Path) -> None:
    recs = [json.loads(line) for line in paraphrased.read_text().splitlines()]
    assert recs and all(r.get("paraphrases") is not None for r in recs)
    for r in recs:
        assert r["question"] not in r["paraphrases"]
        for name, entry in r["protocols"].items():
            assert entry["paraphrases"] and entry["question"] not in entry["paraphrases"], name
        if "overlay" in r["protocols"]:  # the same colours name the same objects
            over = r["protocols"]["overlay"]
            colours = {m["color"] for m in over["marks"]}
            for p in over["paraphrases"]:
                said = set(re.findall(rf"outlined in ({'|'.join(PALETTE)})\b", p))
                assert "<region>" not in p and said <= colours, p
        # region paraphrases name the objects as often as the question: region_refs fit them
        n = r["question"].count("<region>")
        assert all(p.count("<region>") == n for p in r["paraphrases"])
    assert sum(len(r["paraphrases"]) for r in recs) > len(recs) / 2
    # without the flag: the same records, byte for byte, less the paraphrases
    store = paraphrased.parent.parent / "store"
    plain_cfg = GenerateConfig(family="all", per_task=2, open_ended_fraction=0.0)
    generate(store, tmp_path / "plain", plain_cfg)
    text = (tmp_path / "plain" / "questions.jsonl").read_text()
    plain = [json.loads(x) for x in text.splitlines()]
    assert all("paraphrases" not in r for r in plain) and len(plain) == len(recs)
    for a, b in zip(recs, plain, strict=True):
        a = {k: v for k, v in a.items() if k != "paraphrases"}
        a["protocols"] = {
            n: {k: v for k, v in e.items() if k != "paraphrases"} for n, e in a["protocols"].items()
        }
        assert a == b


def test_consistency_scores_the_oracle_and_catches_an_unstable_model(
    paraphrased: Path, tmp_path: Path
) -> None:
    out = run_eval(
        EvalConfig(bench=paraphrased, model="oracle", out=tmp_path / "o", consistency=True)
    )
    c = out["consistency"]
    assert c["overall"]["items"] == out["overall"]["n"] and c["single"] == 0
    assert c["overall"]["all_right"] == 1.0 and c["overall"]["stable"] == 1.0
    assert {"plain", "rotation", "image order", "paraphrase"} <= set(c["overall"]["by_kind"])
    lines = [json.loads(x) for x in (tmp_path / "o" / "predictions.jsonl").read_text().splitlines()]
    assert {r["kind"] for r in lines} >= {"plain", "rotation", "image order", "paraphrase"}
    # a model right on the plain prompt only: accuracy 100%, consistency 0 where it can be seen
    items = {it.id: it for it in load_benchmark(paraphrased).items}
    replay = []
    for r in lines:
        it = items[r["id"]]
        if it.answer_kind != "choice":
            continue
        wrong = next(x for x in "ABCD"[: len(it.options)] if r["gold"] != x)
        replay.append(
            {
                "id": r["id"],
                "variant": r["variant"],
                "response": r["gold"] if r["variant"] == 0 else wrong,
            }
        )
    write_jsonl(tmp_path / "replay.jsonl", replay)
    bad = run_eval(
        EvalConfig(
            bench=paraphrased,
            model=f"replay:{tmp_path / 'replay.jsonl'}",
            out=tmp_path / "b",
            consistency=True,
        )
    )
    bc = bad["consistency"]
    assert bad["overall"]["accuracy"] == 1.0  # plain prompts only
    kinds = bc["overall"]["by_kind"]
    assert kinds["plain"]["accuracy"] == 1.0
    assert kinds["rotation"]["accuracy"] == kinds["paraphrase"]["accuracy"] == 0.0
    assert kinds["image order"]["accuracy"] == 0.0
    assert bc["overall"]["items"] > 0
    assert bc["overall"]["all_right"] == 0.0 and bc["overall"]["stable"] == 0.0
