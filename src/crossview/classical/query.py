"""What the solver reads: the prompt text split into question and options, the images, the
question type, and the answer it gives (a letter, a point, or no answer with a reason)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crossview.render.palette import PALETTE
from crossview.tasks import all_tasks

_OPTION_LINE = re.compile(r"^\s*([A-Z])[.)]\s+(.*\S)\s*$")
_COLOR_WORD = re.compile(r"\b(" + "|".join(PALETTE) + r")\b", re.I)
_OUTLINED = re.compile(r"outlined in (" + "|".join(PALETTE) + r")\b", re.I)


@dataclass
class Query:
    """One prompt as the solver sees it.

    Attributes:
        text: the whole prompt text.
        question: the text before the options.
        options: option texts without letters (option k has letter ``letters[k]``).
        letters: valid letters.
        images: RGB uint8 arrays in order ("Image 1" first).
        answer_kind: ``choice``, ``point`` or ``free``; a ``free`` item gets options derived
            from its question (:func:`open_options`) and ``short_answers`` to write.
        qtype: the question type (``Q1`` ... / XVR id / CrossPoint name) or None if unknown.
        regions: region-protocol references (masks), possibly empty.
    """

    text: str
    question: str
    options: list[str]
    letters: list[str]
    images: list[np.ndarray]
    answer_kind: str = "choice"
    qtype: str | None = None
    regions: list[dict[str, Any]] = field(default_factory=list)
    short_answers: list[str] = field(default_factory=list)
    """For an open-ended item: the short answer each (derived) option stands for."""
    region_masks: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)
    """Region-protocol masks by (image index, the colour name the text now gives them)."""

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the first image."""
        h, w = self.images[0].shape[:2]
        return w, h

    def colors_in(self, text: str) -> list[str]:
        """Palette colour words of a text, lower case, in order of first mention."""
        out: list[str] = []
        for m in _COLOR_WORD.finditer(text):
            c = m.group(1).lower()
            if c not in out:
                out.append(c)
        return out

    def option_colors(self) -> list[str | None]:
        """The palette colour each option names (the first one), or None."""
        out: list[str | None] = []
        for o in self.options:
            cs = self.colors_in(o)
            out.append(cs[0] if cs else None)
        return out

    def outlined(self, text: str | None = None) -> list[str]:
        """Overlay colours named as "outlined in X", in order of mention (repeats kept)."""
        return [
            m.group(1).lower() for m in _OUTLINED.finditer(self.question if text is None else text)
        ]


_OUTLINED_IN = re.compile(
    r"outlined in (" + "|".join(PALETTE) + r")\b(?:\s+(?:seen |shown )?(?:in|from) image (\d+))?",
    re.I,
)


def outlined_by_image(text: str) -> dict[int, list[str]]:
    """Overlay colours named with their image ("outlined in red in Image 2" -> {1: [red]}),
    0-based image index to colours in order of mention; colours named without an image are
    left out."""
    out: dict[int, list[str]] = {}
    for m in _OUTLINED_IN.finditer(text):
        if m.group(2):
            out.setdefault(int(m.group(2)) - 1, []).append(m.group(1).lower())
    return out


def split_prompt(text: str, letters: list[str]) -> tuple[str, list[str]]:
    """Split a prompt into the question and its lettered option texts."""
    lines = text.splitlines()
    opts: dict[str, str] = {}
    first = None
    for k, line in enumerate(lines):
        m = _OPTION_LINE.match(line)
        if m and m.group(1) in letters and m.group(1) not in opts:
            opts[m.group(1)] = m.group(2)
            if first is None:
                first = k
    question = "\n".join(lines[:first] if first is not None else lines)
    return question, [opts.get(letter, "") for letter in letters]


def name_regions(
    text: str, regions: list[dict[str, Any]]
) -> tuple[str, dict[tuple[int, str], np.ndarray], dict[str, str]]:
    """Give region-protocol references the names overlays would have.

    The ``k``-th ``<region>`` placeholder of ``text`` refers to ``regions[k]`` (view, object,
    RLE mask). Each distinct (view, object) gets a palette colour the text does not use:
    "the object <region>" becomes "the object outlined in C", a bare placeholder becomes "C"
    (as in a matching option "C1-C2"). Returns the rewritten text, the masks by
    (view, colour), and how an open answer names each colour's object ("region k", k the
    1-based position of its first placeholder); the text is returned unchanged (and both
    mappings empty) when the references do not fit it.
    """
    from crossview.geometry.masks import rle_decode

    n_slots = text.count("<region>")
    if not regions or n_slots != len(regions):
        return text, {}, {}
    used = {m.group(1).lower() for m in _COLOR_WORD.finditer(text)}
    free = [c for c in PALETTE if c not in used]
    names: dict[tuple[int, int], str] = {}
    masks: dict[tuple[int, str], np.ndarray] = {}
    alias: dict[str, str] = {}
    for j, r in enumerate(regions):
        key = (int(r["view"]), int(r["object"]))
        if key not in names:
            if not free:
                return text, {}, {}
            names[key] = free.pop(0)
            masks[(key[0], names[key])] = rle_decode(r["mask_rle"]).astype(bool)
            alias[names[key]] = f"region {j + 1}"
    it = iter(names[(int(r["view"]), int(r["object"]))] for r in regions)

    def sub(m: re.Match[str]) -> str:
        c = next(it)
        return f"{m.group(1)}outlined in {c}" if m.group(1) else c

    return re.sub(r"(the object |The object )?<region>", sub, text), masks, alias


def two_groups(question: str) -> tuple[list[str], list[str]]:
    """The two equal groups of colours a matching question lists (Image 1's first), or two
    empty lists: the question names each colour once, the first half in Image 1."""
    cs: list[str] = []
    for m in _COLOR_WORD.finditer(question):
        c = m.group(1).lower()
        if c not in cs:
            cs.append(c)
    n = len(cs) // 2
    if n < 2 or 2 * n != len(cs):
        return [], []
    return cs[:n], cs[n:]


def open_options(question: str, images: list[np.ndarray]) -> tuple[list[str], list[str]]:
    """The options an open-ended question implies, worded as its multiple-choice twin would
    word them, and the short answer each stands for. Empty lists when none can be derived.

    Read from the answer instruction: "Answer with one of: a, b" (those words), "Answer by
    naming the right object" (the outlined objects of the sentence listing the candidates),
    "Answer with the image number" (the images named as candidates, else every image),
    "Answer with the colour of the marker / dot" (the palette colours drawn as a dot or arrow in
    the last image and not named in the question), "Answer with the matching pairs" (every
    pairing of the two listed groups).
    """
    from itertools import permutations

    low = question.lower()
    if m := re.search(r"answer with one of:\s*([^.\n]+)", low):
        words = [w.strip() for w in m.group(1).split(",") if w.strip()]
        return [w.capitalize() for w in words], words
    if "answer by naming the right object" in low:
        sentences = re.split(r"(?<=[.?:])\s+", question)
        listing = next((x for x in sentences if re.search(r"\bor the object outlined", x)), "")
        cs = [m.group(1).lower() for m in _OUTLINED.finditer(listing)]
        return [f"The object outlined in {c}" for c in cs], cs
    if "answer with the image number" in low:
        n = len(images)
        nums = list(range(1, n + 1))
        if m := re.search(r"images (\d+)\s*-\s*(\d+)", low):
            nums = list(range(int(m.group(1)), int(m.group(2)) + 1))
        elif m := re.search(r"images ((?:\d+, )*\d+,? and \d+)", low):
            nums = [int(x) for x in re.findall(r"\d+", m.group(1))]
        nums = [k for k in nums if 1 <= k <= n]
        return [f"Image {k}" for k in nums], [f"image {k}" for k in nums]
    if re.search(r"answer with the colou?r of the (?:marker|dot|arrow)", low):
        from crossview.classical import detect as det

        named = {m.group(1).lower() for m in _COLOR_WORD.finditer(question)}
        target = images[-1]
        arrows = "arrow" in low
        cs = [
            c
            for c in PALETTE
            if c not in named
            and (det.find_arrow(target, c) if arrows else det.best_dot(target, c)) is not None
        ]
        return [c.capitalize() for c in cs], cs
    if "matching pairs" in low:
        left, right = two_groups(question)
        if left:
            texts = [
                ", ".join(f"{a}-{b}" for a, b in zip(left, perm)) for perm in permutations(right)
            ]
            return [t.capitalize() for t in texts], texts
    return [], []


def type_from_id(item_id: str) -> str | None:
    """The question type written in a native sample id (``<scene>-<type>-<n>``), if any."""
    for t in sorted(all_tasks(), key=len, reverse=True):
        token = t.replace(" ", "_")
        if re.search(rf"(?:^|-){re.escape(token)}(?:-|$)", item_id):
            return t
    return None


_TEXT_RULES: list[tuple[str, str]] = [
    (r"same camera rig|scenario", "cross_scenario_localization"),
    (r"at the location of a camera|taken from there", "viewpoint_localization"),
    (
        r"reference camera|on its (?:left|right)|to your (?:left|right)",
        "directional_view_localization",
    ),
    (
        r"wrist camera|top-down|from above|low camera|camera.*(?:low|height)",
        "language_conditioned_localization",
    ),
    (r"different time|same time|same moment", "temporal_verification"),
    (r"wrong place", "spatial_verification"),
    (r"arrow", "directional_correspondence"),
    (r"pixel coordinates|\(x, ?y\)", "Correspondence-Pointing"),
    (r"dot.*(?:visible|be seen|hidden)", "Visibility Reasoning"),
    (r"dots? in image 3|image 3 shows several", "point_correspondence"),
    (r"dot", "Correspondence-Judgement"),
    (r"pairing", "Q4"),
    (r"three objects are marked|which of them is", "Q3"),
    (r"two (?:candidates|marked objects)", "Q2"),
    (r"travel|displaced|moved", "Q14"),
    (r"occlude|hides it|hidden in image", "Q8"),
    (r"closest in 3d|nearest in 3d|closest", "Q9"),
    (r"larger, smaller", "Q10"),
    (r"increase in apparent size|grows", "Q16"),
    (r"in which image", "Q12"),
    (r"least hidden|largest fraction|most completely", "Q11"),
    (r"left-right|left of", "Q13"),
    (r"nearer|in front of", "Q15"),
    (r"touching|in contact|overlap", "Q17"),
    (r"cannot be seen in image 2|not visible in image 2", "Q7"),
    (r"be seen in image 2|visible in image 2", "Q6"),
    (r"same instance|same physical object\?|same object\?", "Q5"),
    (r"same physical object|which marked object in image 2 is it|is also seen", "Q1"),
]


def type_from_text(text: str) -> str | None:
    """Guess the question type from its wording (a fallback for files without native ids)."""
    low = text.lower()
    if "point to" in low or "where is the" in low:
        return "Fine-grained Grounding"
    for pattern, t in _TEXT_RULES:
        if re.search(pattern, low):
            return t
    return None


@dataclass(frozen=True)
class Answer:
    """The solver's answer: a letter, a point (pixels of ``view``), or no answer with a reason."""

    letter: str | None = None
    point: tuple[float, float] | None = None
    view: int | None = None
    reason: str = ""

    @property
    def answered(self) -> bool:
        """True when the solver committed to an answer."""
        return self.letter is not None or self.point is not None


def no_answer(reason: str) -> Answer:
    """An honest abstention; ``reason`` must not name an option (no colours, no numbers)."""
    return Answer(reason=reason)
