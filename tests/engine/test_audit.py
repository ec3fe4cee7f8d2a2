"""The shortcut audit: it finds planted shortcuts, stays at chance without them, and the
generated benchmark passes it (with the fixes each finding of the audit issue needed)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from crossview.cli import main
from crossview.engine.audit import _credit, audit_dataset, learned_credits
from crossview.engine.config import GenerateConfig
from crossview.engine.pipeline import (
    balance_keys,
    balanced_by_meaning,
    generate,
    near_key,
    spread_out,
)
from crossview.render.palette import delta_e2000
from crossview.tasks.base import Candidate, Option, Ref, ViewKey
from tests.cli_runs import sim_and_generate
from tests.engine.toys import RIG_OVERVIEW, toy_store

LETTERS = "ABCDE"


def read(ds: Path) -> list[dict]:
    return [json.loads(x) for x in (ds / "questions.jsonl").read_text().splitlines()]


def write(ds: Path, recs: list[dict]) -> None:
    (ds / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))


@pytest.fixture(scope="module")
def toy_ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("audit")
    store = toy_store(root / "store", 10, seed=4, cameras=RIG_OVERVIEW)
    out = root / "ds"
    tasks = ["Q10", "Q1", "Correspondence-Judgement", "point_correspondence"]
    generate(store, out, GenerateConfig(tasks=tasks, per_task=40, open_ended_fraction=0.0))
    return out


# ----------------------------------------------------------------------------- statistics


def test_credit_splits_ties() -> None:
    assert _credit(np.array([1.0, 1.0, 0.0, 0.0]), 0) == 0.5
    assert _credit(np.array([1.0, 1.0, 0.0, 0.0]), 2) == 0.0
    assert _credit(np.zeros(4), 3) == 0.25  # a probe that cannot tell options apart: chance


def test_learned_probe_finds_a_planted_feature_and_not_noise() -> None:
    rng = np.random.default_rng(0)
    n, k = 120, 4
    gold = rng.integers(0, k, n).tolist()
    groups = [f"s{i % 8}" for i in range(n)]
    noise = [rng.normal(size=(k, 3)) for _ in range(n)]
    planted = [x.copy() for x in noise]
    for x, g in zip(planted, gold):
        x[g, 1] += 2.5  # the gold option stands out on one feature
    hit = np.mean(learned_credits(planted, gold, groups))
    blind = np.mean(learned_credits(noise, gold, groups))
    assert hit > 0.8
    assert abs(blind - 0.25) < 0.12
    assert learned_credits(noise, gold, ["one"] * n) is None  # no scene-disjoint folds


# ---------------------------------------------------------------------- planted shortcuts


def _flagged(ds: Path) -> set[str]:
    return {f"{s.type_id}/{s.probe}" for s in audit_dataset(ds).flagged}


def test_planted_shortcuts_are_flagged(toy_ds: Path, tmp_path: Path) -> None:
    recs = read(toy_ds)
    leaky = tmp_path / "leaky"
    leaky.mkdir()
    for sub in ("images", "renders"):
        (leaky / sub).symlink_to(toy_ds / sub)
    out = []
    for r in recs:
        r = json.loads(json.dumps(r))
        t = r["question_type"]
        if t == "Correspondence-Judgement":  # gold mark listed first, as the old generator did
            marks = r["protocols"]["marker"]["marks"]
            gold = r["answer_text"]
            marks.sort(key=lambda m: (m["view"], m["color"] != gold))
        if t == "Q10":  # the gold is always "Larger": move the answer there
            labels = r["choices"]["labels"]
            r["answer"] = LETTERS[labels.index("larger")]
        if t == "Q1":  # a word only the gold option carries
            i = LETTERS.index(r["answer"])
            r["protocols"]["overlay"]["options"][i] += " (this one)"
        out.append(r)
    write(leaky, out)
    flagged = _flagged(leaky)
    assert "Correspondence-Judgement/mark_order" in flagged
    assert "Q10/answer_prior" in flagged
    assert "Q1/text_only" in flagged


def test_subpixel_probe_reads_the_drawn_dot(tmp_path: Path) -> None:
    """A gold dot drawn off the pixel grid among dots on pixel centres is found from pixels."""
    from crossview.dataset.record import Record
    from crossview.engine.audit_probes import ItemReader, subpixel_rule
    from crossview.render.markers import Mark, draw_marks
    from crossview.scene.store import save_image

    img = np.full((120, 160, 3), 200, np.uint8)
    colors = ["red", "blue", "green", "orange"]
    uv = [(40.5, 30.5), (100.0, 30.0), (40.0, 90.0), (120.0, 80.0)]
    marks = [Mark(0, "dot", u, c) for u, c in zip(uv, colors)]
    save_image(tmp_path / "a.png", draw_marks(img, marks))
    rec = {
        "sample_id": "s-0",
        "question_type": "point_correspondence",
        "question": "q",
        "answer": "A",
        "protocols": {
            "marker": {
                "question": "q",
                "options": [f"{L}. {c}" for L, c in zip(LETTERS, colors)],
                "images": ["a.png"],
                "marks": [m.to_json() for m in marks],
            }
        },
        "choices": {"labels": colors, "views": [None] * 4},
        "views": [{"camera": "c", "width": 160, "height": 120, "timestep": 0}],
    }
    scores = subpixel_rule(ItemReader(Record.from_json(rec), tmp_path, {}))
    assert int(np.argmax(scores)) == 0 and scores[0] > 0.5 and scores[1:].max() < 0.2


# ------------------------------------------------------------------------------- balancing


def _image_item(gold_cam: str, cams: list[str]) -> Candidate:
    views = [ViewKey("s", "ref", 0)] + [ViewKey("s", c, 0) for c in cams]
    opts = [Option(f"Image {i + 2}", view=i + 1) for i in range(len(cams))]
    return Candidate("T", views, [], "q", opts, gold=cams.index(gold_cam))


def test_balancing_by_meaning_drops_a_camera_prior() -> None:
    # the wrist camera is gold in 30 items and a distractor in 3 only
    pool = [("s", _image_item("wrist", ["wrist", "fix_left", "fix_right"])) for _ in range(30)]
    pool += [("s", _image_item("fix_left", ["fix_left", "wrist", "top"])) for _ in range(3)]
    kept = balanced_by_meaning(pool)
    gold = Counter(c.views[c.gold_option.view].camera for _, c in kept)
    offered = Counter(c.views[o.view].camera for _, c in kept for o in c.options)
    assert gold["wrist"] <= offered["wrist"] / 3 + 1
    assert len(kept) < len(pool)
    # a balanced pool is kept whole, in order
    fair = [("s", _image_item(g, ["a", "b", "c"])) for g in "abc" * 5]
    assert balanced_by_meaning(fair) == fair
    assert len(balanced_by_meaning(fair, quota=6)) == 6


def _within_slack(items: list[tuple[str, Candidate]], slack: float = 1.0) -> bool:
    gold: Counter = Counter()
    fair: Counter = Counter()
    for _, c in items:
        keys = balance_keys(c)
        gold.update(keys[c.gold])
        for ks in keys:
            fair.update({k: 1 / len(keys) for k in ks})
    return all(gold[k] - fair[k] <= slack + 1e-9 for k in gold)


def test_a_quota_is_filled_with_a_balanced_set_when_one_exists() -> None:
    # "top" is gold far more often than it is offered; a balanced subset of 12 exists (each
    # camera gold as often as it is offered / 3), and candidates that do not fit early (the
    # pool starts with the top-gold items) must be tried again once others raised the shares
    pool = [("s", _image_item("top", ["top", "a", "b"])) for _ in range(20)]
    pool += [("s", _image_item(g, [g, "top", "c"])) for g in "abc" * 4]
    got = balanced_by_meaning(pool, quota=12)
    assert len(got) == 12
    for n in range(1, len(got) + 1):  # every prefix balanced, so the whole is
        assert _within_slack(got[:n])
    tops = sum(c.views[c.gold_option.view].camera == "top" for _, c in got)
    assert 1 <= tops <= 5


def test_a_phrasing_does_not_predict_the_label() -> None:
    # "yes" always asked in one wording, "no" in the other: the text would give the answer
    v = [ViewKey("s", "a", 0), ViewKey("s", "b", 0)]

    def item(q: str, gold: int) -> Candidate:
        opts = [Option("Yes", label="yes"), Option("No", label="no")]
        return Candidate("T", v, [], q, opts, gold=gold, permutable=False)

    pool = [("s", item("Is it there?", 0)) for _ in range(10)]
    pool += [("s", item("Can you see it?", 1)) for _ in range(10)]
    kept = balanced_by_meaning(pool)
    by = Counter((c.question, c.gold) for _, c in kept)
    assert by[("Is it there?", 0)] <= by["Is it there?", 1] + 2
    assert by[("Can you see it?", 1)] <= by["Can you see it?", 0] + 2


def test_near_duplicates_share_a_key() -> None:
    v = [ViewKey("s", "a", 0), ViewKey("s", "b", 0)]
    opts = [Option("{R1}", ref=1), Option("{R2}", ref=2)]
    c1 = Candidate("Q2", v, [Ref(0, 5), Ref(1, 5), Ref(1, 6)], "Find {R0}", opts, gold=0)
    c2 = Candidate(
        "Q2", v[::-1], [Ref(1, 5), Ref(0, 5), Ref(0, 6)], "Where is {R0}?", opts[::-1], gold=1
    )
    c3 = Candidate("Q2", v, [Ref(0, 5), Ref(1, 5), Ref(1, 7)], "Find {R0}", opts, gold=0)
    assert near_key(c1) == near_key(c2) != near_key(c3)


def test_coordinate_items_are_spread_over_the_image() -> None:
    def item(x0: int) -> tuple[str, Candidate]:
        m = np.zeros((40, 40), bool)
        m[18:22, x0 : x0 + 4] = True
        c = Candidate("P", [ViewKey("s", "a", 0)], [], "q", [], 0, answer_kind="point")
        c.gold_mask = (0, m)
        return ("s", c)

    pool = [item(18) for _ in range(10)] + [item(x) for x in (0, 4, 8, 12, 24, 28, 32, 36)]
    out = spread_out(pool, 30)
    cover = sum(c.gold_mask[1].astype(int) for _, c in out)
    assert cover.max() == 1 and len(out) == 9  # one centred item, eight elsewhere


def test_coordinate_items_short_of_quota_are_packed_smallest_first() -> None:
    def item(x0: int, w: int) -> tuple[str, Candidate]:
        m = np.zeros((40, 40), bool)
        m[18:22, x0 : x0 + w] = True
        c = Candidate("P", [ViewKey("s", "a", 0)], [], "q", [], 0, answer_kind="point")
        c.gold_mask = (0, m)
        return ("s", c)

    # in pool order the wide region takes the middle row and blocks the four small ones
    pool = [item(4, 32)] + [item(x, 4) for x in (4, 12, 20, 28)]
    out = spread_out(pool, 4)
    assert len(out) == 4 and all(c.gold_mask[1].sum() == 16 for _, c in out)
    cover = sum(c.gold_mask[1].astype(int) for _, c in out)
    assert cover.max() == 1  # the rule holds
    # a quota the pool order meets keeps the pool order
    assert spread_out(pool, 1)[0][1] is pool[0][1]


def test_ciede2000_reference_pairs() -> None:
    # Sharma, Wu and Dalal (2005), pairs 1 and 17 of their table
    assert delta_e2000(np.array([50, 2.6772, -79.7751]), np.array([50, 0, -82.7485])) == (
        pytest.approx(2.0425, abs=1e-4)
    )
    assert delta_e2000(np.array([50, 2.5, 0]), np.array([73, 25, -18])) == pytest.approx(
        27.1492, abs=1e-4
    )


# ------------------------------------------------------------- the generated benchmark


@pytest.fixture(scope="module")
def sim_ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mujoco")
    return sim_and_generate(
        tmp_path_factory.mktemp("audit_sim"),
        ["--scenes", "8", "--seed", "0", "--cameras", "5", "--workers", "2"],
        ["--family", "all", "--per-task", "30", "--open-ended-fraction", "0", "--workers", "2"],
    )


@pytest.mark.sim
def test_generated_benchmark_has_no_shortcut(sim_ds: Path) -> None:
    """The quickstart's benchmark (8 scenes, seed 0, 5 cameras, every family): every probe
    within chance, and the audit's findings fixed one by one."""
    assert main(["audit", str(sim_ds)]) == 0
    audit = json.loads((sim_ds / "audit.json").read_text())
    assert audit["flagged"] == [] and audit["tests"] > 100
    recs = read(sim_ds)
    by = {
        t: [r for r in recs if r["question_type"] == t] for t in {r["question_type"] for r in recs}
    }
    # marks: every dot off the pixel grid alike, listed by colour, on a surface of another colour
    for r in by["point_correspondence"] + by["Correspondence-Judgement"]:
        marks = r["protocols"]["marker"]["marks"]
        assert marks == sorted(marks, key=lambda m: (m["view"], m["color"]))
        target = [m for m in marks if m["view"] == len(r["views"]) - 1]
        assert sum(abs(m["uv"][0] - round(m["uv"][0])) > 1e-6 for m in target) == len(target)
    # camera priors: the gold camera is not always the wrist camera
    for t in (
        "viewpoint_localization",
        "temporal_verification",
        "language_conditioned_localization",
    ):
        gold_view = [r["choices"]["views"][LETTERS.index(r["answer"])] for r in by[t]]
        cams = Counter(r["views"][v]["camera"] for r, v in zip(by[t], gold_view))
        offered = Counter(r["views"][v]["camera"] for r in by[t] for v in r["choices"]["views"])
        n_opt = len(by[t][0]["options"])
        for cam, g in cams.items():
            assert g <= offered[cam] / n_opt + 2, (t, cam, g, offered[cam])
    # Q6: "No" is not "Image 2 is the wrist camera"
    q6 = Counter((r["answer_text"], r["views"][1]["camera"] == "wrist") for r in by["Q6"])
    assert q6[("no", True)] <= q6[("yes", True)] + 2
    # Q10: labels balanced by meaning
    q10 = Counter(r["answer_text"] for r in by["Q10"])
    assert max(q10.values()) - min(q10.values()) <= 3, q10
    # the card shows the audit
    assert "## Shortcut audit" in (sim_ds / "README.md").read_text()
