"""Offline test helpers: a tiny random Qwen3-VL checkpoint and a tiny native dataset.

Both are written to folders and read back through the same ``from_pretrained`` and dataset
paths a real checkpoint and a real dataset take. Used by ``tests/model`` and the CPU demo.
The tiny backbone: 2 text layers (hidden 64, 4 heads,
2 kv heads, head_dim 16, interleaved mrope [2, 3, 3]), a 2-block vision tower (patch 16,
merge 2, out width 64); about 0.5 M parameters.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["build_tiny_backbone", "write_tiny_dataset"]

_SPECIAL = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _byte_alphabet() -> list[str]:
    """The 256 stand-in characters of byte-level BPE (printable bytes map to themselves)."""
    printable = set(range(33, 127)) | set(range(161, 173)) | set(range(174, 256))
    out, shift = [], 0
    for b in range(256):
        if b in printable:
            out.append(chr(b))
        else:
            out.append(chr(256 + shift))
            shift += 1
    return out


def build_tiny_backbone(out: Path, max_pixels: int = 128 * 128, seed: int = 0) -> Path:
    """Write a tiny random ``Qwen3VLForConditionalGeneration`` with tokenizer and processor.

    Args:
        out: folder to write (created).
        max_pixels: the image processor's pixel budget (128 x 128 gives 4 x 4 merged cells).
        seed: torch seed of the random weights.

    Returns:
        ``out``.
    """
    import torch
    from transformers import Qwen2Tokenizer, Qwen3VLConfig, Qwen3VLForConditionalGeneration
    from transformers.models.qwen2_vl import Qwen2VLImageProcessorPil

    from crossview.eval.backends.hf import ImageOnlyQwenVLProcessor

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    alphabet = _byte_alphabet()
    vocab = {s: i for i, s in enumerate(alphabet)}
    merges = [("Ġ", "t"), ("h", "e"), ("Ġ", "o"), ("i", "n")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    tok = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )
    tok.add_special_tokens({"additional_special_tokens": _SPECIAL})
    tid = {t: tok.convert_tokens_to_ids(t) for t in _SPECIAL}
    cfg = Qwen3VLConfig(
        text_config={
            "vocab_size": len(tok),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "max_position_embeddings": 4096,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": [2, 3, 3],
                "mrope_interleaved": True,
            },
        },
        vision_config={
            "depth": 2,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_heads": 4,
            "patch_size": 16,
            "spatial_merge_size": 2,
            "out_hidden_size": 64,
            "deepstack_visual_indexes": [0, 1],
            "temporal_patch_size": 2,
        },
        image_token_id=tid["<|image_pad|>"],
        video_token_id=tid["<|video_pad|>"],
        vision_start_token_id=tid["<|vision_start|>"],
        vision_end_token_id=tid["<|vision_end|>"],
    )
    torch.manual_seed(seed)
    model = Qwen3VLForConditionalGeneration(cfg).eval()
    model.generation_config.eos_token_id = tid["<|im_end|>"]
    model.generation_config.pad_token_id = tid["<|endoftext|>"]
    model.save_pretrained(out)
    image_processor = Qwen2VLImageProcessorPil(
        patch_size=16,
        temporal_patch_size=2,
        merge_size=2,
        min_pixels=32 * 32,
        max_pixels=max_pixels,
    )
    proc = ImageOnlyQwenVLProcessor(
        image_processor=image_processor, tokenizer=tok, chat_template=_TEMPLATE
    )
    proc.save_pretrained(out)
    return out


_COLORS = {
    "red": (220, 40, 40),
    "green": (40, 190, 60),
    "blue": (40, 70, 220),
    "yellow": (230, 210, 40),
    "purple": (150, 50, 200),
    "cyan": (30, 200, 210),
}


def write_tiny_dataset(out: Path, n_items: int = 6, size: int = 128, seed: int = 0) -> Path:
    """Write a native dataset of synthetic two-view questions about coloured discs.

    Each scene holds three discs (track ids 1-3, distinct colours) seen by two views at
    different places and sizes. Items alternate between a colour question about one region
    (``"What colour is <region>?"``) and a correspondence question (``"Which object in Image 2
    is the same as <region> in Image 1?"`` with region options), in the native format of
    docs/dataset-format.md.

    Args:
        out: dataset folder (created); images go to ``out/images``.
        n_items: number of question records.
        size: image side in pixels.
        seed: layout seed.

    Returns:
        ``out``.
    """
    from PIL import Image

    from crossview.dataset.record import Record
    from crossview.geometry.masks import rle_encode

    rng = np.random.default_rng(seed)
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size]
    names = list(_COLORS)
    records = []
    for n in range(n_items):
        scene = f"tiny_{n // 2:03d}"
        colors = [names[k] for k in rng.permutation(len(names))[:3]]
        views = []
        for v in range(2):
            img = np.full((size, size, 3), 90, np.uint8)
            objects = []
            for t, c in enumerate(colors, start=1):
                r = float(rng.uniform(0.07, 0.2) * size)
                cx = float(rng.uniform(r, size - r))
                cy = float(size * (t - 0.5) / 3 + rng.uniform(-4, 4))
                m = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
                img[m] = _COLORS[c]
                objects.append({"track_id": t, "color": c, "mask": m})
            order = rng.permutation(3)
            objs = []
            for k in order:
                o = objects[k]
                m = o["mask"]
                for other in objects:
                    if other is not o and objects.index(other) > objects.index(o):
                        m = m & ~other["mask"]
                rows, cols = np.nonzero(m)
                objs.append(
                    {
                        "track_id": o["track_id"],
                        "mask_rle": rle_encode(m),
                        "bbox_xyxy": [
                            int(cols.min()),
                            int(rows.min()),
                            int(cols.max()) + 1,
                            int(rows.max()) + 1,
                        ],
                        "_color": o["color"],
                    }
                )
            path = f"images/{scene}_{n}_v{v}.png"
            Image.fromarray(img).save(out / path)
            views.append(
                {
                    "view_id": f"cam{v}_t000",
                    "image_path": path,
                    "width": size,
                    "height": size,
                    "scene_id": scene,
                    "objects": objs,
                }
            )
        if n % 2 == 0:
            o = int(rng.integers(3))
            gold = views[0]["objects"][o]["_color"]
            opts = [gold, *[c for c in colors if c != gold]][:3]
            perm = [opts[k] for k in rng.permutation(3)]
            letter = "ABC"[perm.index(gold)]
            rec = {
                "question_type": "color",
                "question": "What colour is <region> in Image 1?",
                "options": [f"{'ABC'[k]}. {c}" for k, c in enumerate(perm)],
                "answer": letter,
                "answer_kind": "choice",
                "region_refs": [[0, o]],
            }
        else:
            o = int(rng.integers(3))
            track = views[0]["objects"][o]["track_id"]
            tgt = [ob["track_id"] for ob in views[1]["objects"]].index(track)
            rec = {
                "question_type": "Q1",
                "question": "Which object in Image 2 is the same as <region> in Image 1?",
                "options": ["A. <region>", "B. <region>", "C. <region>"],
                "answer": "ABC"[tgt],
                "answer_kind": "choice",
                "region_refs": [[0, o], [1, 0], [1, 1], [1, 2]],
            }
        for v in views:
            for ob in v["objects"]:
                ob.pop("_color")
        rec.update(
            {
                "sample_id": f"{scene}-{rec['question_type']}-{n}",
                "family": "tiny",
                "views": views,
                "split": "train",
                "provenance": {"scene_id": scene, "source": "tiny", "seed": seed},
            }
        )
        records.append(Record.from_json(rec).to_json())  # the record's one owner checks it
    with (out / "questions.jsonl").open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    return out
