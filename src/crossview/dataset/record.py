"""The dataset record: one question of a ``questions.jsonl``, with its protocol views.

Every writer (the region / overlay and marker builders, the tiny test datasets) builds a
:class:`Record` and writes :meth:`Record.to_json`; every reader (the harness's loaders, the
exports, the oracle, the CrossPoint-Bench writer, the CrossViewer data) reads
:meth:`Record.from_json` and asks :meth:`Record.view` for what a protocol shows. The defaults
for fields a record may leave out are decided here and documented in docs/dataset-format.md.

A record's images are paths relative to the dataset folder; nothing here opens a file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossview.errors import BadInputError

ANSWER_KINDS = ("choice", "free", "point")
"""``choice``: an option letter; ``free``: a short open answer; ``point``: pixel coordinates
scored inside a gold mask."""

PROTOCOLS = ("region", "overlay", "marker")
"""How a record shows what it refers to: ``region`` (the question's ``<region>`` tokens and
the per-view masks, for models that take regions), ``overlay`` (coloured masks drawn into the
images), ``marker`` (dots and arrows drawn into the images)."""

_KNOWN = (
    "sample_id", "question_type", "family", "category", "task_name", "question", "options",
    "answer", "answer_kind", "answer_text", "open_ended", "views", "region_refs", "choices",
    "protocols", "gold", "split", "provenance", "meta", "level", "paraphrases",
)  # fmt: skip


def default_answer_kind(options: list[Any]) -> str:
    """The answer kind of a record that does not state one: ``choice`` with options, else
    ``free`` (a coordinate record always states ``point``)."""
    return "choice" if options else "free"


def auto_protocol(available: Iterable[str]) -> str:
    """What an ordinary multi-image model is shown (``--protocol auto``): the overlays of a
    mask-grounded record, the markers of a point / arrow / camera record, else the region
    text."""
    have = set(available)
    return next((p for p in ("overlay", "marker") if p in have), "region")


@dataclass(frozen=True)
class ProtocolView:
    """A record as one protocol shows it.

    Attributes:
        protocol: ``region``, ``overlay`` or ``marker``.
        question: the question text under this protocol.
        options: the options as shown, ``"A. text"``, in letter order.
        images: dataset-relative image paths, one per view, in image order.
        answer: the gold letter (choice), the normalised open answer under this protocol
            (free: an overlay names objects by colour), or ``point``.
        paraphrases: other wordings of the question under this protocol, or None.
        field: where in the record the view's fields live (``""`` for the region protocol,
            ``protocols.overlay`` otherwise), for error messages.
    """

    protocol: str
    question: str
    options: list[str]
    images: list[str]
    answer: str
    paraphrases: list[str] | None = None
    field: str = ""

    def image_field(self, k: int) -> str:
        """The record field that holds image ``k`` of this view."""
        if self.protocol == "region":
            return f"views[{k}].image_path"
        return f"{self.field}.images[{k}]"


@dataclass
class Record:
    """One question of a dataset (``questions.jsonl`` line), as docs/dataset-format.md lays out.

    Attributes mirror the JSON fields. Left out in a file, they default to: ``family`` and
    ``category`` empty (readers show the question type), ``answer_kind`` by
    :func:`default_answer_kind`, ``open_ended`` False, ``options`` / ``region_refs`` empty,
    ``protocols`` only the region protocol, ``gold`` None. ``extra`` keeps fields this version
    does not know, so that reading and writing a record loses nothing.
    """

    sample_id: str
    question_type: str
    question: str
    answer: str
    views: list[dict[str, Any]]
    options: list[str] = field(default_factory=list)
    answer_kind: str = "choice"
    family: str = ""
    category: str = ""
    task_name: str = ""
    answer_text: str | None = None
    open_ended: bool = False
    region_refs: list[list[int]] = field(default_factory=list)
    choices: dict[str, Any] | None = None
    protocols: dict[str, dict[str, Any]] = field(default_factory=dict)
    gold: dict[str, Any] | None = None
    split: str | None = None
    provenance: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    level: str | None = None
    paraphrases: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------------------- json

    @classmethod
    def from_json(
        cls,
        obj: Any,
        file: str | Path | None = None,
        where: str | None = None,
        id_keys: tuple[str, ...] = ("sample_id",),
        default_id: str | None = None,
    ) -> Record:
        """Parse and check one record; BadInputError names ``file``, ``where`` and the field.

        Args:
            obj: the decoded JSON object.
            file, where: the file and the record's place in it (``line 3 (cv-002)``).
            id_keys: fields tried in turn for the record's id (a CrossViewer file says ``id``).
            default_id: the id of a record that has none of ``id_keys`` (the harness numbers
                such records by line); without it such a record is an error.
        """
        if not isinstance(obj, dict):
            raise BadInputError("a record must be a JSON object", file=file, record=where)
        sid = next((obj[k] for k in id_keys if obj.get(k) not in (None, "")), default_id)
        if sid is None:
            raise BadInputError(
                f"missing field '{id_keys[0]}'", file=file, record=where, field=id_keys[0]
            )

        def need(key: str) -> Any:
            if obj.get(key) is None:
                raise BadInputError(f"missing field '{key}'", file=file, record=where, field=key)
            return obj[key]

        views = need("views")
        if not isinstance(views, list) or not views:
            raise BadInputError(
                "views must be a non-empty list", file=file, record=where, field="views"
            )
        options = obj.get("options") or []
        _check_strings(options, file, where, "options")
        kind = obj.get("answer_kind") or default_answer_kind(options)
        if kind not in ANSWER_KINDS:
            raise BadInputError(
                f"unknown answer_kind {kind!r}", file=file, record=where, field="answer_kind"
            )
        protocols = obj.get("protocols") or {}
        if not isinstance(protocols, dict) or not all(
            isinstance(v, dict) for v in protocols.values()
        ):
            raise BadInputError(
                "protocols must map a protocol name to an object",
                file=file,
                record=where,
                field="protocols",
            )
        para = obj.get("paraphrases")
        _check_strings(para, file, where, "paraphrases")
        question = need("question")
        answer = need("answer")
        return cls(
            sample_id=str(sid),
            question_type=str(need("question_type")),
            question=str(question),
            answer=str(answer),
            views=views,
            options=list(options),
            answer_kind=kind,
            family=str(obj.get("family") or ""),
            category=str(obj.get("category") or ""),
            task_name=str(obj.get("task_name") or ""),
            answer_text=obj.get("answer_text"),
            open_ended=bool(obj.get("open_ended", False)),
            region_refs=list(obj.get("region_refs") or []),
            choices=obj.get("choices"),
            protocols=protocols,
            gold=obj.get("gold"),
            split=obj.get("split"),
            provenance=obj.get("provenance"),
            meta=obj.get("meta"),
            level=obj.get("level"),
            paraphrases=para,
            extra={k: v for k, v in obj.items() if k not in _KNOWN and k not in id_keys},
        )

    def to_json(self) -> dict[str, Any]:
        """The record as written to ``questions.jsonl`` (``level`` and ``paraphrases`` only when
        set; unknown fields read from a file are kept)."""
        out: dict[str, Any] = {
            "sample_id": self.sample_id,
            "question_type": self.question_type,
            "family": self.family,
            "category": self.category,
            "task_name": self.task_name,
            "question": self.question,
            "options": self.options,
            "answer": self.answer,
            "answer_kind": self.answer_kind,
            "answer_text": self.answer_text,
            "open_ended": self.open_ended,
            "views": self.views,
            "region_refs": self.region_refs,
            "choices": self.choices,
            "protocols": self.protocols,
            "gold": self.gold,
            "split": self.split,
            "provenance": self.provenance,
            "meta": self.meta,
        }
        if self.level is not None:
            out["level"] = self.level
        if self.paraphrases is not None:
            out["paraphrases"] = self.paraphrases
        out.update(self.extra)
        return out

    # ---------------------------------------------------------------------------- views

    @property
    def scene_id(self) -> str | None:
        """The scene the record was made from (provenance, else its first view), or None."""
        sid = (self.provenance or {}).get("scene_id") or self.views[0].get("scene_id")
        return None if sid is None else str(sid)

    def choice_kind(self) -> str | None:
        """How a model may name an option besides its letter, read from the record's
        ``choices`` block: ``image`` when every option is a view (``choices.views``),
        ``yesno`` when the labels are yes and no, ``color`` when every label is the colour of a
        drawn mark (``protocols.*.marks``), else ``letter``; ``letter`` for a record without
        options. None when a choice record has no ``choices`` block (a published file): the
        reader then goes by the options' wording."""
        if not self.options:
            return "letter"
        if not self.choices:
            return None
        views = self.choices.get("views") or []
        labels = [str(x).lower() for x in self.choices.get("labels") or [] if x is not None]
        n = len(self.options)
        if len(views) == n and all(v is not None for v in views):
            return "image"
        if len(labels) == n == 2 and sorted(labels) == ["no", "yes"]:
            return "yesno"
        marked = {
            str(m.get("color")).lower()
            for entry in self.protocols.values()
            for m in entry.get("marks") or []
            if isinstance(m, dict) and m.get("color")
        }
        if len(labels) == n and len(set(labels)) == n and set(labels) <= marked:
            return "color"
        return "letter"

    def available(self) -> list[str]:
        """The protocols this record carries: ``region`` and those under ``protocols``."""
        return ["region", *sorted(self.protocols)]

    def resolve(self, protocol: str) -> str:
        """``protocol`` with ``auto`` replaced by :func:`auto_protocol` of this record."""
        return auto_protocol(self.protocols) if protocol == "auto" else protocol

    def view(
        self, protocol: str, file: str | Path | None = None, where: str | None = None
    ) -> ProtocolView | None:
        """The record under ``protocol`` (``auto`` allowed), or None when it does not carry it.

        Raises:
            BadInputError: a protocol entry that lacks its question or images, has one image
                per view too few or many, or malformed options / paraphrases.
        """
        protocol = self.resolve(protocol)
        if protocol == "region":
            images = []
            for k, v in enumerate(self.views):
                p = v.get("image_path") if isinstance(v, dict) else None
                if p is None:
                    raise BadInputError(
                        "missing field 'image_path'",
                        file=file,
                        record=where,
                        field=f"views[{k}].image_path",
                    )
                images.append(str(p))
            return ProtocolView(
                "region", self.question, list(self.options), images, self.answer, self.paraphrases
            )
        entry = self.protocols.get(protocol)
        if entry is None:
            return None
        base = f"protocols.{protocol}"
        for key in ("question", "images"):
            if entry.get(key) is None:
                raise BadInputError(
                    f"missing field '{key}'", file=file, record=where, field=f"{base}.{key}"
                )
        imgs = entry["images"]
        if not isinstance(imgs, list) or len(imgs) != len(self.views):
            n = len(imgs) if isinstance(imgs, list) else "no list of"
            raise BadInputError(
                f"{n} protocol images for {len(self.views)} views",
                file=file,
                record=where,
                field=f"{base}.images",
            )
        options = entry.get("options") or []
        _check_strings(options, file, where, f"{base}.options")
        para = entry.get("paraphrases")
        _check_strings(para, file, where, f"{base}.paraphrases")
        # an open answer names objects the way its protocol shows them ("red" under overlay)
        answer = str(entry["answer"]) if "answer" in entry else self.answer
        return ProtocolView(
            protocol, str(entry["question"]), list(options), [str(p) for p in imgs], answer,
            para, base,
        )  # fmt: skip


def _check_strings(x: Any, file: str | Path | None, where: str | None, name: str) -> None:
    if x is not None and not (isinstance(x, list) and all(isinstance(p, str) for p in x)):
        raise BadInputError(
            f"{name.rsplit('.', 1)[-1]} must be a list of strings",
            file=file,
            record=where,
            field=name,
        )
