"""Benchmark loaders: native ``questions.jsonl``, CrossViewer JSONL, CrossPoint-Bench JSONL and
VLMEvalKit-style TSV (MMVM, All-Angles Bench), all producing :class:`EvalItem`.

Every image path is resolved inside the benchmark's folder (or a root the user allowed
explicitly); an absolute path or one that leaves the folder is refused before anything is read.
"""

from __future__ import annotations

import ast
import csv
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from crossview.dataset.record import Record
from crossview.errors import BadInputError
from crossview.eval.extract import COLOR_WORDS
from crossview.eval.items import LETTERS, ChoiceKind, EvalItem, GoldMask, ImageSource
from crossview.scene.store import iter_jsonl
from crossview.tasks import point_tasks

FORMATS = ("native", "crossviewer", "crosspoint", "tsv")
PROTOCOLS = ("overlay", "region", "marker", "published")
# Public benchmarks read in their own layout live in crossview.eval.benchmarks (a registry).
# The protocol each external format is published in (read under it unless told otherwise).
_NATIVE_PROTOCOL = {"crossviewer": "region", "crosspoint": "marker", "tsv": "published"}
# The protocols each external format can be read under: a CrossViewer file carries masks, so
# its regions can be drawn as overlays (the CrossView paper's protocol for models without
# region inputs); the others are published with their images as they must be shown.
_FORMAT_PROTOCOLS = {
    "crossviewer": ("region", "overlay"),
    "crosspoint": ("marker",),
    "tsv": ("published",),
}
_OPTION_RE = re.compile(r"^\s*([A-Z])\s*[.)：:]\s*(.*\S)\s*$")


@dataclass
class Benchmark:
    """A loaded benchmark: its items and where they came from."""

    path: Path
    format: str
    protocol: str
    items: list[EvalItem]
    skipped: dict[str, int] = field(default_factory=dict)
    """Records left out as the benchmark's own code leaves them out, counted by reason."""


def load_benchmark(
    path: str | Path,
    *,
    protocol: str | None = None,
    fmt: str = "auto",
    extra_roots: Sequence[str | Path] = (),
) -> Benchmark:
    """Load a benchmark file into :class:`EvalItem` objects.

    Args:
        path: a ``.jsonl`` file (native, CrossViewer or CrossPoint-Bench), a ``.tsv`` file, or
            a public benchmark's release (file or folder, :mod:`crossview.eval.benchmarks`);
            ``NAME:PATH`` names a registered public benchmark.
        protocol: ``auto`` (native default: each item's ``overlay`` or ``marker`` protocol,
            else ``region``), ``overlay``, ``region`` or ``marker``; external formats are
            read as published and accept only their own protocol (or None); public
            benchmarks only ``published`` (their own prompt).
        fmt: ``auto`` (a public benchmark's release, else detected from the extension and the
            first record), one of FORMATS, or a registered public benchmark's name.
        extra_roots: further folders image paths may resolve into (e.g. a scene store beside
            the dataset); by default only the benchmark's own folder.

    Raises:
        BadInputError: unreadable file, corrupt line, missing field, escaping or missing image,
            duplicate id, or a protocol the file does not carry.
    """
    from crossview.eval.benchmarks import detect_benchmark, get_benchmark, registry

    named, path = split_bench_arg(path)
    if named is not None:
        if fmt not in ("auto", named):
            raise BadInputError(f"--bench names benchmark {named!r} but --format is {fmt!r}")
        fmt = named
    if not path.exists():
        raise BadInputError("benchmark file not found", file=path)
    if fmt == "auto":
        spec = detect_benchmark(path)
        if spec is not None:
            fmt = spec.name
        elif path.is_dir():
            raise BadInputError(
                "no registered benchmark recognises this folder (see `crossview benchmarks`); "
                "pass a file, or NAME:PATH",
                file=path,
            )
        else:
            fmt = _detect_format(path)
    public = get_benchmark(fmt)
    if public is not None:
        if protocol not in (None, "auto", "published"):
            raise BadInputError(
                f"{public.title} is read as published (its own prompt); protocol {protocol!r} "
                "is not available for it (use --protocol published or leave it out)",
                file=path,
            )
        got = public.load(path)
        items, skipped = got if isinstance(got, tuple) else (got, {})
        _check_unique(items, path)
        return Benchmark(path=path, format=fmt, protocol="published", items=items, skipped=skipped)
    if fmt not in FORMATS:
        valid = ", ".join([*FORMATS, *registry()])
        raise BadInputError(f"unknown format {fmt!r}; valid: auto, {valid}")
    if not path.is_file():
        raise BadInputError(f"a {fmt} benchmark is one file, not a folder", file=path)
    if fmt == "native":
        protocol = protocol or "auto"
        if protocol not in ("auto", "overlay", "region", "marker"):
            raise BadInputError(
                f"unknown protocol {protocol!r}; valid: auto, overlay, region, marker"
            )
    else:
        offered = _FORMAT_PROTOCOLS[fmt]
        if protocol in (None, "auto"):
            protocol = _NATIVE_PROTOCOL[fmt]
        if protocol not in offered:
            raise BadInputError(
                f"a {fmt} file can be read under protocol {' or '.join(map(repr, offered))}; "
                f"protocol {protocol!r} is not available for it",
                file=path,
            )
    resolver = Resolver(path, extra_roots)
    if fmt == "tsv":
        items = list(_load_tsv(path, resolver))
    else:
        parse = {"native": _native_item, "crossviewer": _native_item, "crosspoint": _cp_item}[fmt]
        # a CrossViewer file's overlay protocol is drawn from its region protocol
        drawn = fmt == "crossviewer" and protocol == "overlay"
        read_as = "region" if drawn else protocol
        items = [parse(rec, line_no, resolver, read_as, fmt) for line_no, rec in iter_jsonl(path)]
        if drawn:
            items = [overlay_regions(item, path) for item in items]
    _check_unique(items, path)
    return Benchmark(path=path, format=fmt, protocol=protocol, items=items)


def split_bench_arg(bench: str | Path) -> tuple[str | None, Path]:
    """``NAME:PATH`` -> ``(NAME, PATH)`` for a registered benchmark name; else ``(None, path)``.

    A path that exists as written is never split (a file may contain a colon).
    """
    from crossview.eval.benchmarks import registry

    text = str(bench)
    if ":" in text and not Path(text).exists():
        name, rest = text.split(":", 1)
        if name in registry():
            return name, Path(rest)
    return None, Path(bench)


def _check_unique(items: Sequence[EvalItem], path: Path) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise BadInputError(f"duplicate id {item.id!r}", file=path, record=item.id)
        seen.add(item.id)


# ---------------------------------------------------------------------------------------------
# Shared helpers


class Resolver:
    """Resolve relative image paths inside allowed roots; refuse everything else.

    Args:
        bench: the benchmark file (named in errors).
        extra_roots: further folders paths may resolve into.
        root: the folder relative paths start from (default: the file's folder).
    """

    def __init__(
        self, bench: Path, extra_roots: Sequence[str | Path] = (), root: Path | None = None
    ) -> None:
        self.file = bench
        self.root = (root if root is not None else bench.parent).resolve()
        self.roots = [self.root, *(Path(r).resolve() for r in extra_roots)]

    def image(
        self, rel: Any, record: str, field: str, subdirs: Sequence[str] = ("",)
    ) -> ImageSource:
        if not isinstance(rel, str) or not rel.strip():
            raise BadInputError(
                "image path must be a non-empty string", file=self.file, record=record, field=field
            )
        p = Path(rel)
        if p.is_absolute() or rel.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rel):
            raise BadInputError(
                f"absolute image path {rel!r} refused; paths are relative to the benchmark folder",
                file=self.file,
                record=record,
                field=field,
            )
        for sub in subdirs:
            candidate = (self.root / sub / p).resolve()
            if not any(candidate.is_relative_to(r) for r in self.roots):
                raise BadInputError(
                    f"image path {rel!r} leaves the benchmark folder {self.root}; refused",
                    file=self.file,
                    record=record,
                    field=field,
                )
            if candidate.is_file():
                return ImageSource(path=candidate)
        raise BadInputError(f"image {rel!r} not found", file=self.file, record=record, field=field)


def _detect_format(path: Path) -> str:
    if path.suffix.lower() == ".tsv":
        return "tsv"
    for _, rec in iter_jsonl(path):
        if "images" in rec and "sample_id" not in rec:
            return "crosspoint"
        if any(k in rec for k in ("protocols", "family", "answer_kind")):
            return "native"
        if "views" in rec:
            return "crossviewer"
        raise BadInputError(
            "cannot tell the benchmark format from the first record (expected native, "
            "CrossViewer or CrossPoint-Bench fields); pass the format explicitly",
            file=path,
            record="line 0",
        )
    raise BadInputError("benchmark file holds no records", file=path)


def _need(rec: dict[str, Any], key: str, file: Path, record: str) -> Any:
    if key not in rec or rec[key] is None:
        raise BadInputError("missing field", file=file, record=record, field=key)
    return rec[key]


def _item_id(rec: dict[str, Any], keys: Sequence[str], line_no: int) -> str:
    for k in keys:
        if rec.get(k) not in (None, ""):
            return str(rec[k])
    return str(line_no)


def split_options(options: Sequence[Any], file: Path, record: str, field: str) -> list[str]:
    """Turn ``["A. red", "B. blue"]`` into ``["red", "blue"]``, checking the letters' order."""
    texts = []
    for k, opt in enumerate(options):
        m = _OPTION_RE.match(str(opt)) if isinstance(opt, str) else None
        if m is None or m.group(1) != LETTERS[k]:
            raise BadInputError(
                f"option {k} must read '{LETTERS[k]}. text', got {opt!r}",
                file=file,
                record=record,
                field=field,
            )
        texts.append(m.group(2))
    return texts


def infer_choice_kind(options: Sequence[str]) -> ChoiceKind:
    """Tell how a model may name an option besides its letter: colour, image number, yes/no."""
    norm = [re.sub(r"[^a-z0-9# ]", "", o.lower()).strip() for o in options]
    if not norm:
        return "letter"
    if sorted(set(norm)) == ["no", "yes"]:
        return "yesno"
    if all(re.fullmatch(r"image\s*#?\s*\d+", o) for o in norm):
        return "image"
    marker_words = {"the", "dot", "point", "arrow", "marker", "circle", "one", "mark"}
    if all(
        sum(w in COLOR_WORDS for w in o.split()) == 1
        and all(w in COLOR_WORDS or w in marker_words for w in o.split())
        for o in norm
    ) and len(set(norm)) == len(norm):
        return "color"
    return "letter"


def _check_letter(answer: Any, n: int, file: Path, record: str) -> str:
    a = str(answer).strip().strip("()").upper()
    if len(a) != 1 or a not in LETTERS[:n]:
        raise BadInputError(
            f"answer {answer!r} is not one of the {n} option letters",
            file=file,
            record=record,
            field="answer",
        )
    return a


# ---------------------------------------------------------------------------------------------
# Native questions.jsonl and the public CrossViewer JSONL (a subset of the native record)


def _native_item(
    obj: dict[str, Any], line_no: int, res: Resolver, protocol: str, fmt: str
) -> EvalItem:
    f = res.file
    iid = _item_id(obj, ("sample_id", "id"), line_no)
    where = f"line {line_no + 1} ({iid})"
    rec = Record.from_json(obj, f, where, id_keys=("sample_id", "id"), default_id=iid)
    views = rec.views
    pv = rec.view(protocol, f, where)
    if pv is None:
        raise BadInputError(
            f"the record has no '{protocol}' protocol (it has {', '.join(rec.available())}); "
            "use --protocol auto to read each item under the protocol it has",
            file=f,
            record=where,
            field=f"protocols.{protocol}",
        )
    protocol = pv.protocol
    regions: list[dict[str, Any]] = []
    if protocol == "region":
        for j, ref in enumerate(rec.region_refs):
            try:
                v, o = int(ref[0]), int(ref[1])
                ob = views[v]["objects"][o]
            except (TypeError, ValueError, IndexError, KeyError):
                raise BadInputError(
                    f"region ref {ref!r} names no object",
                    file=f,
                    record=where,
                    field=f"region_refs[{j}]",
                ) from None
            regions.append(
                {
                    "view": v,
                    "object": o,
                    "mask_rle": ob.get("mask_rle"),
                    "bbox_xyxy": ob.get("bbox_xyxy"),
                    "track_id": ob.get("track_id"),
                }
            )
    images = [res.image(p, where, pv.image_field(k)) for k, p in enumerate(pv.images)]
    question, raw_opts = pv.question, pv.options
    options = split_options(raw_opts, f, where, "options")
    kind = rec.answer_kind
    answer = pv.answer
    gold_mask = None
    if kind == "choice":
        answer = _check_letter(answer, len(options), f, where)
    elif kind == "point":
        gold = rec.gold
        if gold is None:
            raise BadInputError("missing field 'gold'", file=f, record=where, field="gold")
        try:
            view = int(gold["view"])
            rle = gold["mask_rle"]
            h, w = int(rle["size"][0]), int(rle["size"][1])
        except (KeyError, TypeError, ValueError, IndexError):
            raise BadInputError(
                "gold must hold 'view' and 'mask_rle' with a size",
                file=f,
                record=where,
                field="gold",
            ) from None
        if not 0 <= view < len(images):
            raise BadInputError(
                f"gold view {view} out of range", file=f, record=where, field="gold.view"
            )
        pt = gold.get("point")
        gold_mask = GoldMask(
            view=view,
            width=w,
            height=h,
            rle=rle,
            point=(float(pt[0]), float(pt[1])) if pt else None,
        )
    paraphrases = pv.paraphrases
    qtype = rec.question_type
    family = rec.family or ("crossview" if fmt == "crossviewer" else "")
    category = rec.category or qtype
    meta = {k: obj[k] for k in ("task_name", "split", "answer_text", "provenance") if k in obj}
    return EvalItem(
        id=iid,
        type=qtype,
        question=question,
        options=options,
        answer=answer,
        answer_kind=kind,
        images=images,
        categories=(category,),
        family=family,
        # what the record says; a published file without a choices block goes by the wording
        choice_kind=rec.choice_kind() or infer_choice_kind(options),  # type: ignore[arg-type]
        gold_mask=gold_mask,
        regions=regions,
        paraphrases=list(paraphrases or []),
        meta=meta,
    )


_REGION_PHRASE = re.compile(r"\b[Tt]he object <region>|<region>")
_REGION_NAME = re.compile(r"\bregion (\d+)\b")


def overlay_regions(item: EvalItem, file: Path) -> EvalItem:
    """The overlay protocol of a region-protocol item: each referenced mask drawn as a coloured
    overlay on its image, each ``<region>`` rewritten to the colour cue.

    This is what the native dataset's overlay protocol shows (docs/dataset-format.md):
    ``the object <region>`` reads ``the object outlined in red``, a bare ``<region>`` (an
    option, a list) reads ``red``, and an open answer ``region N`` (the N-th ``<region>``)
    becomes that region's colour. One colour per distinct (view, object), chosen by
    :func:`crossview.render.palette.contrasting_colors` (legible on the object's own pixels,
    apart from each other, never a colour word of the options), seeded by the item id. When
    no colouring is that legible the contrast is relaxed, then the separation, and the item
    says so in ``meta["overlay_legibility"]``.

    Raises:
        BadInputError: the ``<region>`` count differs from the regions, or a mask does not
            fit its image.
    """
    import json
    import zlib

    import numpy as np

    from crossview.geometry.masks import rle_decode
    from crossview.render.palette import PALETTE, contrasting_colors

    texts = [item.question, *item.options]
    n_ph = sum(len(_REGION_PHRASE.findall(t)) for t in texts)
    if n_ph != len(item.regions):
        raise BadInputError(
            f"{n_ph} <region> placeholders for {len(item.regions)} region_refs",
            file=file,
            record=item.id,
            field="region_refs",
        )
    rle_of = {(r["view"], r["object"]): r["mask_rle"] for r in item.regions}
    keys = list(rle_of)  # distinct (view, object), in order of first reference
    shown: dict[int, np.ndarray] = {}  # each image decoded once
    under: list[list[np.ndarray]] = []
    for v, o in keys:
        rle = rle_of[(v, o)]
        field = f"views[{v}].objects[{o}].mask_rle"
        try:
            m = rle_decode(rle)
        except Exception as exc:
            raise BadInputError(
                f"mask cannot be decoded ({exc})", file=file, record=item.id, field=field
            ) from None
        if v not in shown:
            shown[v] = np.asarray(item.images[v].open())
        img = shown[v]
        if m.shape != img.shape[:2]:
            raise BadInputError(
                f"mask size {m.shape[1]}x{m.shape[0]} differs from image "
                f"{img.shape[1]}x{img.shape[0]} ({item.images[v].describe()})",
                file=file,
                record=item.id,
                field=field,
            )
        px = img[m]
        under.append([np.median(px, 0)] if len(px) else [])
    words = " ".join(texts).lower()
    banned = {c for c in PALETTE if re.search(rf"\b{c}\b", words)}
    rng = np.random.default_rng(zlib.crc32(item.id.encode("utf-8")))
    legibility = "full"
    colors = contrasting_colors(under, rng, banned=banned)
    if colors is None:
        legibility = "contrast relaxed"
        colors = contrasting_colors(under, rng, banned=banned, min_contrast=0.0)
    if colors is None:
        legibility = "contrast and separation relaxed"
        colors = contrasting_colors(under, rng, banned=banned, min_contrast=0, min_separation=0)
    if colors is None:
        raise BadInputError(
            f"{len(keys)} regions but too few overlay colours", file=file, record=item.id
        )
    color_of = dict(zip(keys, colors, strict=True))
    ph_colors = [color_of[(r["view"], r["object"])] for r in item.regions]
    it = iter(ph_colors)

    def sub(m: re.Match) -> str:
        c = next(it)
        phrase = m.group(0)
        out = c if phrase == "<region>" else f"{phrase[: -len('<region>')]}outlined in {c}"
        # a colour that opens a sentence is capitalised, as the native overlay text is
        opens = re.search(r"(^|[.?!]\s+)$", m.string[: m.start()]) is not None
        return out[0].upper() + out[1:] if opens else out

    question = _REGION_PHRASE.sub(sub, item.question)
    options = [_REGION_PHRASE.sub(sub, o) for o in item.options]
    answer = item.answer
    if item.answer_kind == "free":

        def name(m: re.Match) -> str:
            k = int(m.group(1)) - 1
            return ph_colors[k] if 0 <= k < len(ph_colors) else m.group(0)

        answer = _REGION_NAME.sub(name, answer)
    images = []
    for v, src in enumerate(item.images):
        marks = tuple((json.dumps(rle_of[k]), color_of[k]) for k in keys if k[0] == v)
        images.append(replace(src, overlay=marks) if marks else src)
    meta = dict(item.meta)
    if legibility != "full":
        meta["overlay_legibility"] = legibility
    return replace(
        item,
        question=question,
        options=options,
        answer=answer,
        images=images,
        regions=[],
        choice_kind=infer_choice_kind(options),
        meta=meta,
    )


# ---------------------------------------------------------------------------------------------
# CrossPoint-Bench JSONL


def _cp_item(rec: dict[str, Any], line_no: int, res: Resolver, protocol: str, fmt: str) -> EvalItem:
    f = res.file
    iid = _item_id(rec, ("idx", "id", "index"), line_no)
    where = f"line {line_no + 1} ({iid})"
    question = str(_need(rec, "question", f, where))
    qtype = str(_need(rec, "type", f, where))
    paths = _need(rec, "images", f, where)
    if isinstance(paths, str):
        paths = [paths]
    images = [
        res.image(p, where, f"images[{k}]", subdirs=("", "image")) for k, p in enumerate(paths)
    ]
    answer = str(_need(rec, "answer", f, where)).strip()
    options: list[str] = []
    for line in question.splitlines():
        m = _OPTION_RE.match(line)
        if m and m.group(1) == LETTERS[len(options)]:
            options.append(m.group(2))
    gold_mask = None
    if qtype in point_tasks() or len(answer) > 4:
        kind = "point"
        try:
            import base64
            import io

            from PIL import Image

            with Image.open(io.BytesIO(base64.b64decode(answer, validate=True))) as im:
                w, h = im.size
        except Exception:
            raise BadInputError(
                "answer of a coordinate item must be a base64 PNG mask",
                file=f,
                record=where,
                field="answer",
            ) from None
        # The point is asked in the last image (the target view); the mask has its size.
        gold_mask = GoldMask(view=len(images) - 1, width=w, height=h, png_b64=answer)
        options = []
        answer = "point"
    else:
        kind = "choice"
        answer = _check_letter(answer, len(options), f, where)
    level = rec.get("level")
    return EvalItem(
        id=iid,
        type=qtype,
        question=question,
        options=options,
        answer=answer,
        answer_kind=kind,
        images=images,
        categories=(qtype,),
        family="crosspoint",
        choice_kind=infer_choice_kind(options),
        gold_mask=gold_mask,
        options_in_question=True,
        meta={"level": level} if level is not None else {},
    )


# ---------------------------------------------------------------------------------------------
# VLMEvalKit-style TSV (MMVM, All-Angles Bench)


def _as_list(value: str) -> list[str]:
    v = value.strip()
    if v.startswith("["):
        try:
            parsed = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            return [v]
        return [str(x) for x in parsed] if isinstance(parsed, (list, tuple)) else [v]
    return [v]


def _labels(value: str) -> tuple[str, ...]:
    parts = _as_list(value)
    if len(parts) == 1:
        parts = re.split(r"[,;|]", parts[0])
    return tuple(p.strip() for p in parts if p.strip())


def _load_tsv(path: Path, res: Resolver) -> Iterator[EvalItem]:
    csv.field_size_limit(sys.maxsize)
    with path.open("r", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    if not rows:
        raise BadInputError("empty TSV file", file=path)
    header = [h.strip() for h in rows[0]]
    cols = {h: k for k, h in enumerate(header)}
    if "question" not in cols:
        raise BadInputError("TSV has no 'question' column", file=path, record="header")
    if "image" not in cols and "image_path" not in cols:
        raise BadInputError(
            "TSV has neither an 'image' nor an 'image_path' column", file=path, record="header"
        )
    option_cols = [c for c in LETTERS if c in cols]
    records = []
    for n, row in enumerate(rows[1:]):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise BadInputError(
                f"{len(row)} cells for {len(header)} columns", file=path, record=f"row {n}"
            )
        records.append((n, {h: row[k] for h, k in cols.items()}))
    # VLMEvalKit stores a repeated image once: a later row's `image` may hold another index.
    by_index = {r.get("index", ""): r.get("image", "") for _, r in records}
    for n, r in records:
        iid = r.get("index") or str(n)
        where = f"row {n} ({iid})"
        images: list[ImageSource] = []
        raw = r.get("image", "").strip()
        if raw and len(raw) <= 64 and len(by_index.get(raw, "")) > 64:
            raw = by_index[raw].strip()  # a reference to another row's image cell
        if raw:
            for k, b64 in enumerate(_as_list(raw)):
                if len(b64) <= 64:
                    raise BadInputError(
                        "image cell is neither base64 nor a known index",
                        file=path,
                        record=where,
                        field=f"image[{k}]",
                    )
                images.append(ImageSource(b64=b64))
        elif r.get("image_path", "").strip():
            images = [
                res.image(p, where, f"image_path[{k}]")
                for k, p in enumerate(_as_list(r["image_path"]))
            ]
        else:
            raise BadInputError("row has no image", file=path, record=where, field="image")
        options = []
        for c in option_cols:
            if r[c].strip() and r[c].strip().lower() != "nan":
                if c != LETTERS[len(options)]:
                    raise BadInputError(
                        "option columns must be contiguous from A", file=path, record=where, field=c
                    )
                options.append(r[c].strip())
        answer = str(r.get("answer", "")).strip()
        if not answer:
            raise BadInputError("missing answer", file=path, record=where, field="answer")
        kind = "choice" if options else "free"
        if kind == "choice":
            answer = _check_letter(answer, len(options), path, where)
        qtype = r.get("category") or r.get("l2-category") or "all"
        if r.get("match_type", "").strip():
            cats = _labels(r["match_type"])
        elif r.get("l2-category", "").strip():
            cats = (r["l2-category"].strip(),)
        else:
            cats = (qtype,)
        question = r["question"]
        if r.get("hint", "").strip() and r["hint"].strip().lower() != "nan":
            question = f"Hint: {r['hint'].strip()}\n{question}"
        meta = {k: r[k] for k in ("split", "l2-category", "match_type") if r.get(k)}
        yield EvalItem(
            id=iid,
            type=qtype,
            question=question,
            options=options,
            answer=answer,
            answer_kind=kind,
            images=images,
            categories=cats,
            family=path.stem,
            choice_kind=infer_choice_kind(options),
            meta=meta,
        )
