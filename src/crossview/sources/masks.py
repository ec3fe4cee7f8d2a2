"""Mask completion: instance masks from boxes, for sources that annotate boxes but not masks.

Two methods, chosen by name:

* ``grabcut`` (default, OpenCV, no weights): GrabCut initialised from the box. Pixels outside
  the box are background, pixels inside are "probably foreground"; GrabCut runs on a crop
  around the box (the box plus a margin) so that its cost does not grow with the image.
* ``sam2`` (extra ``crossview[sam2]``): SAM 2 prompted with the box, loaded from a checkpoint
  file and a config name that the user gives (:func:`load_sam2_predictor`).

Every mask gets a confidence ``score`` in [0, 1] and is kept only when the score reaches a
threshold and the mask fills enough of its box (the quality filter); dropped masks carry the
reason. Scores:

* GrabCut: ``score = stability * box_agreement`` where ``stability`` is the IoU of the mask
  after ``iterations`` GrabCut iterations and after ``extra_iterations`` more (a converged,
  well-separated object does not move), and ``box_agreement`` is the IoU of the mask's tight
  box with the given box (an object mask should touch all four sides of its annotated box).
* SAM 2: ``score = predicted_iou * box_agreement`` with SAM 2's own IoU prediction.

Conventions: images are (H, W, 3) uint8 RGB; boxes are (N, 4) ``x0, y0, x1, y1`` in pixels
with pixel-edge coordinates, ``x1``, ``y1`` exclusive (a box covering only pixel (row 0, col 0)
is ``[0, 0, 1, 1]``), the same as ``bbox_xyxy`` in datasets; masks are (H, W) bool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crossview.errors import BadInputError, require

METHODS = ("grabcut", "sam2", "none")
"""Mask completion methods by name (``none``: boxes without masks are dropped)."""


@dataclass
class MaskResult:
    """One completed mask.

    Attributes:
        mask: (H, W) bool mask, confined to its box (all False when completion failed).
        score: confidence in [0, 1] (see the module docstring for its definition).
        kept: whether the mask passed the quality filter.
        reason: why it was dropped (``low_score``, ``low_fill``, ``empty``, ``bad_box``,
            ``grabcut_failed``), empty when kept.
    """

    mask: np.ndarray
    score: float
    kept: bool
    reason: str = ""


@dataclass
class CompletionConfig:
    """Settings of mask completion; defaults defined once here."""

    method: str = "grabcut"
    """``grabcut``, ``sam2`` or ``none``."""
    min_score: float = 0.5
    """Masks with a lower score are dropped (the quality filter)."""
    min_fill: float = 0.1
    """Masks covering less than this fraction of their box are dropped."""
    iterations: int = 5
    """GrabCut iterations before the stability check."""
    extra_iterations: int = 2
    """Further GrabCut iterations whose change measures stability."""
    margin: float = 0.5
    """GrabCut crop margin around the box, as a fraction of the box's larger side (>= 4 px)."""
    largest_component: bool = True
    """Keep only the largest connected component of each mask."""
    seed: int = 0
    """Seed of OpenCV's RNG (GrabCut's k-means), so that results are reproducible."""
    sam2_checkpoint: str | None = None
    """SAM 2 checkpoint file (``.pt``); required for ``sam2``."""
    sam2_config: str = "configs/sam2.1/sam2.1_hiera_t.yaml"
    """SAM 2 model config name, as SAM 2's ``build_sam2`` takes it; must match the checkpoint."""
    device: str = "cpu"
    """Torch device for SAM 2."""


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two ``x0, y0, x1, y1`` boxes (pixel edges); 0 when either is empty."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area_a = max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1])
    area_b = max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])
    union = area_a + area_b - inter
    return float(inter / union) if union > 0 else 0.0


def _mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def _tight_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _largest_component(mask: np.ndarray) -> np.ndarray:
    import cv2

    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == best


def _int_box(box: Sequence[float], width: int, height: int) -> tuple[int, int, int, int] | None:
    """The box rounded outwards to whole pixels and clipped to the image; None when empty."""
    x0 = max(0, int(np.floor(box[0])))
    y0 = max(0, int(np.floor(box[1])))
    x1 = min(width, int(np.ceil(box[2])))
    y1 = min(height, int(np.ceil(box[3])))
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def _judge(
    mask: np.ndarray, box: tuple[int, int, int, int], quality: float, config: CompletionConfig
) -> MaskResult:
    """Score a mask (``quality`` times box agreement) and apply the quality filter."""
    tight = _tight_box(mask)
    if tight is None:
        return MaskResult(mask, 0.0, False, "empty")
    score = float(quality * box_iou(tight, box))
    fill = mask.sum() / max(1, (box[2] - box[0]) * (box[3] - box[1]))
    if fill < config.min_fill:
        return MaskResult(mask, score, False, "low_fill")
    if score < config.min_score:
        return MaskResult(mask, score, False, "low_score")
    return MaskResult(mask, score, True)


def grabcut_mask(
    image: np.ndarray, box: Sequence[float], config: CompletionConfig | None = None
) -> MaskResult:
    """Complete one box into a mask with GrabCut (see the module docstring for the score).

    Args:
        image: (H, W, 3) uint8 RGB.
        box: ``x0, y0, x1, y1`` in pixels (pixel edges, end exclusive).
        config: settings; defaults when None.

    Returns:
        The mask (H, W) bool within the box, its score and whether it passed the filter.
    """
    import cv2

    config = config or CompletionConfig()
    H, W = image.shape[:2]
    empty = np.zeros((H, W), dtype=bool)
    ib = _int_box(box, W, H)
    if ib is None:
        return MaskResult(empty, 0.0, False, "bad_box")
    x0, y0, x1, y1 = ib
    pad = max(4, round(config.margin * max(x1 - x0, y1 - y0)))
    cx0, cy0 = max(0, x0 - pad), max(0, y0 - pad)
    cx1, cy1 = min(W, x1 + pad), min(H, y1 + pad)
    crop = np.ascontiguousarray(image[cy0:cy1, cx0:cx1, :3], dtype=np.uint8)
    gc = np.full(crop.shape[:2], cv2.GC_BGD, dtype=np.uint8)
    gc[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0] = cv2.GC_PR_FGD
    if (gc == cv2.GC_BGD).sum() == 0:
        # the box covers its whole crop (the whole image): nothing to learn background from
        return MaskResult(empty, 0.0, False, "grabcut_failed")
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(config.seed)
    try:
        cv2.grabCut(crop, gc, None, bgd, fgd, config.iterations, cv2.GC_INIT_WITH_MASK)
        first = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
        if config.extra_iterations > 0:
            cv2.grabCut(crop, gc, None, bgd, fgd, config.extra_iterations, cv2.GC_EVAL)
    except cv2.error:
        return MaskResult(empty, 0.0, False, "grabcut_failed")
    second = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    stability = _mask_iou(first, second)
    if config.largest_component and second.any():
        second = _largest_component(second)
    mask = empty.copy()
    mask[cy0:cy1, cx0:cx1] = second
    return _judge(mask, ib, stability, config)


def _check_sam2(checkpoint: str | Path | None) -> Path:
    """The checkpoint path; BadInputError when it is not a file, MissingExtraError when the
    SAM 2 package is not installed (checked without importing it)."""
    import importlib.util

    from crossview.errors import MissingExtraError

    if checkpoint is None:
        raise BadInputError(
            "SAM 2 mask completion needs a checkpoint file (--sam2-checkpoint)",
            field="sam2_checkpoint",
        )
    path = Path(checkpoint)
    if not path.is_file():
        raise BadInputError("SAM 2 checkpoint file is missing", file=path, field="sam2_checkpoint")
    for module in ("sam2", "torch"):
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(module, "sam2", "mask completion with SAM 2")
    return path


def load_sam2_predictor(
    checkpoint: str | Path | None,
    config_name: str = CompletionConfig.sam2_config,
    device: str = "cpu",
) -> Any:
    """Load a SAM 2 image predictor from a local checkpoint file (no download).

    Args:
        checkpoint: path of the SAM 2 checkpoint (``sam2.1_hiera_tiny.pt``, ...).
        config_name: SAM 2 config name matching the checkpoint, as ``build_sam2`` takes it
            (``configs/sam2.1/sam2.1_hiera_t.yaml``).
        device: torch device (``cpu``, ``cuda``).

    Raises:
        BadInputError: the checkpoint is not given or not a file.
        MissingExtraError: SAM 2 (or torch) is not installed; names the ``sam2`` extra.
    """
    path = _check_sam2(checkpoint)
    purpose = "mask completion with SAM 2"
    require("torch", "sam2", purpose)
    build = require("sam2.build_sam", "sam2", purpose)
    predictor_mod = require("sam2.sam2_image_predictor", "sam2", purpose)
    model = build.build_sam2(config_name, str(path), device=device)
    return predictor_mod.SAM2ImagePredictor(model)


def _sam2_masks(
    predictor: Any, image: np.ndarray, boxes: np.ndarray, config: CompletionConfig
) -> list[MaskResult]:
    import torch

    H, W = image.shape[:2]
    out = []
    with torch.inference_mode():
        predictor.set_image(np.ascontiguousarray(image[..., :3], dtype=np.uint8))
        for box in boxes:
            ib = _int_box(box, W, H)
            if ib is None:
                out.append(MaskResult(np.zeros((H, W), bool), 0.0, False, "bad_box"))
                continue
            masks, scores, _ = predictor.predict(
                box=np.asarray(ib, dtype=np.float32), multimask_output=False
            )
            mask = np.asarray(masks[0]) > 0.5
            clip = np.zeros_like(mask)
            clip[ib[1] : ib[3], ib[0] : ib[2]] = True
            mask &= clip
            if config.largest_component and mask.any():
                mask = _largest_component(mask)
            out.append(_judge(mask, ib, float(np.clip(scores[0], 0, 1)), config))
    return out


class MaskCompleter:
    """Completes boxes into masks with one method, loading SAM 2 once when it is used.

    Args:
        config: the method and thresholds.
    """

    def __init__(self, config: CompletionConfig | None = None) -> None:
        self.config = config or CompletionConfig()
        if self.config.method not in METHODS:
            raise BadInputError(
                f"unknown mask completion {self.config.method!r}; valid: {', '.join(METHODS)}",
                field="mask_completion",
            )
        self._sam2: Any = None
        if self.config.method == "sam2":
            # fail before any work is done, but load the model only when a box needs it
            _check_sam2(self.config.sam2_checkpoint)

    def __call__(self, image: np.ndarray, boxes: np.ndarray) -> list[MaskResult]:
        """Masks for (N, 4) ``boxes`` in ``image`` (H, W, 3) uint8, in box order."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        H, W = image.shape[:2]
        if self.config.method == "none":
            return [MaskResult(np.zeros((H, W), bool), 0.0, False, "no_completion") for _ in boxes]
        if self.config.method == "sam2":
            if self._sam2 is None:
                self._sam2 = load_sam2_predictor(
                    self.config.sam2_checkpoint, self.config.sam2_config, self.config.device
                )
            return _sam2_masks(self._sam2, image, boxes, self.config)
        return [grabcut_mask(image, b, self.config) for b in boxes]


def complete_masks(
    image: np.ndarray,
    boxes: np.ndarray,
    method: str = "grabcut",
    *,
    config: CompletionConfig | None = None,
    sam2_checkpoint: str | Path | None = None,
) -> list[MaskResult]:
    """Complete boxes into instance masks, scored and filtered.

    Args:
        image: (H, W, 3) uint8 RGB.
        boxes: (N, 4) ``x0, y0, x1, y1`` in pixels (pixel edges, end exclusive).
        method: ``grabcut`` (default), ``sam2`` or ``none``.
        config: thresholds and method settings (its ``method`` is replaced by ``method``).
        sam2_checkpoint: checkpoint file for ``sam2`` (overrides the config's).

    Returns:
        One :class:`MaskResult` per box, in order; ``kept`` says whether it passed the filter.

    Raises:
        BadInputError: an unknown method, or ``sam2`` without an existing checkpoint file.
        MissingExtraError: ``sam2`` without SAM 2 installed.
    """
    from dataclasses import replace

    cfg = replace(config or CompletionConfig(), method=method)
    if sam2_checkpoint is not None:
        cfg = replace(cfg, sam2_checkpoint=str(sam2_checkpoint))
    return MaskCompleter(cfg)(image, boxes)


def resolve_overlaps(masks: list[np.ndarray], boxes: np.ndarray) -> list[np.ndarray]:
    """Make masks of one image disjoint: a pixel claimed by several goes to the smallest box.

    On a table, a box inside another box usually belongs to the object in front, so the
    smaller box wins. Args: ``masks`` (H, W) bool each, ``boxes`` (N, 4) xyxy pixels.
    """
    if not masks:
        return []
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    taken = np.zeros_like(masks[0], dtype=bool)
    out: list[np.ndarray] = [np.zeros_like(m) for m in masks]
    for i in np.argsort(area, kind="stable"):
        out[i] = masks[i] & ~taken
        taken |= masks[i]
    return out
