"""The harness's data types: one item type every loader produces, and what a backend sees.

An :class:`EvalItem` holds everything the harness knows about a question, gold included. A
backend never receives an item: it receives a :class:`Prompt` (text plus ordered images),
built from the item by :func:`crossview.eval.prompts.build_tasks`.
"""

from __future__ import annotations

import base64
import functools
import io
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

AnswerKind = Literal["choice", "point", "free", "number"]
ChoiceKind = Literal["letter", "color", "image", "yesno"]

LETTERS = string.ascii_uppercase


@functools.lru_cache(maxsize=64)
def _encoded_file(path: str, size: int, mtime_ns: int) -> str:
    del size, mtime_ns  # part of the cache key only
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


@functools.lru_cache(maxsize=64)
def _overlaid_file(
    path: str, size: int, mtime_ns: int, marks: tuple[tuple[str, str], ...]
) -> bytes:
    del size, mtime_ns  # part of the cache key only
    import json

    from PIL import Image

    from crossview.geometry.masks import rle_decode
    from crossview.render.overlay import draw_overlays

    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"))
    masks = [rle_decode(json.loads(rle)) for rle, _ in marks]
    drawn = draw_overlays(rgb, masks, [color for _, color in marks])
    buf = io.BytesIO()
    Image.fromarray(drawn).save(buf, format="PNG")
    return buf.getvalue()


@dataclass(frozen=True)
class ImageSource:
    """One image of an item: a file inside the benchmark folder or inline base64 bytes.

    Exactly one of ``path`` and ``b64`` is set. Inline images (VLMEvalKit TSV) stay encoded
    until a backend asks for their bytes. ``overlay`` (with ``path``) draws mask overlays on
    the file when its bytes are read: ``(COCO RLE as JSON text, palette colour)`` per mask,
    drawn by :func:`crossview.render.overlay.draw_overlays` and returned as PNG (the overlay
    protocol of a file published with masks only, e.g. CrossViewer JSONL).
    """

    path: Path | None = None
    b64: str | None = None
    overlay: tuple[tuple[str, str], ...] = ()

    def read_bytes(self) -> bytes:
        """Return the encoded image file bytes (PNG, JPEG, ...)."""
        if self.path is not None and self.overlay:
            st = self.path.stat()
            return _overlaid_file(str(self.path), st.st_size, st.st_mtime_ns, self.overlay)
        if self.path is not None:
            return self.path.read_bytes()
        assert self.b64 is not None
        return base64.b64decode(self.b64)

    def as_base64(self) -> str:
        """Return the image bytes base64-encoded (ASCII), without re-encoding inline images.

        Files are encoded once and cached (keyed by path, size and modification time), since
        the items of a benchmark share views.
        """
        if self.b64 is not None:
            return self.b64
        assert self.path is not None
        if self.overlay:
            return base64.b64encode(self.read_bytes()).decode("ascii")
        st = self.path.stat()
        return _encoded_file(str(self.path), st.st_size, st.st_mtime_ns)

    def head(self, n: int = 16) -> bytes:
        """The first ``n`` bytes of the encoded image (enough to tell its type)."""
        if self.overlay:
            return self.read_bytes()[:n]
        if self.path is not None:
            with self.path.open("rb") as f:
                return f.read(n)
        assert self.b64 is not None
        return base64.b64decode(self.b64[: 4 * ((n + 2) // 3)])[:n]

    def mime(self) -> str:
        """Return the MIME type guessed from the file's magic bytes."""
        head = self.head(12)
        if head.startswith(b"\x89PNG"):
            return "image/png"
        if head.startswith(b"\xff\xd8"):
            return "image/jpeg"
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return "image/webp"
        if head.startswith(b"GIF8"):
            return "image/gif"
        return "application/octet-stream"

    def open(self):
        """Open the image with Pillow, converted to RGB."""
        from PIL import Image

        return Image.open(io.BytesIO(self.read_bytes())).convert("RGB")

    def describe(self) -> str:
        """A short human-readable name (a path, or ``<inline N bytes>``)."""
        if self.path is not None and self.overlay:
            colors = ", ".join(c for _, c in self.overlay)
            return f"{self.path} with overlays ({colors})"
        if self.path is not None:
            return str(self.path)
        return f"<inline base64, {len(self.b64 or '')} chars>"


@dataclass(frozen=True)
class GoldMask:
    """Gold region of a point item: a predicted point scores when it falls inside.

    Attributes:
        view: index of the image (in the item's ``images``) the point is given in.
        width: width in pixels of that image; coordinates are converted against it.
        height: height in pixels of that image.
        rle: COCO RLE ``{"size": [H, W], "counts": ...}`` of the mask, or None.
        png_b64: a base64 PNG mask (white = inside, CrossPoint-Bench), or None.
        point: a representative gold point ``(u, v)`` in pixels, if the file gives one.
    """

    view: int
    width: int
    height: int
    rle: dict[str, Any] | None = None
    png_b64: str | None = None
    point: tuple[float, float] | None = None

    def decode(self) -> np.ndarray:
        """Return the (H, W) bool mask."""
        if self.rle is not None:
            from crossview.geometry.masks import rle_decode

            return rle_decode(self.rle)
        assert self.png_b64 is not None
        from PIL import Image

        img = np.asarray(Image.open(io.BytesIO(base64.b64decode(self.png_b64))))
        if img.ndim == 3:
            img = img[..., :3].mean(axis=2)
        return img > 128


@dataclass
class EvalItem:
    """One benchmark question as every loader produces it.

    Attributes:
        id: the item's id (compared as a string); the 0-based line number when the file has none.
        type: the file's own type field (``question_type``, ``type``, or the TSV category).
        categories: the category labels the item counts under (several for MMVM's multi-label
            ``match_type``); ``(type,)`` when the file has no category.
        family: ``crossview``, ``xvr``, ``crosspoint`` or the benchmark's name.
        question: the question text as shown under the chosen protocol, without options.
        options: option texts without their letters; option ``k`` has letter ``LETTERS[k]``.
        answer: the gold letter (choice), the normalised short answer (free), the gold number
            as text (number), or ``"point"``.
        answer_kind: ``choice``, ``point``, ``free`` or ``number`` (scored by mean relative
            accuracy, a credit in [0, 1]).
        choice_kind: how a model may name an option: ``letter``, ``color``, ``image``, ``yesno``.
        images: the images in the order the question refers to them ("Image 1" first).
        gold_mask: for point items, the mask the predicted point must fall in.
        options_in_question: True when the options are already written inside ``question``
            (CrossPoint-Bench); the prompt then does not repeat them and rotation is impossible.
        regions: for the ``region`` protocol, ``[view, object]`` references and their masks.
        paraphrases: other wordings of ``question`` with the same answer (the record's, under
            the chosen protocol), asked by ``--consistency``.
        prompt_text: the exact user message a public benchmark's own code sends (question,
            options and instruction written its way); None: crossview's prompt. Items with it
            are asked verbatim and never rotated or reordered.
        coord_format: the coordinate convention a verbatim prompt itself asks point answers
            in (RoboSpatial-Home asks for 0-1 coordinates: ``relative``); it overrides the
            run's ``--coord-format`` for this item, in extraction and in the baselines'
            answers. None: the run's.
        meta: anything else from the record (level, split, provenance), never shown to a model.
    """

    id: str
    type: str
    question: str
    options: list[str]
    answer: str
    answer_kind: AnswerKind
    images: list[ImageSource]
    categories: tuple[str, ...] = ()
    family: str = ""
    choice_kind: ChoiceKind = "letter"
    gold_mask: GoldMask | None = None
    options_in_question: bool = False
    regions: list[dict[str, Any]] = field(default_factory=list)
    paraphrases: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    prompt_text: str | None = None
    coord_format: str | None = None

    @property
    def letters(self) -> list[str]:
        """The valid option letters of this item, in order."""
        return list(LETTERS[: len(self.options)])


@dataclass(frozen=True)
class Prompt:
    """What a backend is given: text and images in order, never the gold answer.

    Attributes:
        item_id: id of the item the prompt was built from.
        variant: 0 for the plain prompt, ``k`` for the ``k``-th circular rotation of options.
        text: the full user message (question, options, answer instruction).
        images: the images in the order the text refers to them.
        letters: the option letters valid for this prompt (empty for point/free items).
        answer_kind: the kind of answer expected.
        regions: region references for region-aware backends (``region`` protocol only).
        image_size: ``(width, height)`` of the image a point answer refers to, if any.
        oracle_answer: the gold answer as text; filled only for backends that declare
            ``needs_gold`` (the ``oracle`` baseline), None for every real model.
        item_type: the item's question type (a benchmark category a harness knows, never the
            answer); solvers that dispatch per type (``classical``) read it.
        options: the option texts in this prompt's order, without letters (also in ``text``).
        coord_format: the coordinate convention this prompt asks point answers in, when the
            item's own prompt fixes it (:attr:`EvalItem.coord_format`); None: the run's.
    """

    item_id: str
    variant: int
    text: str
    images: tuple[ImageSource, ...]
    letters: tuple[str, ...] = ()
    answer_kind: AnswerKind = "choice"
    regions: tuple[dict[str, Any], ...] = ()
    image_size: tuple[int, int] | None = None
    oracle_answer: str | None = None
    item_type: str = ""
    options: tuple[str, ...] = ()
    coord_format: str | None = None

    def coords(self, run_format: str) -> str:
        """The convention a point answer to this prompt is written in: the prompt's own, else
        the run's ``run_format``."""
        return self.coord_format or run_format

    @property
    def key(self) -> tuple[str, int]:
        """``(item_id, variant)``: the identity of one prediction."""
        return (self.item_id, self.variant)


@dataclass(frozen=True)
class Response:
    """What a backend returns for one prompt.

    ``text`` is None when no response was obtained (a backend failure, not a model answer);
    ``error`` then says why.
    """

    text: str | None
    error: str | None = None
    attempts: int = 1
    latency_s: float = 0.0
    backend_note: str | None = None
    """Why a backend answered as it did (the classical solver's reason for abstaining);
    recorded in predictions.jsonl, never read by the answer extraction."""
