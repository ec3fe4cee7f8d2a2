"""The blind solvers of the shortcut audit: what each one reads of an item, per option.

Every probe sees an item the way a model does (the rendered question, option texts and images
of the item's default protocol: ``overlay`` for mask-grounded items, ``marker`` otherwise) or
the record's non-answer metadata, and never the cross-view geometry the question is about. A
probe gives, per option, either a score (``rule`` probes: the highest-scoring option is the
probe's answer) or a feature vector (``learned`` probes: a conditional-logit model fitted on
other scenes picks the option). Probes return None for items they cannot read.

Fields that are ground truth (``answer``, ``answer_text``, ``gold``, ``meta``, track ids) are
never read: the harness never shows them to a model (tests/eval hold prompts free of them).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from crossview.dataset.record import Record
from crossview.geometry import rle_decode
from crossview.render.palette import PALETTE

WORD = re.compile(r"[a-z]+|\d+")
HASH_DIM = 256


class ItemReader:
    """One record as a model sees it, with lazily loaded images (cached by path)."""

    def __init__(self, rec: Record, dataset: Path, cache: dict[str, np.ndarray]) -> None:
        self.rec = rec
        self.dataset = dataset
        self._cache = cache
        self.protocol = "overlay" if "overlay" in rec.protocols else "marker"
        shown = rec.protocols[self.protocol]
        self.question: str = shown["question"]
        self.options: list[str] = list(shown["options"])
        self.image_paths: list[str] = list(shown["images"])
        self.marks: list[dict] = list(shown.get("marks", []))
        ch = rec.choices or {}
        self.labels: list[str | None] = list(ch.get("labels") or [None] * len(self.options))
        self.option_views: list[int | None] = list(ch.get("views") or [None] * len(self.options))
        self.option_refs: list[list[int]] = list(ch.get("option_refs") or [])
        self.views: list[dict] = rec.views

    @property
    def n(self) -> int:
        return len(self.options)

    def option_text(self, k: int) -> str:
        """Option k as shown, without its letter ("A. ")."""
        return re.sub(r"^[A-H]\.\s*", "", self.options[k])

    def _load(self, p: str) -> np.ndarray:
        if p not in self._cache:
            with Image.open(self.dataset / p) as im:
                self._cache[p] = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        return self._cache[p]

    def image(self, i: int) -> np.ndarray:
        """(H, W, 3) float32 RGB in [0, 1] of image i as shown (with overlays or marks)."""
        return self._load(self.image_paths[i])

    def base_image(self, i: int) -> np.ndarray:
        """Image i of the scene without overlays or marks."""
        return self._load(self.views[i]["image_path"])

    def kind(self) -> str:
        """What the options are: ``image``, ``color`` (marks), ``object`` (regions), ``label``."""
        if all(v is not None for v in self.option_views):
            return "image"
        colours = {m["color"] for m in self.marks}
        if self.protocol == "marker" and all(lab in colours for lab in self.labels):
            return "color"
        if self.protocol == "overlay" and all(lab is None for lab in self.labels):
            return "object"
        return "label"

    def option_marks(self, k: int) -> list[dict]:
        """Marks of colour option k (in the images that are not references)."""
        return [m for m in self.marks if m["color"] == self.labels[k]]

    def option_masks(self, k: int) -> list[tuple[int, np.ndarray]]:
        """(view, (H, W) bool mask) of the regions object option k names."""
        out = []
        refs = self.rec.region_refs
        for p in self.option_refs[k] if k < len(self.option_refs) else []:
            view, idx = refs[p]
            obj = self.views[view]["objects"][idx]
            out.append((view, rle_decode(obj["mask_rle"]).astype(bool)))
        return out


def _hash(token: str) -> int:
    return zlib.crc32(token.encode()) % HASH_DIM


def _words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _stats(img: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(12,) single-image statistics: mean and std RGB, 4-bin hue histogram, brightness,
    edge density (of the pixels in ``mask`` when given)."""
    px = img.reshape(-1, 3) if mask is None else img[mask]
    if not len(px):
        return np.zeros(12)
    mx, mn = px.max(1), px.min(1)
    sat = (mx - mn) > 0.15
    r, g, b = px[:, 0], px[:, 1], px[:, 2]
    hue = np.arctan2(np.sqrt(3) * (g - b), 2 * r - g - b)
    hist = np.histogram(hue[sat], bins=4, range=(-np.pi, np.pi))[0] / max(1, len(px))
    gy, gx = np.gradient(img.mean(2))
    edges = np.hypot(gx, gy) > 0.08
    edge = edges.mean() if mask is None else (edges[mask].mean() if mask.any() else 0.0)
    return np.concatenate([px.mean(0), px.std(0), hist, [px.mean()], [edge]])


def _onehot(value: str, dim: int = HASH_DIM) -> np.ndarray:
    x = np.zeros(dim)
    x[_hash(value)] = 1.0
    return x


def _mark_window_com(img: np.ndarray, m: dict, color: str) -> np.ndarray | None:
    """(2,) centre of mass of the pixels of ``color`` near mark ``m``, in image pixels."""
    h, w = img.shape[:2]
    u, v = int(round(m["uv"][0])), int(round(m["uv"][1]))
    r = max(6, int(0.03 * min(h, w)))
    y0, y1, x0, x1 = max(0, v - r), min(h, v + r + 1), max(0, u - r), min(w, u + r + 1)
    patch = img[y0:y1, x0:x1]
    ref = np.asarray(PALETTE[color], np.float32) / 255.0
    wgt = np.clip(1.0 - np.linalg.norm(patch - ref, axis=2) / 0.35, 0, None)
    if wgt.sum() < 1e-6:
        return None
    yy, xx = np.mgrid[y0:y1, x0:x1]
    return np.array([(wgt * xx).sum() / wgt.sum(), (wgt * yy).sum() / wgt.sum()])


def _frac(x: np.ndarray) -> float:
    """Distance of coordinates from the integer grid (L1 over axes), in pixels."""
    return float(np.abs(x - np.round(x)).sum())


# -------------------------------------------------------------------------- rule probes


def subpixel_rule(it: ItemReader) -> np.ndarray | None:
    """Colour options: the dot whose drawn colour's centre of mass is farthest off the pixel
    grid (a generator that draws only the gold at its exact projection leaks it)."""
    if it.kind() != "color":
        return None
    out = []
    for k in range(it.n):
        marks = it.option_marks(k)
        if not marks:
            return None
        com = _mark_window_com(it.image(marks[0]["view"]), marks[0], it.labels[k])
        if com is None:
            return None
        out.append(_frac(com))
    return np.round(np.asarray(out), 3)


def mark_order_rule(it: ItemReader) -> np.ndarray | None:
    """Colour options: the option whose mark is listed first in the record."""
    if it.kind() != "color":
        return None
    first = {}
    for i, m in enumerate(it.marks):
        first.setdefault(m["color"], i)
    if not all(lab in first for lab in it.labels):
        return None
    return -np.asarray([first[lab] for lab in it.labels], float)


def _image_diff(it: ItemReader, k: int) -> float:
    a, b = it.image(0), it.image(it.option_views[k])
    if a.shape != b.shape:
        b = np.asarray(Image.fromarray((b * 255).astype(np.uint8)).resize(a.shape[1::-1]))
        b = b.astype(np.float32) / 255.0
    return float(np.abs(a - b).mean())


def most_similar_rule(it: ItemReader) -> np.ndarray | None:
    """Image options: the image with the smallest pixel difference to Image 1."""
    if it.kind() != "image" or 0 in it.option_views:
        return None
    return -np.round([_image_diff(it, k) for k in range(it.n)], 4)


def least_similar_rule(it: ItemReader) -> np.ndarray | None:
    """Image options: the image with the largest pixel difference to Image 1."""
    s = most_similar_rule(it)
    return None if s is None else -s


# ----------------------------------------------------------------------- learned probes


def text_features(it: ItemReader) -> np.ndarray:
    """Hashed words of each option and (question word, option word) pairs."""
    q = set(_words(it.question))
    rows = []
    for k in range(it.n):
        x = np.zeros(HASH_DIM)
        ow = _words(it.option_text(k))
        for w in ow:
            x[_hash("o:" + w)] += 1
            for qw in q:
                x[_hash(f"p:{qw}|{w}")] += 0.25
        rows.append(x)
    return np.asarray(rows)


def label_features(it: ItemReader) -> np.ndarray | None:
    """The answer-label prior: one-hot of the option's label (or its text as shown)."""
    if it.kind() == "object":  # object options are named by overlay colour: the text probe
        return None
    return np.asarray(
        [_onehot("l:" + (it.labels[k] or it.option_text(k).lower())) for k in range(it.n)]
    )


def _cameras(it: ItemReader) -> list[str]:
    return [v["camera"] for v in it.views]


def camera_features(it: ItemReader) -> np.ndarray | None:
    """Camera identities: the option image's camera (image options), or the option's label
    crossed with the camera in each image position (label options)."""
    cams = _cameras(it)
    kind = it.kind()
    rows = []
    for k in range(it.n):
        x = np.zeros(HASH_DIM)
        if kind == "image":
            v = it.option_views[k]
            x[_hash("cam:" + cams[v])] = 1
        elif kind == "label":
            lab = it.labels[k] or it.option_text(k).lower()
            for i, c in enumerate(cams):
                x[_hash(f"{lab}|{i}:{c}")] = 1
        else:  # object / colour options: the camera of the image the option lives in
            views = [v for v, _ in it.option_masks(k)] if kind == "object" else []
            views += [m["view"] for m in it.option_marks(k)] if kind == "color" else []
            for v in views:
                x[_hash(f"opt_cam:{cams[v]}")] = 1
        rows.append(x)
    return np.asarray(rows)


def metadata_features(it: ItemReader) -> np.ndarray:
    """Non-answer record fields: mark coordinates off the pixel grid and record order, the
    option image's slot, region places and listing order. (Which camera and timestep
    an image has is the answer of the camera-level types: camera names are read by the
    camera-role probe, relations between images by none.)"""
    kind = it.kind()
    rows = []
    for k in range(it.n):
        x = np.zeros(8)
        if kind == "color":
            marks = it.option_marks(k)
            order = [i for i, m in enumerate(it.marks) if m["color"] == it.labels[k]]
            x[0] = _frac(np.asarray(marks[0]["uv"])) if marks else 0.0
            x[1] = order[0] / max(1, len(it.marks)) if order else 0.0
            x[2] = marks[0]["uv"][0] / it.views[marks[0]["view"]]["width"] if marks else 0.0
            x[3] = marks[0]["uv"][1] / it.views[marks[0]["view"]]["height"] if marks else 0.0
        elif kind == "image":
            x[0] = it.option_views[k] / max(1, len(it.views))
        elif kind == "object":
            refs = it.rec.region_refs
            for p in it.option_refs[k]:
                view, idx = refs[p]
                box = it.views[view]["objects"][idx].get("bbox_xyxy") or [0, 0, 0, 0]
                # (no area: a region's size is what Q10-Q12 and Q16 ask about, and the
                # single-image probe reads it within one image)
                x[1] += idx / max(1, len(it.views[view]["objects"]))
                x[2] += (box[0] + box[2]) / 2 / it.views[view]["width"]
                x[3] += (box[1] + box[3]) / 2 / it.views[view]["height"]
        else:
            x[k % 8] = 1.0  # labels: position only (letters are balanced)
        rows.append(x)
    return np.asarray(rows)


def single_image_features(it: ItemReader) -> np.ndarray | None:
    """Statistics of one image per option, no comparison across images: the option image
    (image options), the object's pixels and place (object options), the surface around the
    dot and its sub-pixel centre (colour options), or the last image crossed with the label."""
    kind = it.kind()
    rows = []
    for k in range(it.n):
        if kind == "image":
            rows.append(_stats(it.image(it.option_views[k])))
        elif kind == "object":
            feats = []
            for v, mask in it.option_masks(k):
                ys, xs = np.nonzero(mask)
                h, w = mask.shape
                place = [np.log1p(mask.sum()), xs.mean() / w, ys.mean() / h] if len(xs) else [0] * 3
                feats.append(np.concatenate([_stats(it.base_image(v), mask), place]))
            rows.append(np.mean(feats, 0) if feats else np.zeros(15))
        elif kind == "color":
            marks = it.option_marks(k)
            if not marks:
                return None
            m = marks[0]
            img = it.image(m["view"])
            h, w = img.shape[:2]
            yy, xx = np.mgrid[:h, :w]
            d = np.hypot(xx - m["uv"][0], yy - m["uv"][1])
            r = max(3.0, 0.016 * min(h, w))
            ring = (d > r + 3) & (d < 2.5 * r + 3)
            com = _mark_window_com(img, m, it.labels[k])
            frac = 0.0 if com is None else _frac(com)
            rows.append(np.concatenate([_stats(img, ring), [frac, m["uv"][0] / w]]))
        else:
            lab = it.labels[k] or it.option_text(k).lower()
            x = np.zeros(4 * 12)
            names = sorted({lb or it.option_text(j).lower() for j, lb in enumerate(it.labels)})
            slot = names.index(lab) % 4
            x[slot * 12 : (slot + 1) * 12] = _stats(it.image(len(it.image_paths) - 1))
            rows.append(x)
    return np.asarray(rows)


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Probe:
    """A blind solver: ``rule`` (argmax of ``fn``'s scores) or ``learned`` (features)."""

    name: str
    kind: str
    fn: Callable[[ItemReader], np.ndarray | None]
    doc: str


PROBES: tuple[Probe, ...] = (
    Probe("text_only", "learned", text_features, "question and option words"),
    Probe("answer_prior", "learned", label_features, "the gold label's frequency per type"),
    Probe("camera_role", "learned", camera_features, "camera identity of the images"),
    Probe("metadata", "learned", metadata_features, "record fields that are not the answer"),
    Probe("single_image", "learned", single_image_features, "one image's statistics"),
    Probe("mark_subpixel", "rule", subpixel_rule, "dot centre off the pixel grid"),
    Probe("mark_order", "rule", mark_order_rule, "first mark listed in the record"),
    Probe("most_similar", "rule", most_similar_rule, "smallest pixel difference to Image 1"),
    Probe("least_similar", "rule", least_similar_rule, "largest pixel difference to Image 1"),
)
"""Every probe of the audit, in report order."""
