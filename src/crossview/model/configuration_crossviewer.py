"""CrossViewer configuration: the backbone reference, every hyperparameter, the ablation switches.

Defaults follow the paper (seed 000, sections 4 and 5) where it states a value; where the paper
and the public code differ, the paper's value is the default and the other is a setting
(``w_answer`` is 1.0 in the paper, 0.5 in the public ``configs/default.yaml``).
"""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig

from crossview.model.train import MATCH_MODES


class CrossViewerConfig(PretrainedConfig):
    """Configuration of a :class:`~crossview.model.CrossViewerModel`.

    Args:
        backbone: local folder or hub id of a Qwen3-VL checkpoint (``Qwen/Qwen3-VL-8B-Instruct``
            in the paper; ``Qwen/Qwen3-VL-2B-Instruct`` suits smaller setups). A relative path
            is resolved against the CrossViewer checkpoint folder when loading.
        backbone_dtype: torch dtype name the backbone is loaded in (``float32``, ``bfloat16``);
            None keeps the checkpoint's dtype.
        num_object_tokens: K, tokens per object after k-means; also the number of ``<REGION>``
            tokens each ``<region>`` placeholder expands into (paper: 10).
        art_target_tokens: T, the masked feature cells ART aims to keep before k-means; the
            crop's scale factor is ``sqrt(T / area_in_cells)``.
        art_min_scale: lower clamp of the scale factor: large objects are only mildly
            downsampled (0.5 keeps a quarter of their cells).
        art_max_scale: upper clamp of the scale factor (upsampling of tiny objects).
        art_box_padding: padding of the tight mask box, in feature cells (the paper pads by
            one patch).
        art_kmeans_iters: Lloyd iterations of ART's k-means (deterministic initialisation).
        art_pos_grid: side of ART's learnable absolute position-embedding table, sampled
            bilinearly at each crop cell's normalised image position.
        region_dim: width of ART/OCVA tokens; None uses the vision tower's output width.
        ocva_heads: attention heads of OCVA's cross-attention (paper: 8).
        ocva_depth: OCVA blocks, each cross-attention then FFN with residual layer norm
            (paper: 2).
        ocva_ffn_mult: FFN hidden width as a multiple of ``region_dim``.
        contrast_dim: output width of the shared contrastive head g (paper: 256).
        match_mode: retrieval matching: ``greedy`` (paper default), ``hungarian`` or ``gt``
            (track-id order; an oracle for analysis only).
        supcon_temperature: SupCon temperature (paper: 0.07).
        triplet_margin: margin of the hard-negative triplet loss, Euclidean (paper: 0.5).
        w_answer: weight of the answer cross-entropy (paper 1.0; public code 0.5).
        w_supcon: weight of the supervised contrastive loss (paper 1.0).
        w_triplet: weight of the triplet loss (paper 0.1).
        use_art: ablation ``w/o ART`` when False: one masked-mean-pooled token per object.
        use_cross_attention: ablation ``w/o CrossView Attn`` when False: OCVA blocks skip
            their cross-attention sublayer (the FFN stays).
        use_supcon: ablation ``w/o SupCon`` when False: the SupCon term is not computed.
        use_triplet: ablation ``no triplet`` when False: the triplet term is not computed.
        box_as_mask: ablation ``w/ box-as-mask``: every mask is replaced by its filled box.
        use_prefix_tokens: prepend the global scene token and the target-object summary token.
        region_token: the token each ``<region>`` placeholder expands into.
        scene_token: the token whose embedding becomes the global scene cue.
        target_token: the token whose embedding becomes the target-object summary cue.
        region_placeholder: the placeholder the dataset writes in questions.
        lora_rank: LoRA rank on the LLM's attention projections (0: the LLM stays frozen).
        lora_alpha: LoRA alpha.
        lora_dropout: LoRA dropout.
        lora_targets: module names LoRA adapts.
    """

    model_type = "crossviewer"

    def __init__(
        self,
        backbone: str = "Qwen/Qwen3-VL-8B-Instruct",
        backbone_dtype: str | None = None,
        num_object_tokens: int = 10,
        art_target_tokens: int = 32,
        art_min_scale: float = 0.5,
        art_max_scale: float = 8.0,
        art_box_padding: float = 1.0,
        art_kmeans_iters: int = 5,
        art_pos_grid: int = 16,
        region_dim: int | None = None,
        ocva_heads: int = 8,
        ocva_depth: int = 2,
        ocva_ffn_mult: int = 4,
        contrast_dim: int = 256,
        match_mode: str = "greedy",
        supcon_temperature: float = 0.07,
        triplet_margin: float = 0.5,
        w_answer: float = 1.0,
        w_supcon: float = 1.0,
        w_triplet: float = 0.1,
        use_art: bool = True,
        use_cross_attention: bool = True,
        use_supcon: bool = True,
        use_triplet: bool = True,
        box_as_mask: bool = False,
        use_prefix_tokens: bool = True,
        region_token: str = "<REGION>",
        scene_token: str = "<SCENE>",
        target_token: str = "<TARGET>",
        region_placeholder: str = "<region>",
        lora_rank: int = 0,
        lora_alpha: int = 16,
        lora_dropout: float = 0.05,
        lora_targets: tuple[str, ...] | list[str] = ("q_proj", "k_proj", "v_proj", "o_proj"),
        **kwargs: Any,
    ) -> None:
        if match_mode not in MATCH_MODES:
            raise ValueError(
                f"match_mode must be one of {', '.join(MATCH_MODES)}; got {match_mode!r}"
            )
        if num_object_tokens < 1 or art_target_tokens < 1:
            raise ValueError("num_object_tokens and art_target_tokens must be at least 1")
        self.backbone = backbone
        self.backbone_dtype = backbone_dtype
        self.num_object_tokens = num_object_tokens
        self.art_target_tokens = art_target_tokens
        self.art_min_scale = art_min_scale
        self.art_max_scale = art_max_scale
        self.art_box_padding = art_box_padding
        self.art_kmeans_iters = art_kmeans_iters
        self.art_pos_grid = art_pos_grid
        self.region_dim = region_dim
        self.ocva_heads = ocva_heads
        self.ocva_depth = ocva_depth
        self.ocva_ffn_mult = ocva_ffn_mult
        self.contrast_dim = contrast_dim
        self.match_mode = match_mode
        self.supcon_temperature = supcon_temperature
        self.triplet_margin = triplet_margin
        self.w_answer = w_answer
        self.w_supcon = w_supcon
        self.w_triplet = w_triplet
        self.use_art = use_art
        self.use_cross_attention = use_cross_attention
        self.use_supcon = use_supcon
        self.use_triplet = use_triplet
        self.box_as_mask = box_as_mask
        self.use_prefix_tokens = use_prefix_tokens
        self.region_token = region_token
        self.scene_token = scene_token
        self.target_token = target_token
        self.region_placeholder = region_placeholder
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha
        self.lora_dropout = lora_dropout
        self.lora_targets = list(lora_targets)
        super().__init__(**kwargs)
