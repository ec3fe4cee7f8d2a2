"""The dataset record's one owner: round trip, defaults, protocol views and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossview.dataset import Record, auto_protocol, default_answer_kind
from crossview.errors import BadInputError

MINIMAL = {
    "id": "cv-000",
    "question_type": "Q1",
    "question": "Which object in Image 2 is <region>?",
    "options": ["A. <region>", "B. <region>"],
    "answer": "B",
    "views": [{"image_path": "a.png", "objects": []}, {"image_path": "b.png", "objects": []}],
}


def test_generated_records_round_trip_exactly(tmp_path: Path) -> None:
    from crossview.engine.config import GenerateConfig
    from crossview.engine.pipeline import generate
    from crossview.scene.store import iter_jsonl
    from tests.engine.toys import toy_store

    store = toy_store(tmp_path / "s", 6, seed=11)
    cfg = GenerateConfig(family="all", per_task=3, open_ended_fraction=0.3, paraphrases=True)
    generate(store, tmp_path / "d", cfg)
    recs = [r for _, r in iter_jsonl(tmp_path / "d" / "questions.jsonl")]
    assert len(recs) > 20
    for r in recs:
        assert Record.from_json(r).to_json() == r
    kinds = {Record.from_json(r).answer_kind for r in recs}
    assert kinds == {"choice", "free", "point"}


def test_defaults_are_decided_once() -> None:
    rec = Record.from_json(MINIMAL, id_keys=("sample_id", "id"))
    assert rec.sample_id == "cv-000" and rec.answer_kind == "choice"
    free = Record.from_json({**MINIMAL, "options": []}, id_keys=("sample_id", "id"))
    assert free.answer_kind == "free" == default_answer_kind([])
    assert rec.family == "" and not rec.open_ended and rec.protocols == {}
    # a record without an id is numbered by its reader, as the harness numbers lines
    anon = {k: v for k, v in MINIMAL.items() if k != "id"}
    assert Record.from_json(anon, default_id="7").sample_id == "7"
    with pytest.raises(BadInputError, match="sample_id"):
        Record.from_json(anon)
    # unknown fields survive a round trip
    odd = Record.from_json({**MINIMAL, "sample_id": "x", "extra_field": 3})
    assert odd.to_json()["extra_field"] == 3


def test_protocol_views() -> None:
    rec = Record.from_json(
        {
            **MINIMAL,
            "sample_id": "s",
            "protocols": {
                "overlay": {
                    "question": "Which object in Image 2 is the red one?",
                    "options": ["A. the blue object", "B. the green object"],
                    "images": ["r/0.png", "r/1.png"],
                }
            },
        }
    )
    assert rec.available() == ["region", "overlay"]
    assert auto_protocol(rec.protocols) == "overlay" == rec.view("auto").protocol
    region = rec.view("region")
    assert region.images == ["a.png", "b.png"] and region.image_field(1) == "views[1].image_path"
    ov = rec.view("overlay")
    assert ov.images == ["r/0.png", "r/1.png"] and ov.answer == "B"
    assert ov.image_field(0) == "protocols.overlay.images[0]"
    assert rec.view("marker") is None
    assert auto_protocol([]) == "region" and auto_protocol(["marker"]) == "marker"


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (lambda r: r.pop("question_type"), "question_type", "missing"),
        (lambda r: r.update(views=[]), "views", "non-empty"),
        (lambda r: r.update(answer_kind="essay"), "answer_kind", "unknown answer_kind"),
        (lambda r: r.update(options=[1, 2]), "options", "list of strings"),
        (lambda r: r.update(paraphrases="one"), "paraphrases", "list of strings"),
        (lambda r: r.pop("answer"), "answer", "missing"),
    ],
)
def test_bad_records_name_the_field(edit, field: str, words: str) -> None:
    rec = json.loads(json.dumps(MINIMAL))
    edit(rec)
    with pytest.raises(BadInputError, match=words) as err:
        Record.from_json(rec, "q.jsonl", "line 1", id_keys=("sample_id", "id"))
    assert err.value.field == field and err.value.record == "line 1"


def test_bad_protocol_entries_name_the_field() -> None:
    rec = Record.from_json(
        {**MINIMAL, "sample_id": "s", "protocols": {"marker": {"question": "q", "images": ["a"]}}}
    )
    with pytest.raises(BadInputError, match="1 protocol images for 2 views") as err:
        rec.view("marker", "q.jsonl", "line 1")
    assert err.value.field == "protocols.marker.images"
    rec.protocols["marker"] = {"images": ["a", "b"]}
    with pytest.raises(BadInputError, match="missing field 'question'") as err:
        rec.view("marker")
    assert err.value.field == "protocols.marker.question"
