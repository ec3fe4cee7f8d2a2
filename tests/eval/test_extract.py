"""Extraction on a corpus of real-looking model outputs, traps included."""

from __future__ import annotations

import pytest

from crossview.eval.extract import (
    extract_choice,
    extract_free,
    extract_point,
    from_pixels,
    normalize_free,
    strip_reasoning,
    to_pixels,
)

OPTS = ["the box", "the mug", "the cup", "the can"]

# (response, expected letter or None, expected reason substring when None)
LETTER_CORPUS = [
    ("Based on the two views, the answer is A", "A", ""),
    ("Among the options, D", "D", ""),
    ("The answer is (B)", "B", ""),
    ("The answer is: **B**", "B", ""),
    ("Answer: C", "C", ""),
    ("C", "C", ""),
    ("(C)", "C", ""),
    ("**D**", "D", ""),
    ("B. the mug", "B", ""),
    ("\\boxed{D}", "D", ""),
    ("Final answer: (C) the cup", "C", ""),
    ("I would choose (D).", "D", ""),
    ("I cannot determine which object it is from these views.", None, "refusal"),
    ("I'm sorry, but I can't tell from these images.", None, "refusal"),
    ("", None, "empty"),
    ("   \n ", None, "empty"),
    (
        "<think>A looks similar, but C has the handle. D? No.</think>The correct option is B.",
        "B",
        "",
    ),
    ("<think>Option A... option C...</think>\nB", "B", ""),
    ("<think>I think it's A but let me keep looking", None, "unfinished"),
    ("reasoning that mentions A and C</think>Answer: D", "D", ""),
    ("A red box is visible in Image 1, and in Image 2 the same box is option C.", "C", ""),
    ("A person standing nearby blocks the view. B", "B", ""),
    ("It could be A or B.", None, "ambiguous"),
    ("The answer is A or B.", None, "ambiguous"),
    ("Answer: E", None, "invalid option E"),
    ("Option C is right, not A.", "C", ""),
    ("The answer is E, no wait, the answer is B", "B", ""),
    ("Looking again, the matching object is the mug.", "B", ""),
    ("In Image 2 the object is the can", "D", ""),
    ("I cannot determine with certainty, but B seems most likely.", "B", ""),
    ("To answer this, compare the handles: the match is C.", "C", ""),
    ("The object in 3D space matches C", "C", ""),
]


@pytest.mark.parametrize(("text", "expected", "reason"), LETTER_CORPUS)
def test_letter_corpus(text: str, expected: str | None, reason: str) -> None:
    ext = extract_choice(text, OPTS, "letter")
    assert ext.value == expected, (text, ext)
    if expected is None:
        assert reason in ext.reason


def test_only_valid_options_count() -> None:
    # two options: "C" and "D" are not answers even when mentioned last
    assert extract_choice("A matches; C and D are not options", ["x", "y"]).value == "A"
    assert extract_choice("Answer: C", ["x", "y"]).value is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The blue dot in the target view corresponds to the point.", "B"),
        ("Answer: green", "C"),
        ("The grey one is closest.", "D"),
        ("It is B.", "B"),
        ("Reddish tones everywhere; the matching dot is blue", "B"),
    ],
)
def test_colour_names(text: str, expected: str) -> None:
    assert extract_choice(text, ["red", "blue", "green", "gray"], "color").value == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Image 2", "B"),
        ("The inconsistent view is the second image.", "B"),
        ("2", "B"),
        ("Answer: Image 3", "C"),
        ("Image one shows the reference; the odd one is Image three", "C"),
    ],
)
def test_image_numbers(text: str, expected: str) -> None:
    assert extract_choice(text, ["Image 1", "Image 2", "Image 3"], "image").value == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes, they are the same object.", "A"),
        ("No. The regions belong to different objects.", "B"),
        ("Answer: no", "B"),
        ("Looking at both views...\nYes", "A"),
        ("There is no doubt the shapes differ in some way.", None),
    ],
)
def test_yes_no(text: str, expected: str | None) -> None:
    assert extract_choice(text, ["Yes", "No"], "yesno").value == expected


def test_yes_no_reversed_options() -> None:
    assert extract_choice("Yes", ["No", "Yes"], "yesno").value == "B"


@pytest.mark.parametrize(
    ("text", "xy"),
    [
        ('{"point_2d": [25, 7]}', (25.0, 7.0)),
        ('```json\n[{"point_2d": [25, 7], "label": "mug"}]\n```', (25.0, 7.0)),
        ('{"point": [12.5, 3]}', (12.5, 3.0)),
        ('{"x": 25, "y": 7}', (25.0, 7.0)),
        ("The point is at (25, 7).", (25.0, 7.0)),
        ("Starting near [1, 2], I move to [25, 7]", (25.0, 7.0)),
        ('<think>(1, 1)</think>{"point_2d": [25, 7]}', (25.0, 7.0)),
        ('{"point_2d": [25, 7]} is better than (3, 3)', (25.0, 7.0)),
    ],
)
def test_points_absolute(text: str, xy: tuple[float, float]) -> None:
    assert extract_point(text, 40, 30, "absolute").value == xy


def test_points_relative_formats() -> None:
    assert extract_point("(0.5, 0.5)", 40, 30, "relative").value == (19.5, 14.5)
    assert extract_point('{"point_2d": [500, 500]}', 40, 30, "relative-1000").value == (19.5, 14.5)
    assert to_pixels(0, 0, 40, 30, "relative") == (-0.5, -0.5)
    with pytest.raises(ValueError, match="coord_format"):
        to_pixels(0, 0, 40, 30, "normalized")
    # from_pixels is its inverse, and the one way a point is written for a model
    assert from_pixels(19.5, 14.5, 40, 30, "relative-1000") == (500.0, 500.0)
    assert from_pixels(-0.5, -0.5, 40, 30, "relative") == (0.0, 0.0)
    for fmt in ("absolute", "relative", "relative-1000"):
        assert to_pixels(*from_pixels(3.0, 7.0, 40, 30, fmt), 40, 30, fmt) == pytest.approx((3, 7))
    with pytest.raises(ValueError, match="coord_format"):
        from_pixels(0, 0, 40, 30, "normalized")


def test_point_no_answer() -> None:
    assert extract_point("I cannot determine where it is.", 40, 30).reason == "refusal"
    assert extract_point("It is near the top left corner.", 40, 30).reason == "no point found"
    assert extract_point('{"bbox_2d": [1, 2, 3, 4]}', 40, 30).value is None


def test_free_text() -> None:
    assert normalize_free("The Two red Mugs!") == "2 red mugs"
    assert extract_free("Answer: the mug.").value == "mug"
    assert extract_free("Let me think.\nA mug").value == "mug"
    assert extract_free("I don't know").reason == "refusal"


def test_strip_reasoning() -> None:
    assert strip_reasoning("<think>x</think>y").strip() == "y"
    assert strip_reasoning("<THINK>x") is None


def test_number_answers():
    from crossview.eval.extract import extract_number

    assert extract_number("The depth is about 1.6 meters.").value == "1.6"
    e = extract_number("Image 2 shows it; the answer is 3.25 m, not 4.")
    assert e.value == "3.25" and e.explicit
    assert extract_number("It is two meters away").value == "2"
    assert extract_number("-0.5").value == "-0.5"
    assert extract_number("I cannot tell from these images.").reason in ("refusal", "no number")
    assert not extract_number("").answered


def test_backtick_wrapped_letter():
    from crossview.eval.extract import extract_choice

    assert extract_choice("`C`", ("a", "b", "c", "d")).value == "C"
    assert extract_choice("``B``", ("a", "b", "c", "d")).value == "B"


def test_answer_tags_are_an_explicit_cue():
    from crossview.eval.extract import extract_choice

    opts = ("Directly left", "Diagonally forward and right", "Directly right")
    e = extract_choice(
        "I think A at first.\n<answer>B. Diagonally forward and right</answer>", opts
    )
    assert e.value == "B" and e.explicit
    assert extract_choice("<Answer>C</Answer>", opts).value == "C"
