"""CrossViewer processor: examples (images, masks, region refs, question) -> model inputs.

It wraps the backbone's Qwen-VL processor (image processor + tokenizer) and adds the
CrossViewer tokens: each ``<region>`` placeholder expands into K ``<REGION>`` tokens, and a
``<SCENE><TARGET>`` prefix (the global scene and target-object cues) opens the question text.
The prompt mirrors the harness (``Image k:`` labels before each image, lettered options, the
answer instruction), so training and evaluation show the model the same text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crossview.errors import BadInputError
from crossview.eval.items import LETTERS
from crossview.eval.prompts import CHOICE_INSTRUCTION, FREE_INSTRUCTION

__all__ = ["CrossViewerProcessor", "Example"]


@dataclass
class Example:
    """One question with its views, as the processor takes it.

    Attributes:
        id: the record's sample id.
        question: text with one ``<region>`` per referenced object.
        options: option texts without letters (may hold ``<region>`` too); empty if open.
        answer: the gold answer text the model is trained to produce (a letter for choice
            items), or None at inference.
        images: one PIL image per view, in order ("Image 1" first).
        masks: per view, an (N_v, H, W) bool array of the view's objects (image pixels).
        track_ids: per view, an (N_v,) int array of the objects' track ids.
        region_refs: ``(view, object)`` for each ``<region>`` in question then options order.
        scene_id: the scene the track ids belong to (track identities are per scene).
        answer_kind: ``choice`` or ``free``.
    """

    id: str
    question: str
    options: list[str]
    answer: str | None
    images: list[Any]
    masks: list[np.ndarray]
    track_ids: list[np.ndarray]
    region_refs: list[tuple[int, int]]
    scene_id: str = ""
    answer_kind: str = "choice"
    meta: dict[str, Any] = field(default_factory=dict)


class CrossViewerProcessor:
    """Builds batched CrossViewer inputs.

    Args:
        hf_processor: the backbone's Qwen-VL processor (``image_processor`` and ``tokenizer``).
        num_object_tokens: K, ``<REGION>`` tokens per placeholder.
        region_token, scene_token, target_token, region_placeholder: token strings.
        use_prefix_tokens: write the ``<SCENE><TARGET>`` prefix.
    """

    def __init__(
        self,
        hf_processor: Any,
        num_object_tokens: int = 10,
        region_token: str = "<REGION>",
        scene_token: str = "<SCENE>",
        target_token: str = "<TARGET>",
        region_placeholder: str = "<region>",
        use_prefix_tokens: bool = True,
    ) -> None:
        self.hf = hf_processor
        self.tokenizer = hf_processor.tokenizer
        self.k = num_object_tokens
        self.region_token, self.scene_token, self.target_token = (
            region_token,
            scene_token,
            target_token,
        )
        self.placeholder = region_placeholder
        self.use_prefix_tokens = use_prefix_tokens
        new = [
            t
            for t in (region_token, scene_token, target_token)
            if t not in self.tokenizer.get_vocab()
        ]
        if new:
            self.tokenizer.add_tokens(new, special_tokens=True)

    @classmethod
    def from_config(cls, hf_processor: Any, config: Any) -> CrossViewerProcessor:
        """Build from a :class:`CrossViewerConfig`."""
        return cls(
            hf_processor,
            config.num_object_tokens,
            config.region_token,
            config.scene_token,
            config.target_token,
            config.region_placeholder,
            config.use_prefix_tokens,
        )

    @classmethod
    def from_pretrained(cls, path: str | Path, config: Any) -> CrossViewerProcessor:
        """Load the wrapped processor from ``path`` (a backbone or a CrossViewer checkpoint)."""
        from crossview.eval.backends.hf import load_processor

        return cls.from_config(load_processor(str(path)), config)

    def save_pretrained(self, path: str | Path) -> None:
        """Save the wrapped processor (tokenizer with the CrossViewer tokens) into ``path``."""
        self.hf.save_pretrained(str(path))

    def token_id(self, token: str) -> int:
        """The id of one token string."""
        return int(self.tokenizer.convert_tokens_to_ids(token))

    @property
    def special_ids(self) -> dict[str, int]:
        """Ids of the region, scene and target tokens."""
        return {
            "region": self.token_id(self.region_token),
            "scene": self.token_id(self.scene_token),
            "target": self.token_id(self.target_token),
        }

    def render_text(self, ex: Example) -> str:
        """The question text with options and instruction, placeholders expanded."""
        parts = [ex.question.strip()]
        if ex.options:
            parts.append("\n".join(f"{LETTERS[k]}. {o}" for k, o in enumerate(ex.options)))
        parts.append(CHOICE_INSTRUCTION if ex.answer_kind == "choice" else FREE_INSTRUCTION)
        return self.expand(ex, "\n".join(parts))

    def expand(self, ex: Example, text: str) -> str:
        """Expand each ``<region>`` into K ``<REGION>`` tokens; add the prefix."""
        n = text.count(self.placeholder)
        if n != len(ex.region_refs):
            raise BadInputError(
                f"{n} '{self.placeholder}' placeholders but {len(ex.region_refs)} region_refs",
                record=ex.id,
                field="region_refs",
            )
        text = text.replace(self.placeholder, self.region_token * self.k)
        if self.use_prefix_tokens:
            text = self.scene_token + self.target_token + text
        return text

    def messages(self, ex: Example, text: str) -> list[dict[str, Any]]:
        """Chat messages: ``Image k:`` and each image in order, then the text."""
        content: list[dict[str, Any]] = []
        for k in range(len(ex.images)):
            if len(ex.images) > 1:
                content.append({"type": "text", "text": f"Image {k + 1}:"})
            content.append({"type": "image"})
        content.append({"type": "text", "text": text})
        return [{"role": "user", "content": content}]

    def __call__(
        self,
        examples: list[Example],
        with_answer: bool = True,
        padding_side: str = "right",
        text_override: list[str] | None = None,
    ) -> dict[str, Any]:
        """Batch examples.

        Args:
            examples: the examples.
            with_answer: append the answer (and end of turn) and build ``labels``.
            padding_side: ``right`` for training, ``left`` for generation.
            text_override: user texts (with ``<region>`` placeholders) to use instead of
                :meth:`render_text` (the harness gives its own rendered prompt).

        Returns:
            ``input_ids`` (B, L), ``attention_mask`` (B, L), ``mm_token_type_ids`` (B, L),
            ``labels`` (B, L) (-100 outside the answer; only with ``with_answer``),
            ``pixel_values`` (P, C*) and ``image_grid_thw`` (sum of views, 3) for all images in
            order; per sample lists ``n_views``, ``masks`` (per view (N_v, H, W) bool),
            ``track_ids`` and ``object_labels`` (per view (N_v,) long; labels are unique per
            (scene, track) within the batch), ``region_refs``, ``ids``.
        """
        tok = self.tokenizer
        rows, images = [], []
        label_of: dict[tuple[str, int], int] = {}
        masks, tracks, labels_obj = [], [], []
        for i, ex in enumerate(examples):
            text = self.expand(ex, text_override[i]) if text_override else self.render_text(ex)
            prompt = self.hf.apply_chat_template(
                self.messages(ex, text), tokenize=False, add_generation_prompt=True
            )
            enc = self.hf(text=[prompt], images=list(ex.images), return_tensors="pt")
            ids = enc["input_ids"][0]
            mm = enc.get("mm_token_type_ids")
            mm = mm[0] if mm is not None else torch.zeros_like(ids)
            lab = torch.full_like(ids, -100)
            if with_answer:
                if ex.answer is None:
                    raise BadInputError("no answer to train on", record=ex.id, field="answer")
                ans = tok(ex.answer + tok.eos_token + "\n", add_special_tokens=False)["input_ids"]
                ans = torch.tensor(ans, dtype=ids.dtype)
                ids = torch.cat([ids, ans])
                mm = torch.cat([mm, torch.zeros_like(ans)])
                lab = torch.cat([lab, ans])
            rows.append((ids, mm, lab))
            images.append(enc)
            masks.append([torch.as_tensor(np.asarray(m, bool)) for m in ex.masks])
            tracks.append([torch.as_tensor(np.asarray(t), dtype=torch.long) for t in ex.track_ids])
            per_view = []
            for t in ex.track_ids:
                per_view.append(
                    torch.tensor(
                        [label_of.setdefault((ex.scene_id, int(x)), len(label_of)) for x in t],
                        dtype=torch.long,
                    )
                )
            labels_obj.append(per_view)
        L = max(r[0].shape[0] for r in rows)
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        B = len(rows)
        input_ids = torch.full((B, L), pad, dtype=torch.long)
        attn = torch.zeros((B, L), dtype=torch.long)
        mm_ids = torch.zeros((B, L), dtype=torch.long)
        labels = torch.full((B, L), -100, dtype=torch.long)
        for b, (ids, mm, lab) in enumerate(rows):
            n = ids.shape[0]
            sl = slice(L - n, L) if padding_side == "left" else slice(0, n)
            input_ids[b, sl], attn[b, sl], mm_ids[b, sl], labels[b, sl] = ids, 1, mm, lab
        out: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": attn,
            "mm_token_type_ids": mm_ids,
            "pixel_values": torch.cat([e["pixel_values"] for e in images]),
            "image_grid_thw": torch.cat([e["image_grid_thw"] for e in images]),
            "n_views": [len(ex.images) for ex in examples],
            "masks": masks,
            "track_ids": tracks,
            "object_labels": labels_obj,
            "region_refs": [list(map(tuple, ex.region_refs)) for ex in examples],
            "ids": [ex.id for ex in examples],
        }
        if with_answer:
            out["labels"] = labels
        return out
