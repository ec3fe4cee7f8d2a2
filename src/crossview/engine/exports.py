"""Export a native dataset for training and for other tools (``crossview export``).

One exporter per format, registered by name with :func:`exporter`; :func:`export` runs one.
Every exporter writes into a folder ``out`` and reports what it wrote and what it skipped, with
the reason. Layouts and the conventions they follow are in docs/exports.md:

- ``llava``: ``llava.json``, LLaVA-style conversations with one ``<image>`` token per image;
- ``sharegpt``: ``sharegpt.json`` + ``dataset_info.json``, LLaMA-Factory's multimodal
  ShareGPT (``messages`` with ``role`` / ``content``, ``images``);
- ``qwen``: ``qwen.jsonl``, Qwen-VL chat messages with content lists;
- ``parquet``: ``<split>.parquet``, one row per question with image bytes, typed for
  Hugging Face ``datasets`` (images decode as ``PIL`` images);
- ``crossviewer``: ``crossviewer.jsonl``, the public CrossViewer JSONL (mask-grounded items);
- ``crosspoint``: the CrossPoint-Bench layout (:mod:`crossview.engine.crosspoint_bench`).

The conversation formats and Parquet show what an ordinary multi-image model sees under one
protocol: ``auto`` takes each record's ``overlay`` protocol, else ``marker``, else ``region``
(the evaluation harness's rule). Images are linked (hard links; copies across file systems)
into ``out`` under the same relative paths they have in the dataset, so ``out`` is the image
folder of every path an export writes.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossview.dataset.record import Record
from crossview.errors import BadInputError, require
from crossview.eval.items import LETTERS
from crossview.files import atomic_write, temp_beside
from crossview.scene.store import iter_jsonl, link_or_copy

PROTOCOLS = ("auto", "overlay", "marker", "region")
IMAGE_TOKEN = "<image>"


@dataclass
class ExportReport:
    """What an export wrote.

    Attributes:
        format: the exporter's name.
        out: the folder written.
        files: the files written besides images (the export's entry points).
        written: items written.
        by_type: items written per question type.
        skipped: items selected but not exportable in this format: reason -> count.
        images: image files linked or copied into ``out`` (Parquet: images embedded).
    """

    format: str
    out: Path
    files: list[Path] = field(default_factory=list)
    written: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    images: int = 0

    def skip(self, reason: str) -> None:
        """Count one skipped item under ``reason``."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def add(self, question_type: str) -> None:
        """Count one written item."""
        self.written += 1
        self.by_type[question_type] = self.by_type.get(question_type, 0) + 1


@dataclass(frozen=True)
class ExportOptions:
    """Settings shared by every exporter.

    Attributes:
        protocol: ``auto``, ``overlay``, ``marker`` or ``region``: whose text and images to write.
        split: only records of this split (``train``, ...); every split when None.
        include_open: also export the open-ended variants.
    """

    protocol: str = "auto"
    split: str | None = None
    include_open: bool = True


ExportFn = Callable[[Path, Path, ExportOptions, ExportReport], None]


@dataclass(frozen=True)
class Exporter:
    """A registered format: its name, one line of help and the function that writes it."""

    name: str
    help: str
    fn: ExportFn


_EXPORTERS: dict[str, Exporter] = {}


def exporter(name: str, help: str) -> Callable[[ExportFn], ExportFn]:
    """Register ``fn(dataset, out, options, report)`` as the exporter of format ``name``."""

    def deco(fn: ExportFn) -> ExportFn:
        if name in _EXPORTERS:
            raise ValueError(f"exporter {name!r} registered twice")
        _EXPORTERS[name] = Exporter(name, help, fn)
        return fn

    return deco


def export_formats() -> list[str]:
    """Names of the registered formats."""
    return list(_EXPORTERS)


def get_exporter(name: str) -> Exporter:
    """The exporter registered as ``name``; BadInputError listing the valid names otherwise."""
    if name not in _EXPORTERS:
        raise BadInputError(
            f"unknown export format {name!r}; valid: {', '.join(_EXPORTERS)}", field="format"
        )
    return _EXPORTERS[name]


def export(
    dataset: str | Path,
    fmt: str,
    out: str | Path,
    *,
    protocol: str = "auto",
    split: str | None = None,
    include_open: bool = True,
) -> ExportReport:
    """Export the native dataset folder ``dataset`` in format ``fmt`` into the folder ``out``.

    Args:
        dataset: a dataset folder (with ``questions.jsonl``).
        fmt: a registered format (:func:`export_formats`).
        out: the folder to write (created; may be the dataset folder itself).
        protocol: whose question text and images the conversation formats and Parquet carry:
            ``auto`` (each record's overlay protocol, else marker, else region), or one name.
        split: only this split; all when None.
        include_open: also export the open-ended variants.

    Raises:
        BadInputError: unknown format or protocol, no dataset, a corrupt record, a missing image.
        MissingExtraError: Parquet without pyarrow (the ``export`` extra).
    """
    ex = get_exporter(fmt)
    if protocol not in PROTOCOLS:
        raise BadInputError(
            f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}", field="protocol"
        )
    dataset, out = Path(dataset), Path(out)
    if not (dataset / "questions.jsonl").is_file():
        raise BadInputError(
            "no questions.jsonl (is this a dataset folder?)", file=dataset / "questions.jsonl"
        )
    if out.exists() and not out.is_dir():
        raise BadInputError("output exists and is not a folder", file=out)
    out.mkdir(parents=True, exist_ok=True)
    report = ExportReport(format=fmt, out=out)
    ex.fn(dataset, out, ExportOptions(protocol, split, include_open), report)
    return report


# ------------------------------------------------------------------------------ shared


def read_records(dataset: Path, options: ExportOptions) -> Iterator[Record]:
    """Stream the records of ``dataset/questions.jsonl`` that ``options`` select, parsed
    and checked (:meth:`Record.from_json`: a malformed record names file, line and field)."""
    file = dataset / "questions.jsonl"
    for n, obj in iter_jsonl(file):
        rec = Record.from_json(obj, file, f"line {n + 1}")
        if options.split is not None and rec.split != options.split:
            continue
        if rec.open_ended and not options.include_open:
            continue
        yield rec


@dataclass
class View:
    """A record as one protocol shows it to an ordinary multi-image model.

    ``images`` are paths relative to the dataset folder, one per view; ``options`` read
    ``"A. text"``; ``answer`` is the gold letter, the normalised free answer, or ``point``;
    ``reply`` is the assistant turn a trainer learns: ``"B. <option text>"`` for multiple
    choice, the answer for open-ended items, ``"(x, y)"`` (the gold point, pixels of the
    asked image, rounded) for coordinate items.
    """

    id: str
    protocol: str
    question: str
    options: list[str]
    images: list[str]
    answer: str
    answer_kind: str
    reply: str


def protocol_view(r: Record, protocol: str) -> View | None:
    """The record under ``protocol`` (``auto``: overlay, else marker, else region), or None
    when the record does not carry that protocol."""
    pv = r.view(protocol)
    if pv is None:
        return None
    if r.answer_kind == "choice":
        idx = ord(pv.answer) - ord("A") if len(pv.answer) == 1 else -1
        reply = pv.options[idx] if 0 <= idx < len(pv.options) else pv.answer
    elif r.answer_kind == "point":
        point = (r.gold or {}).get("point")
        reply = f"({round(point[0])}, {round(point[1])})" if point else pv.answer
    else:
        reply = pv.answer
    return View(
        id=r.sample_id,
        protocol=pv.protocol,
        question=pv.question,
        options=pv.options,
        images=pv.images,
        answer=pv.answer,
        answer_kind=r.answer_kind,
        reply=reply,
    )


def prompt_text(view: View) -> str:
    """The question followed by its options, one per line."""
    return "\n".join([view.question, *view.options])


def answer_fields(rec: Record, view: View) -> dict[str, Any]:
    """Fields kept beside a conversation so the gold can be checked without parsing text."""
    out = {
        "answer": view.answer,
        "answer_kind": view.answer_kind,
        "question_type": rec.question_type,
        "family": rec.family,
        "split": rec.split or "",
        "protocol": view.protocol,
    }
    if view.answer_kind == "point":
        out["gold"] = rec.gold
    return out


class ImagePlacer:
    """Make dataset images part of an export: ``out/<rel>`` for ``dataset/<rel>``, hard-linked
    (no extra space) or copied across file systems; each file once."""

    def __init__(self, dataset: Path, out: Path, report: ExportReport) -> None:
        self.dataset, self.out, self.report = dataset.resolve(), out.resolve(), report
        self.done: set[str] = set()

    def source(self, rel: str, record: str) -> Path:
        """The dataset file of ``rel``; BadInputError if it leaves the dataset or is missing."""
        src = (self.dataset / rel).resolve()
        if Path(rel).is_absolute() or not src.is_relative_to(self.dataset):
            raise BadInputError(
                f"image path {rel!r} leaves the dataset folder", file=self.dataset, record=record
            )
        if not src.is_file():
            raise BadInputError(f"image {rel!r} not found", file=self.dataset, record=record)
        return src

    def place(self, rel: str, record: str) -> str:
        """Put the image ``rel`` into the export and return its path there (the same ``rel``)."""
        src = self.source(rel, record)
        if rel in self.done:
            return rel
        self.done.add(rel)
        dst = self.out / rel
        if dst == src or dst.exists():
            return rel
        link_or_copy(src, dst)
        self.report.images += 1
        return rel


class JsonListWriter:
    """Write a JSON list one item at a time (memory stays flat for millions of items)."""

    def __init__(self, path: Path) -> None:
        self.path, self.tmp = path, temp_beside(path)
        self.fh = open(self.tmp, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.fh.write("[")
        self.n = 0

    def add(self, item: dict[str, Any]) -> None:
        """Append one item."""
        self.fh.write(("\n" if self.n == 0 else ",\n") + json.dumps(item, ensure_ascii=False))
        self.n += 1

    def close(self) -> None:
        """Finish the list and move it into place."""
        self.fh.write("\n]\n")
        self.fh.close()
        self.tmp.replace(self.path)


def _conversations(
    dataset: Path,
    out: Path,
    options: ExportOptions,
    report: ExportReport,
    make: Callable[[dict[str, Any], View, list[str]], dict[str, Any]],
    path: Path,
) -> None:
    """Shared loop of the conversation formats: select, view, place images, write one item."""
    placer = ImagePlacer(dataset, out, report)
    jsonl = path.suffix == ".jsonl"
    writer = None if jsonl else JsonListWriter(path)
    with ExitStack() as stack:
        fh = stack.enter_context(atomic_write(path)) if jsonl else None
        for rec in read_records(dataset, options):
            view = protocol_view(rec, options.protocol)
            if view is None:
                report.skip(f"no {options.protocol} protocol")
                continue
            images = [placer.place(p, view.id) for p in view.images]
            item = make(rec, view, images)
            if fh is not None:
                fh.write(json.dumps(item, ensure_ascii=False) + "\n")
            else:
                assert writer is not None
                writer.add(item)
            report.add(rec.question_type)
    if writer is not None:
        writer.close()
    report.files.append(path)


# ------------------------------------------------------------------------------ formats


@exporter("llava", "LLaVA conversations: llava.json, one <image> token per image")
def export_llava(dataset: Path, out: Path, options: ExportOptions, report: ExportReport) -> None:
    """``llava.json``: ``[{"id", "image": [paths], "conversations": [human, gpt], ...}]``.

    Image paths are relative to ``out`` (LLaVA's ``--image_folder``). The human turn starts
    with one ``<image>`` line per image, in the order of ``image``; the gpt turn is the reply
    (:class:`View`); the gold letter and kind are kept in ``answer`` / ``answer_kind``.
    """

    def make(rec: Record, view: View, images: list[str]) -> dict[str, Any]:
        human = "".join(f"{IMAGE_TOKEN}\n" for _ in images) + prompt_text(view)
        return {
            "id": view.id,
            "image": images,
            "conversations": [
                {"from": "human", "value": human},
                {"from": "gpt", "value": view.reply},
            ],
            **answer_fields(rec, view),
        }

    _conversations(dataset, out, options, report, make, out / "llava.json")


SHAREGPT_INFO = {
    "formatting": "sharegpt",
    "columns": {"messages": "messages", "images": "images"},
    "tags": {
        "role_tag": "role",
        "content_tag": "content",
        "user_tag": "user",
        "assistant_tag": "assistant",
    },
}


@exporter("sharegpt", "LLaMA-Factory multimodal ShareGPT: sharegpt.json + dataset_info.json")
def export_sharegpt(dataset: Path, out: Path, options: ExportOptions, report: ExportReport) -> None:
    """``sharegpt.json``: ``[{"messages": [user, assistant], "images": [paths], ...}]`` and a
    ``dataset_info.json`` registering it as ``crossview`` (LLaMA-Factory's ``dataset_dir``).

    As LLaMA-Factory's ``mllm_demo``: the user content holds one ``<image>`` per entry of
    ``images`` (same order); paths are relative to ``out``.
    """

    def make(rec: Record, view: View, images: list[str]) -> dict[str, Any]:
        return {
            "id": view.id,
            "messages": [
                {"role": "user", "content": IMAGE_TOKEN * len(images) + prompt_text(view)},
                {"role": "assistant", "content": view.reply},
            ],
            "images": images,
            **answer_fields(rec, view),
        }

    _conversations(dataset, out, options, report, make, out / "sharegpt.json")
    info = out / "dataset_info.json"
    have = json.loads(info.read_text(encoding="utf-8")) if info.is_file() else {}
    have["crossview"] = {"file_name": "sharegpt.json", **SHAREGPT_INFO}
    info.write_text(json.dumps(have, indent=2) + "\n", encoding="utf-8")
    report.files.append(info)


@exporter("qwen", "Qwen-VL chat messages with content lists: qwen.jsonl")
def export_qwen(dataset: Path, out: Path, options: ExportOptions, report: ExportReport) -> None:
    """``qwen.jsonl``: ``{"id", "messages": [user, assistant], ...}`` per line.

    The user content is ``[{"type": "image", "image": path}, ..., {"type": "text", "text":
    question and options}]`` (images first, in order), the assistant content
    ``[{"type": "text", "text": reply}]``: the shape ``processor.apply_chat_template`` and
    ``qwen_vl_utils.process_vision_info`` take. Paths are relative to ``out``.
    """

    def make(rec: Record, view: View, images: list[str]) -> dict[str, Any]:
        content: list[dict[str, str]] = [{"type": "image", "image": p} for p in images]
        content.append({"type": "text", "text": prompt_text(view)})
        return {
            "id": view.id,
            "messages": [
                {"role": "user", "content": content},
                {"role": "assistant", "content": [{"type": "text", "text": view.reply}]},
            ],
            **answer_fields(rec, view),
        }

    _conversations(dataset, out, options, report, make, out / "qwen.jsonl")


# Hugging Face `datasets` features of the Parquet columns, written into the file's schema
# metadata (key "huggingface") so that `load_dataset("parquet", ...)` decodes `images` as a
# list of PIL images with no `features=` argument. "Sequence" is read by datasets 2.x - 5.x.
_STR = {"dtype": "string", "_type": "Value"}
PARQUET_FEATURES: dict[str, Any] = {
    "id": _STR,
    "question_type": _STR,
    "family": _STR,
    "split": _STR,
    "protocol": _STR,
    "question": _STR,
    "options": {"feature": _STR, "_type": "Sequence"},
    "answer": _STR,
    "answer_kind": _STR,
    "reply": _STR,
    "images": {"feature": {"_type": "Image"}, "_type": "Sequence"},
    "record": _STR,
}
PARQUET_BATCH = 256


def parquet_schema(pa: Any) -> Any:
    """The Arrow schema of an export row, with the ``datasets`` features as metadata."""
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    types = {"options": pa.list_(pa.string()), "images": pa.list_(image)}
    fields = [pa.field(k, types.get(k, pa.string())) for k in PARQUET_FEATURES]
    meta = {"huggingface": json.dumps({"info": {"features": PARQUET_FEATURES}})}
    return pa.schema(fields, metadata=meta)


@exporter("parquet", "Parquet with image bytes for Hugging Face datasets: <split>.parquet")
def export_parquet(dataset: Path, out: Path, options: ExportOptions, report: ExportReport) -> None:
    """``<split>.parquet`` per split: one row per question, images as ``{"bytes", "path"}``.

    Columns: id, question_type, family, split, protocol, question, options (``"A. text"``),
    answer, answer_kind, reply, images (the protocol's images, bytes of the files), record
    (the native record as JSON). Rows are written in batches; row groups hold
    ``PARQUET_BATCH`` rows.
    """
    pa = require("pyarrow", "export", "Parquet export")
    pq = require("pyarrow.parquet", "export", "Parquet export")
    schema = parquet_schema(pa)
    placer = ImagePlacer(dataset, out, report)  # resolves and checks paths; writes no files
    writers: dict[str, Any] = {}
    batches: dict[str, list[dict[str, Any]]] = {}

    def flush(split: str) -> None:
        rows = batches.pop(split, [])
        if not rows:
            return
        if split not in writers:
            tmp = temp_beside(out / f"{split}.parquet")
            writers[split] = (pq.ParquetWriter(tmp, schema), tmp)
        writers[split][0].write_table(pa.Table.from_pylist(rows, schema=schema))

    try:
        for rec in read_records(dataset, options):
            view = protocol_view(rec, options.protocol)
            if view is None:
                report.skip(f"no {options.protocol} protocol")
                continue
            split = rec.split or "train"
            images = [
                {"bytes": placer.source(p, view.id).read_bytes(), "path": p} for p in view.images
            ]
            batches.setdefault(split, []).append(
                {
                    "id": view.id,
                    "question_type": rec.question_type,
                    "family": rec.family,
                    "split": split,
                    "protocol": view.protocol,
                    "question": view.question,
                    "options": view.options,
                    "answer": view.answer,
                    "answer_kind": view.answer_kind,
                    "reply": view.reply,
                    "images": images,
                    "record": json.dumps(rec.to_json(), sort_keys=True),
                }
            )
            report.add(rec.question_type)
            report.images += len(images)
            if len(batches[split]) >= PARQUET_BATCH:
                flush(split)
        for split in list(batches):
            flush(split)
    finally:
        for writer, _ in writers.values():
            writer.close()
    for split, (_, tmp) in sorted(writers.items()):
        path = out / f"{split}.parquet"
        tmp.replace(path)
        report.files.append(path)


@exporter("crossviewer", "the public CrossViewer JSONL (mask-grounded items): crossviewer.jsonl")
def export_crossviewer(
    dataset: Path, out: Path, options: ExportOptions, report: ExportReport
) -> None:
    """``crossviewer.jsonl`` in the public CrossViewer schema, images under ``out``.

    Fields: sample_id, question_type, question (with ``<region>``), options (``"A. text"``),
    answer, views (``image_path`` relative to ``out``, the data root; ``objects`` with
    ``mask_rle``, ``bbox_xyxy``, ``track_id``), region_refs. Only mask-grounded items fit:
    items without ``<region>`` references and coordinate items are skipped (counted).
    The text is always the region protocol's.
    """
    if options.protocol not in ("auto", "region"):
        raise BadInputError(
            f"the CrossViewer format carries the region protocol only, not {options.protocol!r}",
            field="protocol",
        )
    placer = ImagePlacer(dataset, out, report)
    path = out / "crossviewer.jsonl"
    with atomic_write(path) as fh:
        for rec in read_records(dataset, options):
            if not rec.region_refs:
                report.skip("not mask-grounded (no <region> references)")
                continue
            if rec.answer_kind == "point":
                report.skip("coordinate answer (CrossViewer items are choice or free text)")
                continue
            views = [
                {
                    "image_path": placer.place(v["image_path"], rec.sample_id),
                    "objects": [
                        {k: o[k] for k in ("mask_rle", "bbox_xyxy", "track_id")}
                        for o in v.get("objects", [])
                    ],
                }
                for v in rec.views
            ]
            item = {
                "sample_id": rec.sample_id,
                "question_type": rec.question_type,
                "question": rec.question,
                "options": rec.options,
                "answer": rec.answer,
                "views": views,
                "region_refs": rec.region_refs,
            }
            fh.write(json.dumps(item) + "\n")
            report.add(rec.question_type)
    report.files.append(path)


@exporter("crosspoint", "the CrossPoint-Bench layout: CrossPoint-Bench.jsonl + image/")
def export_crosspoint(
    dataset: Path, out: Path, options: ExportOptions, report: ExportReport
) -> None:
    """The CrossPoint family in the published layout (:func:`write_crosspoint_bench`).

    Only the marker protocol exists there; other families and open-ended variants are
    skipped (counted).
    """
    from crossview.engine.crosspoint_bench import write_crosspoint_bench

    if options.protocol not in ("auto", "marker"):
        raise BadInputError(
            f"CrossPoint-Bench carries the marker protocol only, not {options.protocol!r}",
            field="protocol",
        )
    counts: Counter = Counter()
    for rec in read_records(dataset, options):
        if rec.family != "crosspoint":
            report.skip("not in the CrossPoint family")
        elif rec.open_ended:
            report.skip("open-ended variant (CrossPoint-Bench has none)")
        else:
            counts[rec.question_type] += 1
    path = write_crosspoint_bench(dataset, out, split=options.split)
    report.written = sum(counts.values())
    report.by_type = dict(counts)
    report.images = sum(1 for _ in (out / "image").iterdir())
    report.files.append(path)


VLMEVALKIT_NAME = "CrossViewBench"
"""Default dataset name of the VLMEvalKit export: ``--data CrossViewBench`` in VLMEvalKit."""


@exporter("vlmevalkit", "VLMEvalKit custom multiple-choice TSV: CrossViewBench.tsv")
def export_vlmevalkit(
    dataset: Path, out: Path, options: ExportOptions, report: ExportReport
) -> None:
    """``CrossViewBench.tsv`` in the layout VLMEvalKit's custom MCQ path reads.

    VLMEvalKit (``vlmeval/dataset/image_base.py``, ``image_mcq.py``: ``CustomMCQDataset`` reads
    ``$LMUData/<name>.tsv``) takes one row per question with columns ``index``, ``image``
    (base64; several images as the text of a Python list of base64 strings, each unpacked with
    its ``toliststr``), ``image_path`` (the file names the images are decoded to, a list with
    several images: its ``dump_image`` requires it then), ``question``, option columns ``A``,
    ``B``, ... (empty beyond an item's options), ``answer`` (letter), ``category`` and
    ``l2-category``, ``split``. We write ``category`` = question type, ``l2-category`` =
    family. Only multiple-choice items fit (open-ended and coordinate items are skipped,
    counted); images are those the protocol shows (``auto``: overlays or markers), PNG bytes.
    The file reads back with ``crossview eval --bench DIR/CrossViewBench.tsv``.
    """
    import base64
    import csv

    from crossview.eval.loaders import split_options

    placer = ImagePlacer(dataset, out, report)  # resolves and checks paths; writes no files
    rows: list[dict[str, str]] = []
    width = 0
    for rec in read_records(dataset, options):
        view = protocol_view(rec, options.protocol)
        if view is None:
            report.skip(f"no {options.protocol} protocol")
            continue
        if view.answer_kind != "choice":
            report.skip(f"{view.answer_kind} answer (the MCQ format holds letter answers only)")
            continue
        b64 = [
            base64.b64encode(placer.source(p, view.id).read_bytes()).decode("ascii")
            for p in view.images
        ]
        names = [f"{view.id}_{k}{Path(p).suffix or '.png'}" for k, p in enumerate(view.images)]
        row = {
            "index": view.id,
            "image": b64[0] if len(b64) == 1 else repr(b64),
            "image_path": names[0] if len(names) == 1 else repr(names),
            "question": view.question,
            "answer": view.answer,
            "category": rec.question_type,
            "l2-category": rec.family,
            "split": rec.split or "",
        }
        texts = split_options(view.options, dataset / "questions.jsonl", view.id, "options")
        row.update(zip(LETTERS, texts, strict=False))
        width = max(width, len(view.options))
        rows.append(row)
        report.add(rec.question_type)
        report.images += len(b64)
    head = ["index", "image", "image_path", "question", *LETTERS[:width], "answer"]
    head += ["category", "l2-category", "split"]
    path = out / f"{VLMEVALKIT_NAME}.tsv"
    csv.field_size_limit(sys.maxsize)
    with atomic_write(path, newline="") as fh:
        w = csv.DictWriter(fh, head, delimiter="\t", restval="", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    report.files.append(path)


LMMS_EVAL_TASK = "crossviewbench"
"""Task name (and folder) of the lmms-eval export: ``--tasks crossviewbench`` in lmms-eval."""


@exporter("lmms-eval", "an lmms-eval task folder: crossviewbench/ (YAML, utils.py, Parquet)")
def export_lmms_eval(
    dataset: Path, out: Path, options: ExportOptions, report: ExportReport
) -> None:
    """``DIR/crossviewbench/``: a task lmms-eval loads from its folder, scored by crossview.

    Files: ``<split>.parquet`` (the Parquet export, one per split), ``crossviewbench.yaml``
    (``dataset_path: parquet`` with ``data_files`` relative to the YAML, which lmms-eval 0.7
    resolves against the task folder; ``test_split`` the ``test`` split when there is one;
    ``output_type: generate_until``; greedy decoding; an ``accuracy`` metric and an
    ``acc_<type>`` metric per question type) and ``utils.py``
    (:mod:`crossview.engine.lmms_eval_task`: the prompt, extraction and scoring of
    ``crossview eval``). Copy the folder into ``lmms_eval/tasks/`` (or pass
    ``--include_path DIR``) and run ``--tasks crossviewbench``.
    """
    from crossview.engine import lmms_eval_task

    yaml = require("yaml", "export", "the lmms-eval task export")
    task_dir = out / LMMS_EVAL_TASK
    task_dir.mkdir(parents=True, exist_ok=True)
    export_parquet(dataset, task_dir, options, report)
    splits = sorted(p.stem for p in report.files)
    if not splits:
        raise BadInputError("no item to export for lmms-eval", file=dataset / "questions.jsonl")
    types = sorted(report.by_type)
    config = {
        "task": LMMS_EVAL_TASK,
        "dataset_path": "parquet",
        "dataset_kwargs": {"data_files": {s: f"{s}.parquet" for s in splits}},
        "test_split": "test" if "test" in splits else splits[0],
        "output_type": "generate_until",
        "doc_to_visual": "!function utils.doc_to_visual",
        "doc_to_text": "!function utils.doc_to_text",
        "doc_to_target": "!function utils.doc_to_target",
        "generation_kwargs": {
            "max_new_tokens": 256,
            "temperature": 0,
            "top_p": 1.0,
            "num_beams": 1,
            "do_sample": False,
        },
        "process_results": "!function utils.process_results",
        "metric_list": [
            {
                "metric": name,
                "aggregation": f"!function utils.aggregate_{name}",
                "higher_is_better": True,
            }
            for name in ["accuracy", *(f"acc_{lmms_eval_task.slug(t)}" for t in types)]
        ],
        "lmms_eval_specific_kwargs": {"default": {"pre_prompt": "", "post_prompt": ""}},
        "metadata": {"version": 1.0, "source": "crossview export --format lmms-eval"},
    }
    text = yaml.safe_dump(config, sort_keys=False, width=100)
    text = re.sub(r"'(!function [\w.]+)'", r"\1", text)  # a tag, not a string
    yaml_path = task_dir / f"{LMMS_EVAL_TASK}.yaml"
    yaml_path.write_text(text, encoding="utf-8")
    source = Path(lmms_eval_task.__file__).read_text(encoding="utf-8")
    source = source.replace("METRIC_TYPES: list[str] = []", f"METRIC_TYPES: list[str] = {types!r}")
    (task_dir / "utils.py").write_text(source, encoding="utf-8")
    report.files += [yaml_path, task_dir / "utils.py"]
