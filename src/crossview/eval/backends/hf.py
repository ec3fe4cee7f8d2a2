"""``hf:PATH_OR_ID``: local transformers multi-image chat models (Qwen-VL family first).

Batched, greedy. Every image of a prompt goes to the model, labelled "Image k:" in order; the
processor's image count is checked against the prompt's, so an image is never dropped. Needs
the ``model`` extra (torch, transformers); both are imported when the backend is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crossview.errors import CrossviewError, require
from crossview.eval.backends import register
from crossview.eval.backends.base import Backend, BackendSettings
from crossview.eval.items import Prompt, Response


def _image_only_processor_class() -> type:
    """A Qwen-VL processor built from an image processor and a tokenizer, no video processor.

    ``Qwen3VLProcessor`` insists on a video processor, which needs torchvision; images are all
    this harness sends.
    """
    transformers = require("transformers", "model", "the hf backend")

    class ImageOnlyQwenVLProcessor(transformers.Qwen3VLProcessor):
        attributes = ["image_processor", "tokenizer"]  # noqa: RUF012 - transformers API

        def __init__(
            self,
            image_processor: Any = None,
            tokenizer: Any = None,
            chat_template: str | None = None,
            **kwargs: Any,
        ) -> None:
            transformers.ProcessorMixin.__init__(
                self, image_processor, tokenizer, chat_template=chat_template
            )
            self.image_token = getattr(tokenizer, "image_token", "<|image_pad|>")
            self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
            self.video_token = "<|video_pad|>"
            self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
            self.vision_start_token = "<|vision_start|>"
            self.vision_end_token = "<|vision_end|>"
            self.vision_start_token_id = tokenizer.convert_tokens_to_ids("<|vision_start|>")
            self.vision_end_token_id = tokenizer.convert_tokens_to_ids("<|vision_end|>")

    return ImageOnlyQwenVLProcessor


def __getattr__(name: str) -> Any:  # lazy: transformers is imported only when asked for
    if name == "ImageOnlyQwenVLProcessor":
        return _image_only_processor_class()
    raise AttributeError(name)


def load_processor(path: str) -> Any:
    """``AutoProcessor``, or an image-only Qwen-VL processor when the video part cannot load."""
    transformers = require("transformers", "model", "the hf backend")
    try:
        proc = transformers.AutoProcessor.from_pretrained(path)
    except (ImportError, ValueError, OSError, TypeError, AttributeError):
        proc = None
    if getattr(proc, "image_processor", None) is not None:
        return proc
    # No multimodal processor could load (e.g. no torchvision for the video part; then
    # AutoProcessor falls back to the bare tokenizer): build an image-only one.
    cls = _image_only_processor_class()
    return cls(
        image_processor=transformers.AutoImageProcessor.from_pretrained(path),
        tokenizer=transformers.AutoTokenizer.from_pretrained(path),
        chat_template=_chat_template(path),
    )


def _chat_template(path: str) -> str | None:
    import json
    from pathlib import Path

    for name in ("chat_template.jinja", "chat_template.json"):
        p = Path(path) / name
        if p.is_file():
            text = p.read_text(encoding="utf-8")
            return json.loads(text)["chat_template"] if name.endswith(".json") else text
    return None


def build_messages(prompt: Prompt) -> list[dict[str, Any]]:
    """Chat messages with one image part per image, labelled in order, then the text."""
    content: list[dict[str, Any]] = []
    for k in range(len(prompt.images)):
        if len(prompt.images) > 1:
            content.append({"type": "text", "text": f"Image {k + 1}:"})
        content.append({"type": "image"})
    content.append({"type": "text", "text": prompt.text})
    return [{"role": "user", "content": content}]


@register("hf")
class HFBackend(Backend):
    """Greedy generation with a local ``AutoModelForImageTextToText`` checkpoint."""

    def __init__(self, arg: str, settings: BackendSettings) -> None:
        super().__init__(arg, settings)
        self.torch = require("torch", "model", "the hf backend")
        transformers = require("transformers", "model", "the hf backend")
        if not arg:
            from crossview.errors import BadInputError

            raise BadInputError("give a checkpoint folder or hub id: --model hf:PATH_OR_ID")
        self.processor = load_processor(arg)
        tok = getattr(self.processor, "tokenizer", None)
        if tok is not None:
            tok.padding_side = "left"  # batched generation continues from the right edge
        kwargs: dict[str, Any] = {}
        if settings.dtype:
            kwargs["dtype"] = getattr(self.torch, settings.dtype)
        self.model = transformers.AutoModelForImageTextToText.from_pretrained(arg, **kwargs)
        self.model.to(settings.device).eval()

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {
            **super().describe(),
            "batch_size": s.batch_size,
            "max_new_tokens": s.max_tokens,
            "device": s.device,
            "dtype": s.dtype,
            "greedy": True,
            "model_class": type(self.model).__name__,
        }

    def generate(self, prompts: Sequence[Prompt]) -> list[Response]:
        torch = self.torch
        texts = [
            self.processor.apply_chat_template(
                build_messages(p), tokenize=False, add_generation_prompt=True
            )
            for p in prompts
        ]
        images = [img.open() for p in prompts for img in p.images]
        inputs = self.processor(
            text=texts, images=images or None, padding=True, return_tensors="pt"
        )
        grid = inputs.get("image_grid_thw")
        if images and (grid is None or int(grid.shape[0]) != len(images)):
            raise CrossviewError(
                f"the processor kept {0 if grid is None else int(grid.shape[0])} of "
                f"{len(images)} images; refusing to score a model that did not see them all"
            )
        inputs = inputs.to(self.settings.device)
        with torch.inference_mode():
            out = self.model.generate(
                **inputs, max_new_tokens=self.settings.max_tokens, do_sample=False
            )
        new = out[:, inputs["input_ids"].shape[1] :]
        decoded = self.processor.batch_decode(new, skip_special_tokens=True)
        return [Response(text=t) for t in decoded]
