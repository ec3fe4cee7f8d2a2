"""CrossViewer: perception (ART), retrieval, alignment (OCVA) and region-guided reasoning.

Stages (paper, sec. 4), for each sample of V views:

1. the frozen vision tower gives per-view feature maps (post-merger cells, width C);
   ART turns each object's mask into K tokens (N_v, K, D) with validity;
2. retrieval pools and projects every object through the shared head g, matches each view's
   objects with every other view's (greedy, Hungarian or GT) and reorders the target tokens;
3. OCVA fuses each source object with its matched target; a view with several partners
   averages the fused tokens over its partners (pairwise aggregation over view pairs);
4. the adapter maps aligned tokens to the LLM width; the K ``<REGION>`` embeddings of each
   placeholder are replaced by its object's tokens, ``<SCENE>`` by the global scene token (mean
   of all aligned tokens) and ``<TARGET>`` by the target-object summary (mean of the first
   referenced object's tokens). Embeddings are edited by a forward pre-hook on the language
   model, so the backbone computes its own multimodal RoPE positions from ``input_ids``; the
   backbone's vision features are computed once and handed to it.

The backbone is any Qwen3-VL checkpoint loaded with transformers; it stays frozen except for
optional LoRA adapters on the LLM (peft).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from crossview.errors import BadInputError
from crossview.model.art import AdaptiveRegionTokenizer
from crossview.model.configuration_crossviewer import CrossViewerConfig
from crossview.model.losses import answer_ce, supcon_loss, total_loss, triplet_loss
from crossview.model.ocva import OCVA
from crossview.model.retrieval import ContrastiveHead, masked_mean_pool, match, reorder

__all__ = ["CrossViewerModel"]

WEIGHTS_NAME = "crossviewer.safetensors"


def _load_backbone(path: str, dtype: str | None) -> nn.Module:
    from transformers import AutoModelForImageTextToText

    kwargs: dict[str, Any] = {}
    if dtype:
        kwargs["dtype"] = getattr(torch, dtype)
    return AutoModelForImageTextToText.from_pretrained(path, **kwargs)


class CrossViewerModel(nn.Module):
    """CrossViewer on a Qwen3-VL backbone.

    Args:
        config: the configuration; ``config.backbone`` names the backbone when ``backbone``
            is None.
        backbone: an already loaded ``Qwen3VLForConditionalGeneration`` (optional).
        special_ids: ids of the ``region``, ``scene`` and ``target`` tokens (from
            :attr:`CrossViewerProcessor.special_ids`); stored in the config.
    """

    def __init__(
        self,
        config: CrossViewerConfig,
        backbone: nn.Module | None = None,
        special_ids: dict[str, int] | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        if special_ids is not None:
            config.special_ids = dict(special_ids)
        if not getattr(config, "special_ids", None):
            raise ValueError("config.special_ids is unset: build the processor first")
        if backbone is None:
            backbone = _load_backbone(config.backbone, config.backbone_dtype)
        for p in backbone.parameters():
            p.requires_grad_(False)
        # plain references (not submodules): the backbone registers these modules already
        self.__dict__["_lm"] = backbone.model.language_model
        self.__dict__["_inner"] = backbone.model
        if config.lora_rank > 0:
            from crossview.errors import require

            peft = require("peft", "model", "LoRA on the LLM")
            lcfg = peft.LoraConfig(
                r=config.lora_rank,
                lora_alpha=config.lora_alpha,
                lora_dropout=config.lora_dropout,
                target_modules=r".*language_model.*\.(" + "|".join(config.lora_targets) + ")",
            )
            backbone = peft.get_peft_model(backbone, lcfg)
        self.backbone = backbone
        bcfg = self._inner.config
        vis_dim = int(bcfg.vision_config.out_hidden_size)
        llm_dim = int(bcfg.text_config.hidden_size)
        dim = int(config.region_dim or vis_dim)
        self.art = AdaptiveRegionTokenizer(
            vis_dim,
            dim,
            num_tokens=config.num_object_tokens,
            target_tokens=config.art_target_tokens,
            min_scale=config.art_min_scale,
            max_scale=config.art_max_scale,
            padding=config.art_box_padding,
            kmeans_iters=config.art_kmeans_iters,
            pos_grid=config.art_pos_grid,
            use_art=config.use_art,
            box_as_mask=config.box_as_mask,
        )
        self.head = ContrastiveHead(dim, config.contrast_dim)
        self.ocva = OCVA(
            dim,
            config.ocva_heads,
            config.ocva_depth,
            config.ocva_ffn_mult,
            config.use_cross_attention,
        )
        self.adapter = nn.Sequential(
            nn.Linear(dim, llm_dim), nn.GELU(), nn.Linear(llm_dim, llm_dim)
        )
        pad = bcfg.text_config.pad_token_id if hasattr(bcfg, "text_config") else None
        self._pad_id = int(pad) if pad is not None else 0
        self._merge = int(bcfg.vision_config.spatial_merge_size)

    # ------------------------------------------------------------------ save / load

    def trainable_state_dict(self) -> dict[str, Tensor]:
        """The CrossViewer modules and LoRA weights (never the frozen backbone)."""
        return {
            k: v.detach().cpu().contiguous()
            for k, v in self.state_dict().items()
            if not k.startswith("backbone.") or "lora_" in k
        }

    def save_pretrained(self, out: str | Path, processor: Any = None, save_backbone: bool = False):
        """Write ``config.json``, the trainable weights and (given) the processor to ``out``.

        Args:
            out: folder (created).
            processor: a :class:`CrossViewerProcessor` to save into ``out/processor``
                (tokenizer with the CrossViewer tokens, image processor).
            save_backbone: also save the backbone into ``out/backbone`` and reference it
                relatively; otherwise the config keeps the backbone path or hub id.
        """
        from safetensors.torch import save_file

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        if save_backbone:
            base = self.backbone
            if self.config.lora_rank > 0:
                base = self.backbone.get_base_model()
            base.save_pretrained(out / "backbone")
            self.config.backbone = "backbone"
        self.config.save_pretrained(out)
        save_file(self.trainable_state_dict(), str(out / WEIGHTS_NAME))
        if processor is not None:
            processor.save_pretrained(out / "processor")

    @classmethod
    def from_pretrained(
        cls, path: str | Path, backbone: nn.Module | None = None, **overrides: Any
    ) -> CrossViewerModel:
        """Load a checkpoint written by :meth:`save_pretrained`.

        A relative ``config.backbone`` resolves against ``path``; ``overrides`` replace config
        fields (e.g. ``match_mode="hungarian"`` at inference).
        """
        from safetensors.torch import load_file

        path = Path(path)
        if not (path / WEIGHTS_NAME).is_file():
            raise BadInputError(
                "not a CrossViewer checkpoint (no crossviewer.safetensors)", file=path
            )
        config = CrossViewerConfig.from_pretrained(str(path))
        for k, v in overrides.items():
            setattr(config, k, v)
        if backbone is None:
            ref = Path(config.backbone)
            src = (
                str(path / ref)
                if not ref.is_absolute() and (path / ref).exists()
                else config.backbone
            )
            backbone = _load_backbone(src, config.backbone_dtype)
        model = cls(config, backbone)
        state = load_file(str(path / WEIGHTS_NAME))
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("backbone.") or "lora_" in k]
        if missing or unexpected:
            raise BadInputError(
                f"checkpoint does not fit the model: missing {missing[:5]}, "
                f"unexpected {list(unexpected)[:5]}",
                file=path / WEIGHTS_NAME,
            )
        return model.eval()

    # ------------------------------------------------------------------ stages

    def image_features(self, pixel_values: Tensor, image_grid_thw: Tensor) -> tuple[Any, list]:
        """Run the frozen vision tower once.

        Returns:
            ``(vision_output, maps)``: the backbone's vision output (handed back to it) and
            per image a (h, w, C) float32 map of post-merger cells.
        """
        with torch.no_grad():
            vis = self._inner.get_image_features(pixel_values, image_grid_thw, return_dict=True)
        maps = []
        for feat, (_, gh, gw) in zip(vis.pooler_output, image_grid_thw.tolist()):
            h, w = gh // self._merge, gw // self._merge
            maps.append(feat.reshape(-1, h, w, feat.shape[-1])[0].float())
        return vis, maps

    def perceive_and_align(
        self,
        maps: list[Tensor],
        n_views: list[int],
        masks: list[list[Tensor]],
        track_ids: list[list[Tensor]] | None = None,
    ) -> list[dict[str, Any]]:
        """ART, retrieval and OCVA for each sample.

        Args:
            maps: per image (h, w, C) feature maps, samples' views concatenated in order.
            n_views: views per sample.
            masks: per sample, per view (N_v, H, W) bool.
            track_ids: per sample, per view (N_v,) long (needed by ``match_mode="gt"``).

        Returns:
            per sample a dict: ``tokens``, ``valid`` (per view (N_v, K, D), (N_v, K)),
            ``emb`` (per view (N_v, contrast_dim) unit vectors), ``obj_valid`` (per view
            (N_v,)), ``aligned`` (per view (N_v, K, D)), ``matches`` ({(a, b): (N_a,) long}),
            ``sims`` ({(a, b): (N_a, N_b)}), ``n_cells`` (per view (N_v,)).
        """
        out, start = [], 0
        mode = self.config.match_mode
        for s, nv in enumerate(n_views):
            toks, valid, emb, ovalid, cells = [], [], [], [], []
            for v in range(nv):
                r = self.art(maps[start + v], masks[s][v])
                toks.append(r["tokens"])
                valid.append(r["valid"])
                cells.append(r["n_cells"])
                ovalid.append(r["valid"].any(1))
                emb.append(self.head(masked_mean_pool(r["tokens"], r["valid"])))
            start += nv
            matches, sims, aligned = {}, {}, []
            for a in range(nv):
                fused = []
                for b in range(nv):
                    if a == b:
                        continue
                    sim = emb[a] @ emb[b].T
                    tr = track_ids[s] if track_ids is not None else None
                    m = match(
                        mode,
                        sim,
                        ovalid[a],
                        ovalid[b],
                        tr[a] if tr else None,
                        tr[b] if tr else None,
                    )
                    matches[(a, b)], sims[(a, b)] = m, sim
                    t1, v1 = reorder(toks[b], valid[b], m)
                    fused.append(self.ocva(toks[a], t1, v1))
                if not fused:  # a single view: nothing to align with
                    none = torch.zeros_like(valid[a])
                    fused.append(self.ocva(toks[a], torch.zeros_like(toks[a]), none))
                aligned.append(torch.stack(fused).mean(0) * valid[a][..., None])
            out.append(
                {
                    "tokens": toks,
                    "valid": valid,
                    "emb": emb,
                    "obj_valid": ovalid,
                    "aligned": aligned,
                    "matches": matches,
                    "sims": sims,
                    "n_cells": cells,
                }
            )
        return out

    def contrastive_losses(
        self, samples: list[dict[str, Any]], object_labels: list[list[Tensor]]
    ) -> dict[str, Tensor]:
        """SupCon over every valid object embedding of the batch (labels: physical identity),
        triplet over ordered view pairs, and the retrieval top-1 accuracy (no gradient).

        Returns:
            ``supcon``, ``triplet`` (scalars) and ``retrieval_top1`` (scalar, NaN when no
            object has a counterpart).
        """
        embs, labs = [], []
        anc, pos, alab, cands, clab = [], [], [], [], []
        hits, total = 0, 0
        for smp, lab in zip(samples, object_labels):
            nv = len(smp["emb"])
            for v in range(nv):
                keep = smp["obj_valid"][v]
                embs.append(smp["emb"][v][keep])
                labs.append(lab[v].to(keep.device)[keep])
            for a in range(nv):
                for b in range(nv):
                    if a == b:
                        continue
                    la, lb = lab[a].to(self._device), lab[b].to(self._device)
                    va, vb = smp["obj_valid"][a], smp["obj_valid"][b]
                    ea, eb = smp["emb"][a], smp["emb"][b]
                    cands.append(eb[vb])
                    clab.append(lb[vb])
                    same = (la[:, None] == lb[None, :]) & va[:, None] & vb[None, :]
                    for i in torch.nonzero(same.any(1)).flatten().tolist():
                        j = int(torch.nonzero(same[i])[0])
                        anc.append(ea[i])
                        pos.append(eb[j])
                        alab.append(la[i])
                        sim = smp["sims"][(a, b)][i].masked_fill(~vb, float("-inf"))
                        hits += int(la[i] == lb[int(sim.argmax())])
                        total += 1
        dev = self._device
        zero = sum(p.sum() for p in self.head.parameters()) * 0.0
        losses: dict[str, Tensor] = {}
        if self.config.use_supcon and embs:
            losses["supcon"] = supcon_loss(
                torch.cat(embs), torch.cat(labs), self.config.supcon_temperature
            )
        if self.config.use_triplet and anc:
            losses["triplet"] = triplet_loss(
                torch.stack(anc),
                torch.stack(pos),
                torch.cat(cands),
                torch.stack(alab),
                torch.cat(clab),
                self.config.triplet_margin,
            )
        for k in ("supcon", "triplet"):
            losses.setdefault(k, zero)
        losses["retrieval_top1"] = torch.tensor(hits / total if total else float("nan"), device=dev)
        return losses

    def cue_embeddings(
        self, samples: list[dict[str, Any]], region_refs: list[list[tuple[int, int]]]
    ) -> list[dict[str, Tensor]]:
        """Adapter outputs per sample: ``region`` (R*K, H) in placeholder order, ``scene``
        (1, H) and ``target`` (1, H).

        A region's invalid token slots (objects with fewer than K masked cells) repeat the
        object's mean aligned token.
        """
        out = []
        for smp, refs in zip(samples, region_refs):
            al, va = smp["aligned"], smp["valid"]
            pooled = [masked_mean_pool(a, v) for a, v in zip(al, va)]  # per view (N_v, D)
            feats = []
            for v, o in refs:
                if not (0 <= v < len(al) and 0 <= o < al[v].shape[0]):
                    raise BadInputError(f"region ref {[v, o]} names no object", field="region_refs")
                t = torch.where(va[v][o][:, None], al[v][o], pooled[v][o][None])
                feats.append(t)
            allv = torch.cat([v.reshape(-1) for v in va])
            allt = torch.cat([a.reshape(-1, a.shape[-1]) for a in al])
            w = allv.to(allt.dtype)[:, None]
            scene = (allt * w).sum(0, keepdim=True) / w.sum().clamp(min=1.0)
            target = pooled[refs[0][0]][refs[0][1]][None] if refs else scene
            dim = self.adapter[0].in_features
            region = torch.cat(feats) if feats else allt.new_zeros(0, dim)
            out.append(
                {
                    "region": self.adapter(region),
                    "scene": self.adapter(scene),
                    "target": self.adapter(target),
                }
            )
        return out

    @property
    def _device(self) -> torch.device:
        return self.adapter[0].weight.device

    def edits(
        self, input_ids: Tensor, cues: list[dict[str, Tensor]]
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Where and what to write into the LLM's input embeddings.

        Returns:
            ``(safe_ids, values, where)``: ``input_ids`` with CrossViewer tokens replaced by
            the pad id (B, L), replacement rows (B, L, H) and a (B, L) bool mask.
        """
        ids = self.config.special_ids
        B, L = input_ids.shape
        H = self.adapter[-1].out_features
        values = torch.zeros(B, L, H, device=input_ids.device, dtype=self.adapter[-1].weight.dtype)
        where = torch.zeros(B, L, dtype=torch.bool, device=input_ids.device)
        for b, cue in enumerate(cues):
            for key in ("region", "scene", "target"):
                pos = torch.nonzero(input_ids[b] == ids[key]).flatten()
                need = cue[key].shape[0] if key == "region" else (1 if len(pos) else 0)
                if len(pos) != need:
                    raise BadInputError(
                        f"sample {b}: {len(pos)} {key} tokens in the text but {need} embeddings; "
                        "build inputs with the CrossViewerProcessor of this checkpoint",
                        field="input_ids",
                    )
                if len(pos):
                    values[b, pos] = cue[key][: len(pos)].to(values.dtype)
                    where[b, pos] = True
        special = torch.tensor(list(ids.values()), device=input_ids.device)
        safe = input_ids.masked_fill(torch.isin(input_ids, special), self._pad_id)
        return safe, values, where

    @contextlib.contextmanager
    def inject(self, values: Tensor, where: Tensor) -> Iterator[None]:
        """Replace ``inputs_embeds`` rows of the language model on full-prompt calls only.

        Args:
            values: (B, L, H) replacement rows; where: (B, L) bool.
        """
        L = where.shape[1]

        def hook(_module, args, kwargs):
            emb = kwargs.get("inputs_embeds")
            if emb is None or emb.shape[1] != L or not where.any():
                return None
            kwargs["inputs_embeds"] = torch.where(where[..., None], values.to(emb.dtype), emb)
            return args, kwargs

        handle = self._lm.register_forward_pre_hook(hook, with_kwargs=True)
        try:
            yield
        finally:
            handle.remove()

    # ------------------------------------------------------------------ forward

    def prepare(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Vision features, ART, retrieval, OCVA and the cue embeddings of a batch."""
        dev = self._device
        pv = batch["pixel_values"].to(dev)
        grid = batch["image_grid_thw"].to(dev)
        vis, maps = self.image_features(pv, grid)
        masks = [[m.to(dev) for m in s] for s in batch["masks"]]
        tracks = batch.get("track_ids")
        if tracks is not None:
            tracks = [[t.to(dev) for t in s] for s in tracks]
        samples = self.perceive_and_align(maps, batch["n_views"], masks, tracks)
        cues = self.cue_embeddings(samples, batch["region_refs"])
        safe, values, where = self.edits(batch["input_ids"].to(dev), cues)
        return {
            "vis": vis,
            "grid": grid,
            "samples": samples,
            "safe": safe,
            "values": values,
            "where": where,
        }

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Run CrossViewer on a batch from :class:`CrossViewerProcessor`.

        Args:
            batch: ``input_ids`` (B, L), ``attention_mask`` (B, L), ``mm_token_type_ids``
                (B, L), ``pixel_values`` (P, C*), ``image_grid_thw`` (I, 3), ``n_views`` (B
                ints summing to I), ``masks`` (per sample, per view (N_v, H, W) bool),
                ``region_refs`` (per sample (view, object) pairs), optional ``labels`` (B, L),
                ``track_ids`` and ``object_labels`` (per sample, per view (N_v,) long).

        Returns:
            ``logits`` (B, L, V); ``losses``: ``answer``, ``supcon``, ``triplet``,
            ``retrieval_top1`` (scalars, present when ``labels``/``object_labels`` are given);
            ``loss``: the weighted total (Eq. 6) or None; ``samples``: the per-sample stage
            outputs of :meth:`perceive_and_align`.
        """
        dev = self._device
        prep = self.prepare(batch)
        self._inner.rope_deltas = None
        with self.inject(prep["values"], prep["where"]):
            out = self.backbone(
                input_ids=prep["safe"],
                attention_mask=batch["attention_mask"].to(dev),
                mm_token_type_ids=batch["mm_token_type_ids"].to(dev),
                image_grid_thw=prep["grid"],
                mm_encoder_outputs={"image": prep["vis"]},
                use_cache=False,
            )
        losses: dict[str, Tensor] = {}
        if batch.get("labels") is not None:
            losses["answer"] = answer_ce(out.logits, batch["labels"].to(dev))
        if batch.get("object_labels") is not None:
            losses.update(self.contrastive_losses(prep["samples"], batch["object_labels"]))
        c = self.config
        weights = {"answer": c.w_answer, "supcon": c.w_supcon, "triplet": c.w_triplet}
        if not c.use_supcon:
            weights["supcon"] = 0.0
        if not c.use_triplet:
            weights["triplet"] = 0.0
        trainable = {k: v for k, v in losses.items() if k in weights}
        loss = total_loss(trainable, weights) if trainable else None
        return {"logits": out.logits, "losses": losses, "loss": loss, "samples": prep["samples"]}

    @torch.no_grad()
    def generate(self, batch: dict[str, Any], max_new_tokens: int = 16) -> Tensor:
        """Greedy generation from a left-padded batch (``with_answer=False``).

        Returns:
            (B, T) the new token ids only.
        """
        dev = self._device
        prep = self.prepare(batch)
        self._inner.rope_deltas = None
        with self.inject(prep["values"], prep["where"]):
            seq = self.backbone.generate(
                input_ids=prep["safe"],
                attention_mask=batch["attention_mask"].to(dev),
                mm_token_type_ids=batch["mm_token_type_ids"].to(dev),
                pixel_values=batch["pixel_values"].to(dev),
                image_grid_thw=prep["grid"],
                max_new_tokens=max_new_tokens,
                do_sample=False,
            )
        return seq[:, prep["safe"].shape[1] :]

    @torch.no_grad()
    def next_token_logprobs(self, batch: dict[str, Any]) -> Tensor:
        """(B, V) log-probabilities of the token after each prompt (left-padded batch)."""
        logits = self.forward(batch)["logits"]
        return torch.log_softmax(logits[:, -1].float(), dim=-1)


def config_summary(config: CrossViewerConfig) -> str:
    """A one-line JSON of the settings that change the computation (for logs)."""
    keys = (
        "num_object_tokens",
        "match_mode",
        "use_art",
        "use_cross_attention",
        "use_supcon",
        "use_triplet",
        "box_as_mask",
        "w_answer",
        "w_supcon",
        "w_triplet",
    )
    return json.dumps({k: getattr(config, k) for k in keys})


def build_crossviewer(backbone: str, **overrides: Any) -> tuple[CrossViewerModel, Any]:
    """A fresh CrossViewer (random ART/OCVA/adapter) and its processor on a backbone.

    Args:
        backbone: Qwen3-VL folder or hub id.
        overrides: :class:`CrossViewerConfig` fields.

    Returns:
        ``(model, processor)``.
    """
    from crossview.model.processor_crossviewer import CrossViewerProcessor

    config = CrossViewerConfig(backbone=str(backbone), **overrides)
    processor = CrossViewerProcessor.from_pretrained(backbone, config)
    return CrossViewerModel(config, special_ids=processor.special_ids), processor


def load_crossviewer(path: str | Path, **overrides: Any) -> tuple[CrossViewerModel, Any]:
    """Load a checkpoint folder written by ``save_pretrained(..., processor=...)``."""
    from crossview.model.processor_crossviewer import CrossViewerProcessor

    model = CrossViewerModel.from_pretrained(path, **overrides)
    proc_dir = Path(path) / "processor"
    if not proc_dir.is_dir():
        raise BadInputError("the checkpoint has no processor/ folder", file=path)
    return model, CrossViewerProcessor.from_pretrained(proc_dir, model.config)
