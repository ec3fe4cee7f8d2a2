"""The classical solver: detectors on synthetic drawings, honest no-answers, and accuracy on
simulator scenes with known geometry."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from crossview.classical import REFUSAL, Query, answer
from crossview.classical import detect as det
from crossview.classical.query import split_prompt, type_from_id, type_from_text
from crossview.classical.solver import solve
from crossview.eval.items import ImageSource, Prompt
from crossview.render.markers import Mark, draw_marks
from crossview.render.overlay import draw_overlays
from tests.cli_runs import sim_and_generate

W, H = 320, 240


def _background(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((H, W, 3), 200, np.uint8)
    img[:, :, 2] = 170
    return (img.astype(int) + rng.integers(-10, 10, (H, W, 1))).clip(0, 255).astype(np.uint8)


def test_dots_found_at_their_centres() -> None:
    marks = [
        Mark(0, "dot", (50.3, 60.7), "red"),
        Mark(0, "dot", (200.0, 100.5), "blue"),
        Mark(0, "dot", (120.6, 200.2), "cyan"),
    ]
    img = draw_marks(_background(), marks)
    for m in marks:
        d = det.best_dot(img, m.color)
        assert d is not None
        assert np.hypot(d.uv[0] - m.uv[0], d.uv[1] - m.uv[1]) < 0.5
    assert det.best_dot(img, "green") is None


def test_dot_not_confused_with_a_same_coloured_object() -> None:
    img = _background()
    img[80:140, 100:200] = (40, 200, 60)  # a green box, no outline
    img = draw_marks(img, [Mark(0, "dot", (150.0, 110.0), "green")])
    dots = det.find_dots(img, "green")
    assert len(dots) == 1 and np.hypot(dots[0].uv[0] - 150, dots[0].uv[1] - 110) < 0.5


@pytest.mark.parametrize(("tail", "head"), [((60, 60), (160, 120)), ((250, 200), (180, 90))])
def test_arrow_direction(tail: tuple[float, float], head: tuple[float, float]) -> None:
    img = draw_marks(_background(), [Mark(0, "arrow", tail, "orange", head)])
    a = det.find_arrow(img, "orange")
    assert a is not None
    true = np.subtract(head, tail) / np.linalg.norm(np.subtract(head, tail))
    assert float(a.direction @ true) > 0.98
    assert np.hypot(a.tail[0] - tail[0], a.tail[1] - tail[1]) < 5


def test_overlay_mask_recovered_and_untinted() -> None:
    base = _background()
    base[50:120, 60:150] = (30, 60, 220)  # a blue object
    mask = np.zeros((H, W), bool)
    mask[50:120, 60:150] = True
    other = np.zeros((H, W), bool)
    other[150:210, 200:290] = True
    img = draw_overlays(base, [mask, other], ["yellow", "magenta"])
    got = det.find_overlay(img, "yellow")
    iou = (got & mask).sum() / (got | mask).sum()
    assert iou > 0.9
    assert det.find_overlay(img, "green").sum() == 0
    inner = np.zeros_like(mask)
    inner[55:115, 65:145] = True
    rgb = det.untint(img, inner, "yellow").mean(0)
    assert np.abs(rgb - (30, 60, 220)).max() < 3


def test_prompt_parsing_and_types() -> None:
    text = "Which dot?\nA. Red\nB. Blue\nAnswer with the letter of the correct option."
    q, opts = split_prompt(text, ["A", "B"])
    assert q == "Which dot?" and opts == ["Red", "Blue"]
    assert type_from_id("sim_1_00000-point_correspondence-003") == "point_correspondence"
    assert type_from_id("sim_1-Fine-grained_Grounding-000") == "Fine-grained Grounding"
    assert type_from_id("s-Q12-001") == "Q12"
    assert type_from_text("Each image marks ... the dot is in the wrong place. Which image?") == (
        "spatial_verification"
    )


def _flat_prompt(tmp_path: Path, qtype: str, text: str, images: list[np.ndarray]) -> Prompt:
    from PIL import Image

    srcs = []
    for k, im in enumerate(images):
        p = tmp_path / f"{qtype}_{k}.png"
        Image.fromarray(im).save(p)
        srcs.append(ImageSource(path=p))
    letters = tuple(line[0] for line in text.splitlines() if line[1:3] == ". ")
    return Prompt(
        item_id=f"flat-{qtype}-000", variant=0, text=text, images=tuple(srcs), letters=letters
    )


def test_textureless_images_give_no_answer(tmp_path: Path) -> None:
    flat = np.full((H, W, 3), 180, np.uint8)
    ref = [Mark(0, "dot", (100.0, 120.0), "magenta")]
    cands = [
        Mark(0, "dot", (60.0 + 50 * k, 100.0 + 10 * k), c)
        for k, c in enumerate(["blue", "red", "orange", "purple", "yellow"])
    ]
    imgs = [draw_marks(flat, ref), draw_marks(flat, ref), draw_marks(flat, cands)]
    text = (
        "Images 1 and 2 mark one 3D point with a magenta dot. Image 3 shows several coloured "
        "dots. Which dot in Image 3 marks the same 3D point?\nA. Blue\nB. Red\nC. Orange\n"
        "D. Purple\nE. Yellow\nAnswer with the letter of the correct option."
    )
    p = _flat_prompt(tmp_path, "point_correspondence", text, imgs)
    out, reason = answer(p)
    assert out.startswith(REFUSAL) and reason is not None
    from crossview.eval.extract import extract_choice

    ext = extract_choice(out, ("Blue", "Red", "Orange", "Purple", "Yellow"), "color")
    assert not ext.answered
    # spatial verification and correspondence judgement abstain as well
    sv = [draw_marks(flat, [Mark(0, "dot", (80.0 + 30 * k, 100.0), "red")]) for k in range(4)]
    text = (
        "Each image marks what should be the same 3D point with a red dot, but in one image "
        "the dot is in the wrong place. Which image?\nA. Image 1\nB. Image 2\nC. Image 3\n"
        "D. Image 4\nAnswer with the letter of the correct option."
    )
    out, reason = answer(_flat_prompt(tmp_path, "spatial_verification", text, sv))
    assert out.startswith(REFUSAL) and reason is not None


def test_unknown_type_abstains() -> None:
    q = Query(text="?", question="?", options=[], letters=[], images=[np.zeros((4, 4, 3))])
    assert not solve(q).answered


# ---------------------------------------------------------------------------------------------
# Simulator scenes with known geometry

SIM_TYPES = (
    "point_correspondence",
    "spatial_verification",
    "Q1",
    "Q2",
    "Q3",
    "Q5",
    "Correspondence-Judgement",
    "viewpoint_localization",
    "Q4",
    "Q6",
    "Q8",
    "Q9",
    "Q14",
    "Q17",
    "directional_correspondence",
    "language_conditioned_localization",
    "Fine-grained Grounding",
)


@pytest.fixture(scope="module")
def sim_bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mujoco")
    ds = sim_and_generate(
        tmp_path_factory.mktemp("classical_sim"),
        ["--scenes", "4", "--seed", "1"],
        ["--tasks", ",".join(SIM_TYPES), "--per-task", "10", "--open-ended-fraction", "0"],
    )
    return ds / "questions.jsonl"


@pytest.fixture(scope="module")
def sim_run(sim_bench: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """The classical solver on ``sim_bench`` with two workers and a cold result cache:
    ``(summary, run folder)``; the cache is in the run folder's parent."""
    from crossview.eval.backends import BackendSettings
    from crossview.eval.runner import EvalConfig, run_eval

    out = tmp_path_factory.mktemp("classical_runs") / "cold"
    cfg = EvalConfig(
        bench=sim_bench, model="classical", out=out, backend=BackendSettings(workers=2)
    )
    return run_eval(cfg), out


@pytest.mark.sim
def test_classical_beats_random_on_simulator_scenes(sim_run: tuple[dict, Path]) -> None:
    """Measured on 4 scenes, 10 items per type (seed 1; 157 items): the numbers in the comments.

    The same checks at full size (8 scenes, 40 per type, per-type margins measured there) are
    ``python benchmarks/bench_classical.py --check`` (docs/classical.md); here the benchmark
    is small enough for the suite (about 55 s instead of 190 s), so per-type accuracy is held
    only to chance (a refusal counted as a guess), and the types where geometry decides to a
    margin above chance pooled over them. Overall accuracy
    counts a no-answer as wrong; "on answered" is the accuracy over the items answered.
    """
    s = sim_run[0]
    by = s["by_type"]
    on_answered = {}
    for t, v in by.items():
        answered = v["n"] - v["no_answer"]
        on_answered[t] = v["correct"] / answered if answered else 0.0
    rnd = {t: v["random_baseline"] for t, v in by.items()}
    # overall: measured 53.5% against chance 31.2% (generator 1.5)
    assert s["overall"]["accuracy"] >= s["random_baseline_macro"] + 0.15
    # no type below chance once a refusal counts as a guess (the solver refuses where its
    # rules do not decide: on 10 items, Q17 is 4 right and 6 refused, 40% against 50%, all
    # 4 answered right)
    for t, v in by.items():
        guessed = (v["correct"] + v["no_answer"] * rnd[t]) / v["n"]
        assert guessed >= rnd[t], (t, v["correct"], v["no_answer"], v["n"], rnd[t])
    # where geometry decides, clearly above chance, pooled over those types (10 items a type
    # are too few for a margin each: a generator change that reselects items moves one type by
    # 20 points; per-type margins are held at full size by bench_classical.py --check).
    # Measured: 52 of 77 right (67.5%) against a pooled chance of 37.0%
    geometric = ("Q1", "Q2", "Q4", "Q5", "Q6", "Q14", "spatial_verification",
                 "language_conditioned_localization")  # fmt: skip
    n = sum(by[t]["n"] for t in geometric)
    right = sum(by[t]["correct"] for t in geometric)
    chance = sum(by[t]["n"] * rnd[t] for t in geometric)
    assert right >= chance + 0.2 * n, (right, chance, n)
    # on the items it answers, every correspondence type is far above chance (measured with
    # generator 1.6: point 80 vs 20, judgement 86 vs 25, Q1 88 vs 25, Q2 75 vs 50, Q3 57 vs 33)
    for t in ("point_correspondence", "Correspondence-Judgement", "Q1", "Q2", "Q3"):
        assert on_answered[t] >= rnd[t] + 0.15, (t, on_answered[t], rnd[t])
    # and the table-plane and layout rules are nearly always right when they answer (measured
    # 86-100%), Q14 too (100% of 6)
    for t in ("Q4", "Q5", "Q6", "Q17", "language_conditioned_localization"):
        assert on_answered[t] >= 0.85, (t, on_answered[t])
    assert on_answered["Q14"] >= 0.7
    # viewpoint localization from the recovered relative pose, when it answers enough items
    vp = by.get("viewpoint_localization", {"n": 0, "no_answer": 0})
    if vp["n"] - vp["no_answer"] >= 5:
        assert on_answered["viewpoint_localization"] >= rnd["viewpoint_localization"] + 0.2
    # grounding of colour-named objects (a point inside the gold mask; chance is ~1%): 30%
    assert by["Fine-grained Grounding"]["accuracy"] >= 0.2
    # nothing is guessed: every no-answer is an explicit refusal
    assert set(s["no_answer_reasons"]) <= {"no answer: refusal"}
    # a decent share is answered (Q2: 20% no answer)
    assert defaultdict(int, {t: by[t]["no_answer_rate"] for t in by})["Q2"] < 0.6


# ---------------------------------------------------------------------------------------------
# Open-ended items and region references


def test_open_ended_options_are_derived_from_the_question() -> None:
    from crossview.classical.query import open_options

    imgs = [np.zeros((H, W, 3), np.uint8)] * 4
    opts, short = open_options("Larger or not? Answer with one of: larger, about the same.", imgs)
    assert opts == ["Larger", "About the same"] and short == ["larger", "about the same"]
    q = (
        "Find the object outlined in magenta from Image 1 in Image 2. The candidates are the "
        "object outlined in green, the object outlined in blue or the object outlined in red. "
        "Answer by naming the right object."
    )
    opts, short = open_options(q, imgs)
    assert short == ["green", "blue", "red"] and opts[0] == "The object outlined in green"
    q = "Which of Images 2, 3 and 4 was taken there? Answer with the image number."
    assert open_options(q, imgs)[1] == ["image 2", "image 3", "image 4"]
    q = "Images 2-4 show another scenario. Which one? Answer with the image number."
    assert open_options(q, imgs)[1] == ["image 2", "image 3", "image 4"]
    q = (
        "Image 1 marks three objects (purple, orange, yellow) and Image 2 marks the same three "
        "objects (red, cyan, magenta). Which pairing? Answer with the matching pairs."
    )
    opts, short = open_options(q, imgs)
    assert len(short) == 6 and "purple-red, orange-cyan, yellow-magenta" in short
    # the colours of the dots drawn in the last image, minus the reference colour
    target = draw_marks(_background(), [Mark(0, "dot", (60.0, 60.0), "green")])
    target = draw_marks(target, [Mark(0, "dot", (200.0, 150.0), "orange")])
    q = "Image 1 marks a point with a red dot. Which dot? Answer with the colour of the dot."
    assert sorted(open_options(q, [_background(), target])[1]) == ["green", "orange"]
    assert open_options("What is this?", imgs) == ([], [])


def test_open_ended_answer_is_the_short_answer(tmp_path: Path) -> None:
    """An open-ended item is answered in words the harness's free-text scorer reads."""
    from crossview.eval.extract import extract_free

    base = _background()
    a = np.zeros((H, W), bool)
    a[60:140, 40:100] = True
    b = np.zeros((H, W), bool)
    b[60:140, 220:280] = True
    img1 = draw_overlays(base, [a, b], ["red", "blue"])
    img2 = draw_overlays(base, [b, a], ["green", "yellow"])  # order flipped
    text = (
        "Image 1: the object outlined in red is left of the object outlined in blue. Image 2 "
        "shows the same objects as the object outlined in yellow and the object outlined in "
        "green. Same left-right order, or flipped? Answer with one of: same, flipped.\n"
        "Answer with a short phrase."
    )
    p = _flat_prompt(tmp_path, "Q13", text, [img1, img2])
    p = Prompt(p.item_id, 0, p.text, p.images, answer_kind="free")
    out, reason = answer(p)
    assert reason is None and extract_free(out).value == "same"


def test_region_references_read_as_masks(tmp_path: Path) -> None:
    """Under the region protocol the masks come with the prompt; no overlay is drawn."""
    from crossview.classical import query_from_prompt
    from crossview.geometry.masks import rle_encode

    base = _background()
    left = np.zeros((H, W), bool)
    left[60:140, 40:100] = True
    right = np.zeros((H, W), bool)
    right[80:130, 200:250] = True
    regions = [
        {"view": 0, "object": 0, "mask_rle": rle_encode(left)},
        {"view": 0, "object": 1, "mask_rle": rle_encode(right)},
        {"view": 1, "object": 0, "mask_rle": rle_encode(right)},
        {"view": 1, "object": 1, "mask_rle": rle_encode(left)},
    ]
    text = (
        "Image 1: the object <region> is left of the object <region>. Image 2 shows the same "
        "objects as the object <region> and the object <region>. Same left-right order, or "
        "flipped?\nA. The same\nB. Flipped\nAnswer with the letter of the correct option."
    )
    p = _flat_prompt(tmp_path, "Q13", text, [base, base])
    p = Prompt(p.item_id, 0, p.text, p.images, letters=("A", "B"), regions=tuple(regions))
    q = query_from_prompt(p)
    assert "<region>" not in q.text and len(q.region_masks) == 4
    # the first-named object of Image 2 now stands on the right: the order is flipped
    assert solve(q).letter == "B"
    swapped = [*regions[:2], regions[3], regions[2]]
    q = query_from_prompt(
        Prompt(p.item_id, 0, p.text, p.images, ("A", "B"), regions=tuple(swapped))
    )
    assert solve(q).letter == "A"


# ---------------------------------------------------------------------------------------------
# Table-plane handlers on a synthetic planar scene with a known homography

H_TRUE = np.array([[0.92, 0.10, 14.0], [-0.04, 0.88, 22.0], [0.0002, 0.0005, 1.0]])
VIVID = {"r": (173, 35, 35), "b": (42, 75, 215), "g": (29, 105, 20), "y": (255, 238, 51)}


def _table(seed: int = 3) -> np.ndarray:
    """A beige table top with random dark flecks (something for features to hold on to)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((H, W, 3), np.uint8)
    img[:] = (222, 210, 180)
    for _ in range(700):
        x, y, s = rng.integers(0, W), rng.integers(0, H), rng.integers(2, 6)
        img[y : y + s, x : x + s] = rng.integers(30, 120)
    return img


def _disc(center: tuple[float, float], r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    return np.hypot(xx - center[0], yy - center[1]) <= r


def _plane_pair(
    places: dict[str, tuple[float, float]],
    moved: dict[str, tuple[float, float]] | None = None,
    hidden: tuple[str, ...] = (),
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Image 1 (the table with flat discs) and Image 2 (the same plane seen through H_TRUE),
    with objects moved (image-1 pixels) or removed in Image 2; the discs' masks per image."""
    import cv2

    from crossview.classical.features import transfer

    table = _table()
    one, masks1 = table.copy(), {}
    for k, p in places.items():
        masks1[k] = _disc(p, 14)
        one[masks1[k]] = VIVID[k]
    two, masks2 = cv2.warpPerspective(table, H_TRUE, (W, H), borderValue=(222, 210, 180)), {}
    for k, p in places.items():
        if k in hidden:
            continue
        q = transfer(H_TRUE, (moved or {}).get(k, p))
        assert q is not None
        masks2[k] = _disc(q, 13)
        two[masks2[k]] = VIVID[k]
    return one, two, masks1, masks2


def _choice(tmp_path: Path, qtype: str, question: str, options: list[str], imgs) -> Prompt:
    letters = "ABCDEFG"[: len(options)]
    text = "\n".join(
        [question, *(f"{x}. {o}" for x, o in zip(letters, options))]
        + ["Answer with the letter of the correct option."]
    )
    return _flat_prompt(tmp_path, qtype, text, imgs)


def test_table_plane_recovered_from_features() -> None:
    from crossview.classical.common import Solver
    from crossview.classical.features import transfer

    one, two, _, _ = _plane_pair({"r": (100.0, 100.0)})
    s = Solver(Query(text="", question="", options=[], letters=[], images=[one, two]))
    Hs = s.plane(0, 1)
    assert Hs is not None
    for uv in [(50.0, 60.0), (250.0, 80.0), (160.0, 200.0)]:
        got, true = transfer(Hs, uv), transfer(H_TRUE, uv)
        assert got is not None and true is not None
        assert np.hypot(got[0] - true[0], got[1] - true[1]) < 1.5


def test_displacement_visibility_and_nearest_on_the_table(tmp_path: Path) -> None:
    from crossview.classical import query_from_prompt

    places = {"r": (70.0, 80.0), "b": (240.0, 70.0), "g": (90.0, 190.0), "y": (230.0, 180.0)}
    overlay = {"r": "magenta", "b": "orange", "g": "cyan", "y": "purple"}
    opts = [f"The object outlined in {overlay[k]}" for k in places]

    def draw(img: np.ndarray, masks: dict[str, np.ndarray]) -> np.ndarray:
        return draw_overlays(img, [masks[k] for k in masks], [overlay[k] for k in masks])

    # Q14: the green disc moved far across the table, the others stayed
    one, two, m1, m2 = _plane_pair(places, moved={"g": (170.0, 150.0)})
    q = "Between Image 1 (earlier) and Image 2 (later), which marked object was displaced most?"
    p = _choice(tmp_path, "Q14", q, opts, [draw(one, m1), draw(two, m2)])
    assert solve(query_from_prompt(p)).letter == "C"
    # Q6: the red disc is in Image 2 at its place, then removed from it
    q = "Is the object outlined in magenta in Image 1 visible in Image 2?"
    one, two, m1, _ = _plane_pair(places)
    p = _choice(tmp_path, "Q6", q, ["Yes", "No"], [draw(one, {"r": m1["r"]}), two])
    assert solve(query_from_prompt(p)).letter == "A"
    one, two, m1, _ = _plane_pair(places, hidden=("r",))
    p = _choice(tmp_path, "Q6", q, ["Yes", "No"], [draw(one, {"r": m1["r"]}), two])
    assert solve(query_from_prompt(p)).letter == "B"
    # Q9: which candidate in Image 2 is nearest the red disc of Image 1 (the blue one is
    # nearest on the table; the others are farther)
    near = {"r": (70.0, 80.0), "b": (120.0, 90.0), "g": (90.0, 200.0), "y": (250.0, 190.0)}
    one, two, m1, m2 = _plane_pair(near)
    img1 = draw_overlays(one, [m1["r"]], ["magenta"])
    img2 = draw_overlays(two, [m2["b"], m2["g"], m2["y"]], ["orange", "cyan", "purple"])
    q = (
        "Of the candidates marked in Image 2, which one is nearest the object outlined in "
        "magenta shown in Image 1?"
    )
    p = _choice(tmp_path, "Q9", q, opts[1:], [img1, img2])
    assert solve(query_from_prompt(p)).letter == "A"


def test_contact_from_adjacent_masks(tmp_path: Path) -> None:
    from crossview.classical import query_from_prompt

    base = _table()
    a = np.zeros((H, W), bool)
    a[100:150, 80:130] = True
    b_touch = np.zeros((H, W), bool)
    b_touch[110:150, 132:170] = True  # beside a, same bottom row: side by side
    b_apart = np.zeros((H, W), bool)
    b_apart[100:150, 180:220] = True
    q = (
        "The object outlined in red and the object outlined in blue overlap in Image 1. Are "
        "they physically touching? Image 2 shows them from another camera, as the object "
        "outlined in yellow and the object outlined in green."
    )
    img1 = draw_overlays(base, [a, b_touch], ["red", "blue"])
    for other, want in ((b_touch, "A"), (b_apart, "B")):
        img2 = draw_overlays(base, [a, other], ["yellow", "green"])
        p = _choice(tmp_path, "Q17", q, ["Yes", "No"], [img1, img2])
        assert solve(query_from_prompt(p)).letter == want


def test_grounding_points_at_the_named_colour(tmp_path: Path) -> None:
    from crossview.classical import query_from_prompt

    img = _table()
    red = _disc((80.0, 120.0), 18)
    img[red] = VIVID["r"]
    box = np.zeros((H, W), bool)
    box[60:160, 200:250] = True
    img[box] = VIVID["b"]
    p = _flat_prompt(tmp_path, "Fine-grained Grounding", "Point to the red sphere (x, y).", [img])
    p = Prompt(p.item_id, 0, p.text, p.images, answer_kind="point")
    got = solve(query_from_prompt(p)).point
    assert got is not None and red[int(got[1]), int(got[0])]
    p = Prompt(p.item_id, 0, "Where is the top of the blue cube?", p.images, answer_kind="point")
    got = solve(query_from_prompt(p)).point
    assert got is not None and box[int(got[1]), int(got[0])] and got[1] < 60 + 0.3 * 100
    # no colour named, or a colour absent from the image: no answer
    for text in ("Point to the cone.", "Point to the green cube."):
        p = Prompt(p.item_id, 0, text, p.images, answer_kind="point")
        assert not solve(query_from_prompt(p)).answered


def test_language_localization_from_layout(tmp_path: Path) -> None:
    """A low camera sees open sky above the table; the wrist camera does not see the robot's
    dark base that every fixed camera sees."""
    from crossview.classical import query_from_prompt

    low = _table(5)
    low[:90] = np.linspace(200, 160, 90)[:, None, None] * np.array([0.8, 0.85, 1.0])
    low[150:200, 40:80] = 10  # the robot's base
    wrist = _table(6)
    for desc, want in (
        ("the low camera with a nearly horizontal view", "A"),
        ("the robot's wrist camera", "B"),
    ):
        p = _choice(
            tmp_path,
            "language_conditioned_localization",
            f"Which image was taken by {desc}?",
            ["Image 1", "Image 2"],
            [low, wrist],
        )
        assert solve(query_from_prompt(p)).letter == want, desc


def test_workers_give_the_same_predictions(native_bench: Path, tmp_path: Path) -> None:
    """``--workers 2`` answers in two processes; the predictions are the same (the file is in
    the order the answers came, which depends on the workers)."""
    import json

    from crossview.eval.backends import BackendSettings
    from crossview.eval.runner import EvalConfig, run_eval

    preds = []
    for n in (1, 2):
        out = tmp_path / f"w{n}"
        cfg = EvalConfig(
            bench=native_bench, model="classical", out=out, backend=BackendSettings(workers=n)
        )
        s = run_eval(cfg)
        rows = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
        preds.append(sorted((r["id"], r["response"], r.get("note")) for r in rows))
        assert s["overall"]["n"] == len(rows) > 0
    assert preds[0] == preds[1]


def test_top_down_camera_has_no_texture_gradient(tmp_path: Path) -> None:
    """Seen straight down, the table's flecks keep their size over the image; seen obliquely
    they shrink towards the top."""
    import cv2

    from crossview.classical import query_from_prompt

    flat = _table(7)
    big = cv2.resize(_table(8), (2 * W, 2 * H), interpolation=cv2.INTER_NEAREST)
    src = np.float32([[0, 0], [2 * W, 0], [2 * W, 2 * H], [0, 2 * H]])
    dst = np.float32([[0.35 * W, 0], [0.65 * W, 0], [W, H], [0, H]])
    oblique = cv2.warpPerspective(big, cv2.getPerspectiveTransform(src, dst), (W, H))
    oblique[oblique.sum(2) == 0] = (222, 210, 180)
    q = "Which image was taken by the overhead, top-down camera?"
    for imgs, want in (([flat, oblique], "A"), ([oblique, flat], "B")):
        p = _choice(tmp_path, "language_conditioned_localization", q, ["Image 1", "Image 2"], imgs)
        assert solve(query_from_prompt(p)).letter == want


# ---------------------------------------------------------------------------------------------
# Speed without a changed answer: the result cache, exact matching, locality order


def _responses(run: Path) -> dict[tuple[str, int], tuple]:
    import json

    rows = [json.loads(x) for x in (run / "predictions.jsonl").read_text().splitlines()]
    return {(r["id"], r["variant"]): (r["response"], r.get("note")) for r in rows}


def _cache_files(folder: Path) -> dict[str, int]:
    return {d.name: len(list(d.rglob("*.npz"))) for d in folder.iterdir() if d.is_dir()}


@pytest.mark.sim
def test_result_cache_never_changes_an_answer(
    sim_bench: Path, sim_run: tuple[dict, Path], tmp_path: Path
) -> None:
    """The cold run (two workers) filled the folder beside it; a second run there reads it
    (one process) and answers the same; so does a run without any cache, and a run whose
    cache files were damaged (counted, recomputed, rewritten)."""
    from crossview.classical import cache
    from crossview.eval.backends import BackendSettings
    from crossview.eval.runner import CACHE_DIR, EvalConfig, run_eval

    cold = sim_run[1]
    folder = cold.parent / CACHE_DIR / "classical"
    files = _cache_files(folder)
    assert files["sift"] > 0 and files["orb"] == files["sift"] and files["pair"] > 0
    want = _responses(cold)

    cache.configure(None).clear_memory()
    warm = cold.parent / "warm"
    run_eval(EvalConfig(bench=sim_bench, model="classical", out=warm))
    store = cache.shared()
    assert store.folder == folder
    assert store.stats["disk_hits"] > 0 and store.stats["disk_errors"] == 0
    assert _cache_files(folder) == files  # nothing needed computing again
    assert _responses(warm) == want

    none = tmp_path / "none"
    run_eval(EvalConfig(bench=sim_bench, model="classical", out=none, limit=40, cache=False))
    assert cache.shared().folder is None and not (tmp_path / CACHE_DIR).exists()
    got = _responses(none)
    assert len(got) == 40 and got == {k: want[k] for k in got}

    damaged = sorted(folder.rglob("*.npz"))[::3]
    for f in damaged:
        f.write_bytes(f.read_bytes()[:100])
    cache.configure(None)  # a fresh process's cache
    again = cold.parent / "again"
    run_eval(EvalConfig(bench=sim_bench, model="classical", out=again, backend=BackendSettings()))
    assert _responses(again) == want
    # each damaged file the run needed was counted and rewritten whole (values the run did
    # not need, e.g. keypoints of a pair whose matches were read, stay as they are)
    rewritten = [f for f in damaged if f.stat().st_size > 100]
    assert len(rewritten) == cache.shared().stats["disk_errors"] > 0
    for f in rewritten:
        with np.load(f) as z:
            assert z.files


@pytest.mark.sim
def test_matrix_matching_is_opencvs_knn_matching(sim_bench: Path) -> None:
    """Mutual ratio-test matches from one distance matrix equal OpenCV's brute-force k-NN
    both ways, pair for pair and in order, on real renders and on descriptors full of ties."""
    import cv2
    from PIL import Image

    from crossview.classical import features as ft

    renders = sorted(sim_bench.parent.rglob("renders/*/*.png"))[::25][:6]
    feats = [ft.detect(np.asarray(Image.open(p).convert("RGB"))) for p in renders]
    checked = 0
    for a in range(3):
        for b in range(3, 6):
            for da, db, norm in (
                (feats[a].sift_desc, feats[b].sift_desc, cv2.NORM_L2),
                (feats[a].orb_desc, feats[b].orb_desc, cv2.NORM_HAMMING),
            ):
                assert ft._distances(da, db, norm) is not None  # the exact path is taken
                assert ft._mutual(da, db, norm) == ft._mutual_knn(da, db, norm)
                checked += 1
    assert checked == 18
    rng = np.random.default_rng(0)
    for _ in range(40):
        da = rng.integers(0, 3, (40, 8)).astype(np.float32)
        db = rng.integers(0, 3, (30, 8)).astype(np.float32)
        assert ft._mutual(da, db, cv2.NORM_L2) == ft._mutual_knn(da, db, cv2.NORM_L2)
        oa = rng.integers(0, 4, (40, 4)).astype(np.uint8)
        ob = rng.integers(0, 4, (30, 4)).astype(np.uint8)
        assert ft._mutual(oa, ob, cv2.NORM_HAMMING) == ft._mutual_knn(oa, ob, cv2.NORM_HAMMING)
    frac = rng.random((20, 8)).astype(np.float32)  # not whole numbers: OpenCV's matcher is used
    assert ft._distances(frac, frac, cv2.NORM_L2) is None
    assert ft._mutual(frac, frac[::-1], cv2.NORM_L2) == ft._mutual_knn(
        frac, frac[::-1], cv2.NORM_L2
    )


def test_pixel_primitives_keep_their_definition() -> None:
    """The fast colour distance and brightness equal the plain numpy definitions."""
    from crossview.render.palette import PALETTE

    img = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    for c, rgb in PALETTE.items():
        want = np.abs(img.astype(np.int16) - np.asarray(rgb, np.int16)).max(axis=2)
        assert np.array_equal(det.color_distance(img, c), want), c
    assert np.array_equal(det.brightness(img), img.max(axis=2))
    view = img[::2, ::3]  # not contiguous
    assert np.array_equal(det.color_distance(view, "red"), det.color_distance(view.copy(), "red"))


def test_cached_values_round_trip_and_are_read_only(tmp_path: Path) -> None:
    from crossview.classical import cache
    from crossview.classical import features as ft

    rng = np.random.default_rng(2)
    kp = ft.Keypoints(
        rng.random((5, 2), dtype=np.float32),
        rng.integers(0, 200, (5, 128)).astype(np.float32),
        rng.random(5, dtype=np.float32),
    )
    cases = [
        (ft.KEYPOINTS_CODEC, kp),
        (ft.KEYPOINTS_CODEC, ft.Keypoints(np.zeros((0, 2), np.float32), None, np.zeros(0))),
        (ft.KEYPOINTS_CODEC, ft.Keypoints(kp.pts, kp.desc + 0.5, kp.sizes)),
        (ft.TWO_VIEW_CODEC, ft.TwoView(kp.pts, kp.pts[::-1], None, np.zeros(5, bool))),
        (ft.TWO_VIEW_CODEC, ft.TwoView(kp.pts, kp.pts, np.eye(3), np.ones(5, bool))),
        (cache.MASK_CODEC, rng.random((7, 9)) > 0.5),
    ]
    store = cache.ResultCache(tmp_path)
    for k, (codec, value) in enumerate(cases):
        store.get("x", str(k), lambda v=value: v, codec)
    fresh = cache.ResultCache(tmp_path)
    for k, (codec, value) in enumerate(cases):
        got = fresh.get("x", str(k), lambda: pytest.fail("recomputed"), codec)
        want_arrays, got_arrays = codec.encode(value), codec.encode(got)
        assert want_arrays.keys() == got_arrays.keys()
        for name in want_arrays:
            w, g = want_arrays[name], got_arrays[name]
            assert w.dtype == g.dtype and np.array_equal(w, g), (k, name)
    assert fresh.stats["disk_hits"] == len(cases)
    got = fresh.get("x", "0", lambda: pytest.fail("recomputed"), ft.KEYPOINTS_CODEC)
    assert got.desc is not None and got.desc.dtype == np.float32
    with pytest.raises(ValueError):
        got.pts[0, 0] = 1.0  # a handler cannot change what the next query gets
    # the memory budget evicts the least recently used
    small = cache.ResultCache(None, max_bytes=3 * kp.pts.nbytes + 10)
    for k in range(5):
        small.get("p", str(k), lambda: np.zeros((5, 2), np.float32))
    small.get("p", "0", lambda: np.zeros((5, 2), np.float32))
    assert small.stats["computed"] == 6 and small.stats["memory_hits"] == 0


def test_locality_order_puts_prompts_sharing_images_together(tmp_path: Path) -> None:
    from crossview.eval.backends.classical import locality_order

    paths = []
    for k in range(4):
        p = tmp_path / f"i{k}.png"
        p.write_bytes(f"image {k}".encode())
        paths.append(p)
    (tmp_path / "copy.png").write_bytes(b"image 2")  # same bytes, another file
    paths.append(tmp_path / "copy.png")

    def prompt(i: int, *imgs: int) -> Prompt:
        srcs = tuple(ImageSource(path=paths[k]) for k in imgs)
        return Prompt(item_id=f"p{i}", variant=0, text="q", images=srcs)

    ps = [prompt(0, 0, 1), prompt(1, 2), prompt(2, 3), prompt(3, 1), prompt(4, 4), prompt(5, 0)]
    got = [p.item_id for p in locality_order(ps)]
    assert got == ["p0", "p3", "p5", "p1", "p4", "p2"]
