"""Answer extraction: from a model's text to one of the item's valid answers, or "no answer".

Rules (docs/evaluation.md lists them with examples):

- reasoning blocks (``<think>...</think>``) are removed first; an unclosed block is unfinished
  reasoning, hence no answer;
- an explicit final answer ("the answer is (B)", "Answer: B", ``\\boxed{B}``) wins; the last
  one counts when a model revises itself;
- otherwise the last mention of a valid option counts (a letter, or what the options say: a
  colour, an image number, yes/no, the option's text restated);
- the article "A" is not option A; letters outside the item's options are never answers;
- refusals, empty and ambiguous ("A or B") responses are "no answer" with a reason;
- nothing is ever guessed.

All functions here are pure: text and item facts in, :class:`Extraction` out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from crossview.eval.items import LETTERS

COLOR_WORDS = frozenset(
    [
        "red",
        "green",
        "blue",
        "yellow",
        "orange",
        "purple",
        "pink",
        "cyan",
        "magenta",
        "brown",
        "black",
        "white",
        "grey",
        "gray",
        "teal",
        "lime",
        "violet",
        "gold",
        "silver",
        "navy",
        "maroon",
        "olive",
        "beige",
        "turquoise",
        "indigo",
    ]
)
_COLOR_SYNONYMS = {"gray": "grey"}
_ORDINALS = {
    w: k
    for k, w in enumerate(
        [
            "first",
            "second",
            "third",
            "fourth",
            "fifth",
            "sixth",
            "seventh",
            "eighth",
            "ninth",
            "tenth",
        ],
        start=1,
    )
}
_NUMBER_WORDS = {
    w: k
    for k, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
COORD_FORMATS = ("absolute", "relative", "relative-1000")

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.S | re.I)
_CUE = re.compile(
    r"(?:(?:final\s+answer|correct\s+(?:answer|option|choice)|the\s+answer|my\s+answer|answer)"
    r"\s*(?:is|would\s+be|should\s+be|will\s+be|[:=])\s*[:=]?"
    r"|i\s+(?:would\s+)?(?:choose|select|pick|go\s+with)|i'd\s+(?:choose|select|pick|go\s+with)"
    r"|\\boxed\{\s*(?:\\text\{)?|<answer>)\s*",
    re.I,
)
_SPAN_LETTER = re.compile(r"^[\s*(\[{\"'`]*(?:option|choice)?[\s*(\[{\"'`]*([A-Z])(?![A-Za-z0-9])")
_NEGATED = re.compile(
    r"(?:\bnot|rather\s+than|instead\s+of|isn't|except|unlike)\s*(?:option\s*)?[(\[*]*\s*$", re.I
)
_REFUSAL = re.compile(
    r"\b(?:i\s*(?:cannot|can't|can\s+not|am\s+unable\s+to|'m\s+unable\s+to|am\s+not\s+able\s+to)"
    r"\s+(?:determine|tell|answer|identify|decide|be\s+sure|say)"
    r"|cannot\s+be\s+determined|can't\s+be\s+determined|(?:not\s+possible|impossible)\s+to"
    r"\s+(?:determine|tell)|unable\s+to\s+(?:determine|tell|answer)|(?:insufficient|not\s+enough)"
    r"\s+information|i(?:'m|\s+am)\s+sorry|i\s+don't\s+know|none\s+of\s+the\s+(?:options|above))",
    re.I,
)
_LETTER = re.compile(r"(?<![A-Za-z0-9'])([A-Z])(?![A-Za-z0-9'])")
_LETTER_CUE_BEFORE = re.compile(r"(?:option|choice|answer|letter)\s*[:#]?\s*[(\[*]*\s*$", re.I)
_LETTER_VERB_AFTER = re.compile(
    r"^\s+(?:is|seems|appears|matches|would|should|must|looks|corresponds|fits)\b"
)
_AMBIGUOUS = re.compile(
    r"(?<![A-Za-z0-9])\(?([A-Z])\)?\s*(?:or|/|and/or)\s*\(?([A-Z])\)?(?![A-Za-z0-9])"
)
_NUM = r"(-?\d+(?:\.\d+)?)"
_POINT_KEYED = re.compile(
    r"[\"']?(?:point_2d|point)[\"']?\s*[:=]\s*[\[(]\s*" + _NUM + r"\s*,\s*" + _NUM + r"\s*[\])]"
    r"|[\"']?x[\"']?\s*[:=]\s*" + _NUM + r"\s*,\s*[\"']?y[\"']?\s*[:=]\s*" + _NUM,
    re.I,
)
_POINT_BARE = re.compile(r"[\[(]\s*" + _NUM + r"\s*,\s*" + _NUM + r"\s*[\])]")


@dataclass(frozen=True)
class Extraction:
    """The outcome of extraction.

    Attributes:
        value: the option letter (choice), ``(u, v)`` in pixels of the answer view (point), or
            the normalised text (free); None when the response holds no answer.
        reason: why there is no answer (``empty``, ``refusal``, ``ambiguous: A or B``, ...).
        explicit: True when the answer came from an explicit final-answer statement.
    """

    value: str | tuple[float, float] | None
    reason: str = ""
    explicit: bool = False

    @property
    def answered(self) -> bool:
        """True when the response holds an answer."""
        return self.value is not None


def strip_reasoning(text: str) -> str | None:
    """Remove ``<think>`` blocks; return None when a block is opened and never closed."""
    out = _THINK_BLOCK.sub(" ", text)
    low = out.lower()
    if "</think>" in low:  # the opening tag was part of the prompt (Qwen3 templates)
        out = out[low.rfind("</think>") + len("</think>") :]
        low = out.lower()
    if "<think>" in low:
        return None
    return out


def _prep(text: str | None) -> tuple[str | None, Extraction | None]:
    if text is None or not text.strip():
        return None, Extraction(None, "empty")
    body = strip_reasoning(text)
    if body is None:
        return None, Extraction(None, "unfinished reasoning block")
    if not body.strip():
        return None, Extraction(None, "empty after removing reasoning")
    return body, None


# ---------------------------------------------------------------------------------------------
# Choice items


def _letter_mentions(text: str, letters: str) -> list[tuple[int, str]]:
    """Uppercase option letters used as letters, not as the article "A" or the pronoun "I"."""
    found = []
    for m in _LETTER.finditer(text):
        ch, s, e = m.group(1), m.start(), m.end()
        before, after = text[max(0, s - 20) : s], text[e : e + 16]
        # (B), [B], **B**, {B}, "B", `B` (MMSI-Bench asks for the letter in backticks)
        wrapped = before[-1:] in ("(", "[", "*", "{", '"', "`") and after[:1] in (
            ")",
            "]",
            "*",
            "}",
            '"',
            "`",
        )
        ok = (
            wrapped
            or _LETTER_CUE_BEFORE.search(before) is not None
            or re.match(r"^\s*(?:[.):,]|$)", after) is not None
            or (after == "" or after.startswith("\n"))
            or _LETTER_VERB_AFTER.match(after) is not None
        )
        if ch == "A" and re.match(r"^\s+[a-z]", after) and not _LETTER_CUE_BEFORE.search(before):
            ok = _LETTER_VERB_AFTER.match(after) is not None  # "A red cube" is an article
        if ok:
            found.append((s, ch if ch in letters else "?" + ch))
    return found


def _kind_mentions(text: str, options: Sequence[str], choice_kind: str) -> list[tuple[int, str]]:
    """Mentions of what the options say (colour, image number, yes/no, the option text)."""
    found: list[tuple[int, str]] = []
    low = text.lower()
    if choice_kind == "color":
        colors = {}
        for k, o in enumerate(options):
            for w in re.findall(r"[a-z]+", o.lower()):
                if w in COLOR_WORDS:
                    colors[_COLOR_SYNONYMS.get(w, w)] = LETTERS[k]
        for m in re.finditer(r"[a-z]+", low):
            c = _COLOR_SYNONYMS.get(m.group(0), m.group(0))
            if c in colors:
                found.append((m.start(), colors[c]))
        return found
    if choice_kind == "image":
        numbers = {}
        for k, o in enumerate(options):
            n = re.search(r"\d+", o)
            if n:
                numbers[int(n.group(0))] = LETTERS[k]
        pat = (
            r"image\s*#?\s*(\d+|"
            + "|".join(_NUMBER_WORDS)
            + r")\b|\b("
            + "|".join(_ORDINALS)
            + r")\s+(?:image|view|picture)"
        )
        for m in re.finditer(pat, low):
            if m.group(1):
                g = m.group(1)
                n = int(g) if g.isdigit() else _NUMBER_WORDS[g]
            else:
                n = _ORDINALS[m.group(2)]
            if n in numbers:
                found.append((m.start(), numbers[n]))
        bare = re.fullmatch(r"\W*(\d+)\W*", low)
        if bare and int(bare.group(1)) in numbers:
            found.append((bare.start(1), numbers[int(bare.group(1))]))
        return found
    if choice_kind == "yesno":
        yn = {o.strip().lower().rstrip("."): LETTERS[k] for k, o in enumerate(options)}
        for m in re.finditer(r"^[\W_]*(yes|no)\b", low, re.M):
            found.append((m.start(1), yn[m.group(1)]))
        return found
    spans = []
    for k, o in enumerate(options):
        t = re.sub(r"\s+", " ", o.strip().lower()).rstrip(".")
        if len(t) < 2:
            continue
        for m in re.finditer(r"(?<![a-z0-9])" + re.escape(t) + r"(?![a-z0-9])", low):
            spans.append((m.start(), m.end(), LETTERS[k]))
    spans.sort(key=lambda s: s[0] - s[1])  # longest first; a shorter overlapping one is dropped
    kept: list[tuple[int, int, str]] = []
    for s in spans:
        if all(s[1] <= k[0] or s[0] >= k[1] for k in kept):
            kept.append(s)
    return [(s, letter) for s, _, letter in kept]


def _mentions(text: str, options: Sequence[str], choice_kind: str) -> list[tuple[int, str]]:
    letters = LETTERS[: len(options)]
    return sorted(_letter_mentions(text, letters) + _kind_mentions(text, options, choice_kind))


def _ambiguity(segment: str, letters: str) -> str | None:
    for m in _AMBIGUOUS.finditer(segment):
        a, b = m.group(1), m.group(2)
        if a != b and a in letters and b in letters:
            return f"ambiguous: {a} or {b}"
    return None


def extract_choice(
    text: str | None, options: Sequence[str], choice_kind: str = "letter"
) -> Extraction:
    """Extract an option letter from a response, restricted to the item's options.

    Args:
        text: the model's response.
        options: the option texts (without letters), in letter order.
        choice_kind: ``letter``, ``color``, ``image`` or ``yesno``: which other ways of naming
            an option are recognised besides its letter.

    Returns:
        :class:`Extraction` with the letter, or no answer with a reason.
    """
    body, fail = _prep(text)
    if fail is not None:
        return fail
    assert body is not None
    letters = LETTERS[: len(options)]
    # 1. explicit final-answer statements; the last one that names something counts
    invalid = None
    for cue in reversed(list(_CUE.finditer(body))):
        span = body[cue.end() : cue.end() + 120].split("\n", 1)[0]
        amb = _ambiguity(span[:40], letters)
        direct = _SPAN_LETTER.match(span)
        if direct is not None:
            ch = direct.group(1)
            refs = [(0, ch if ch in letters else "?" + ch)]
        else:
            refs = _mentions(span, options, choice_kind)
        if not refs:
            continue
        pos, first = refs[0]
        if pos > 40 or (first.startswith("?") and pos > 4):
            continue  # too far from the cue to be what it announces
        if amb:
            return Extraction(None, amb)
        if first.startswith("?"):
            invalid = invalid or f"invalid option {first[1:]}"
            continue
        return Extraction(first, explicit=True)
    # 2. refusals: only mentions made after the refusal can still count
    refusal = None
    for m in _REFUSAL.finditer(body):
        refusal = m
    tail = body if refusal is None else body[refusal.end() :]
    refs = [
        r
        for r in _mentions(tail, options, choice_kind)
        if not r[1].startswith("?") and not _NEGATED.search(tail[max(0, r[0] - 16) : r[0]])
    ]
    if not refs:
        if refusal is not None:
            return Extraction(None, "refusal")
        return Extraction(None, invalid or "no option found")
    # 3. the last mention, unless it is one side of an "A or B"
    pos, letter = refs[-1]
    amb = _ambiguity(tail[max(0, pos - 12) : pos + 12], letters)
    if amb:
        return Extraction(None, amb)
    return Extraction(letter)


# ---------------------------------------------------------------------------------------------
# Point items


def to_pixels(
    x: float, y: float, width: int, height: int, coord_format: str
) -> tuple[float, float]:
    """Convert a model's point to pixel-centre coordinates ``(u, v)`` of a W x H image.

    ``absolute`` points are pixel coordinates already; ``relative`` points are in [0, 1] and
    ``relative-1000`` points in [0, 1000] across the image, so that 0 is the left/top edge
    (``u = -0.5``) and 1 (or 1000) the right/bottom edge (``u = W - 0.5``).
    """
    if coord_format == "absolute":
        return float(x), float(y)
    scale = {"relative": 1.0, "relative-1000": 1000.0}.get(coord_format)
    if scale is None:
        raise ValueError(f"coord_format must be one of {COORD_FORMATS}, got {coord_format!r}")
    return x / scale * width - 0.5, y / scale * height - 0.5


def from_pixels(
    u: float, v: float, width: int, height: int, coord_format: str
) -> tuple[float, float]:
    """Convert pixel-centre coordinates ``(u, v)`` of a W x H image to ``coord_format``: the
    inverse of :func:`to_pixels` (how a model is asked for, or shown, a point)."""
    if coord_format == "absolute":
        return float(u), float(v)
    scale = {"relative": 1.0, "relative-1000": 1000.0}.get(coord_format)
    if scale is None:
        raise ValueError(f"coord_format must be one of {COORD_FORMATS}, got {coord_format!r}")
    return (u + 0.5) / width * scale, (v + 0.5) / height * scale


def extract_point(
    text: str | None, width: int, height: int, coord_format: str = "absolute"
) -> Extraction:
    """Extract a point: JSON ``point_2d`` / ``point`` / ``{"x", "y"}``, ``[x, y]`` or ``(x, y)``.

    A keyed point (``point_2d``, ``point``, ``x``/``y``) is explicit and the last one wins;
    otherwise the last bare pair. The point is returned in pixels of the answer view; whether
    it lies inside the image is a scoring question (outside is a miss, not "no answer").
    """
    body, fail = _prep(text)
    if fail is not None:
        return fail
    assert body is not None
    keyed = [(m.start(), m) for m in _POINT_KEYED.finditer(body)]
    chosen, explicit = (keyed[-1][1], True) if keyed else (None, False)
    if chosen is None:
        bare = list(_POINT_BARE.finditer(body))
        if not bare:
            return Extraction(None, "refusal" if _REFUSAL.search(body) else "no point found")
        chosen = bare[-1]
    nums = [float(g) for g in chosen.groups() if g is not None]
    u, v = to_pixels(nums[0], nums[1], width, height, coord_format)
    return Extraction((u, v), explicit=explicit)


# ---------------------------------------------------------------------------------------------
# Free-text items


def normalize_free(text: str) -> str:
    """Lower case, number words to digits, punctuation and articles removed, spaces collapsed."""
    words = re.findall(r"[a-z0-9]+(?:\.[0-9]+)?", text.lower())
    out = []
    for w in words:
        if w in ("a", "an", "the"):
            continue
        out.append(str(_NUMBER_WORDS[w]) if w in _NUMBER_WORDS else w)
    return " ".join(out)


def extract_free(text: str | None) -> Extraction:
    """Extract a short free-text answer: the last explicit ``answer: ...``, else the last line."""
    body, fail = _prep(text)
    if fail is not None:
        return fail
    assert body is not None
    cues = list(re.finditer(r"answer\s*(?:is|[:=])\s*[:=]?\s*(.+)", body, re.I))
    if cues:
        candidate, explicit = cues[-1].group(1), True
    else:
        if _REFUSAL.search(body):
            return Extraction(None, "refusal")
        lines = [ln for ln in body.splitlines() if ln.strip()]
        candidate, explicit = lines[-1], False
    norm = normalize_free(candidate)
    if not norm:
        return Extraction(None, "empty answer")
    return Extraction(norm, explicit=explicit)


# ---------------------------------------------------------------------------------------------
# Number items

_NUMBER_CUE = re.compile(r"answer\s*(?:is|[:=])\s*[:=]?\s*(?:about|approximately|~)?\s*", re.I)


def _numbers(text: str) -> list[float]:
    out = []
    for m in re.finditer(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?|[a-z]+", text, re.I):
        tok = m.group(0).lower()
        if tok[0].isalpha():
            if tok in _NUMBER_WORDS:
                out.append(float(_NUMBER_WORDS[tok]))
            continue
        try:
            out.append(float(tok))
        except ValueError:
            continue
    return out


def extract_number(text: str | None) -> Extraction:
    """Extract a numeric answer: the number after the last explicit ``answer: ...`` cue, else
    the last number in the response (digits, decimals, signs, exponents, number words up to
    twenty); the value is the number as text (``"1.5"``)."""
    body, fail = _prep(text)
    if fail is not None:
        return fail
    assert body is not None
    cues = list(_NUMBER_CUE.finditer(body))
    for cue in reversed(cues):
        nums = _numbers(body[cue.end() : cue.end() + 40])
        if nums:
            return Extraction(f"{nums[0]:g}", explicit=True)
    if _REFUSAL.search(body):
        return Extraction(None, "refusal")
    nums = _numbers(body)
    if not nums:
        return Extraction(None, "no number")
    return Extraction(f"{nums[-1]:g}")
