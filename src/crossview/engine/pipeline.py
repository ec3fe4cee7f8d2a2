"""``crossview generate``: scene store -> question dataset.

Steps, each over files and idempotent:

1. **propose** (per scene, parallel, resumable): every question type proposes candidates from
   the scene's ground truth; quality rules drop the rest, counted by rule. Written to
   ``DATASET/shards/<scene_id>.pkl``; a shard made with the same settings is reused.
2. **select** (global, deterministic): per type, candidates are interleaved across scenes,
   answer positions balanced (permutable options are rotated so each position is gold equally
   often; fixed yes/no style options are balanced by choosing candidates), up to the quota.
3. **split**: scene groups (a rig's scenes stay together) go to train / val / test; held-out
   attribute values form ``test_ood``.
4. **build** (per scene, parallel): records for every protocol, overlay images rendered.
5. **write**: ``questions.jsonl``, ``manifest.json`` and the dataset card ``README.md``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import pickle
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crossview.dataset.record import Record
from crossview.engine.build import build_record, overlay_colors
from crossview.engine.config import GENERATOR_VERSION, GenerateConfig
from crossview.errors import BadInputError
from crossview.files import atomic_write
from crossview.scene.store import link_or_copy, list_scenes, read_scene, write_json
from crossview.scene.validate import validate_paths
from crossview.tasks.base import Candidate, Option, Rejections, SceneContext, get_task

SPLITS = ("train", "val", "test")


def stable_int(*parts: Any) -> int:
    """A 63-bit integer from strings, stable across processes and Python versions."""
    h = hashlib.sha1("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(h[:8], "little") >> 1


@dataclass
class Shard:
    """Candidates of one scene, per type, with the drop counts of the quality rules."""

    scene_id: str
    config_hash: str
    candidates: dict[str, list[Candidate]] = field(default_factory=dict)
    rejections: Rejections = field(default_factory=Rejections)
    rig_id: str | None = None
    source: str = ""
    attributes: dict[int, dict[str, str]] = field(default_factory=dict)


@dataclass
class GenerateReport:
    """What ``generate`` did: counts, drops, skipped scenes with reasons."""

    out: Path
    records: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    by_split: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped_scenes: dict[str, str] = field(default_factory=dict)
    shortfall: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time per stage: validate, propose, select, build, write."""


def _scene_others(scene_dir: Path, rig_id: str | None, rigs: dict[str, list[Path]]) -> dict:
    if not rig_id:
        return {}
    return {p.name: read_scene(p) for p in rigs.get(rig_id, []) if p != scene_dir}


def propose_scene(
    scene_dir: Path,
    task_ids: list[str],
    config: GenerateConfig,
    shard_path: Path,
    rigs: dict[str, list[Path]] | None = None,
) -> Shard:
    """Propose candidates of ``task_ids`` for one scene, reusing a matching shard on disk."""
    chash = config.shard_hash()
    shard: Shard | None = None
    if shard_path.is_file():
        try:
            with open(shard_path, "rb") as fh:
                shard = pickle.load(fh)
        except Exception:
            shard = None
        if shard is not None and shard.config_hash != chash:
            shard = None
    missing = [t for t in task_ids if shard is None or t not in shard.candidates]
    if not missing and shard is not None:
        return shard
    scene = read_scene(scene_dir)
    if shard is None:
        shard = Shard(
            scene.scene_id,
            chash,
            rig_id=scene.rig_id,
            source=scene.source,
            attributes={t: dict(i.attributes) for t, i in scene.instances.items()},
        )
    ctx = SceneContext(scene, config.quality, _scene_others(scene_dir, scene.rig_id, rigs or {}))
    for type_id in missing:
        gen = get_task(type_id)
        rng = np.random.default_rng([config.seed, stable_int(scene.scene_id), stable_int(type_id)])
        cap = config.candidates_per_scene
        seen, near, kept = set(), set(), []
        per_answer: Counter = Counter()
        unmet = gen.unmet_needs(scene)
        for need in unmet:
            ctx.rejections.drop(type_id, f"scene_lacks_{need}")
        for cand in [] if unmet else gen.propose(ctx, rng):
            cand.rows = option_rows(cand, ctx)
            cand.sizes = option_sizes(cand, ctx)
            k = cand.key()
            if k in seen:
                ctx.rejections.drop(type_id, "duplicate")
                continue
            seen.add(k)
            # the build colours overlays with another seed; the search is complete, so a
            # candidate colourable here is colourable there
            if (
                cand.protocol != "marker"
                and overlay_colors(cand, ctx, np.random.default_rng(0)) is None
            ):
                ctx.rejections.drop(type_id, "no_overlay_colours_that_stand_out")
                continue
            nk = near_key(cand)
            if nk is not None and nk in near:
                ctx.rejections.drop(type_id, "near_duplicate")
                continue
            if nk is not None:
                near.add(nk)
            # a cap per answer (fixed-order types) or per gold camera (image options), so a
            # rare answer or camera is not crowded out by a common one
            answer = _answer_key(cand)
            if answer is not None:
                if per_answer[answer] >= cap:
                    continue
                per_answer[answer] += 1
            kept.append(cand)
            if len(kept) >= (cap if answer is None else cap * max(1, len(cand.options))):
                break
        shard.candidates[type_id] = kept
    shard.rejections.update(ctx.rejections)
    with atomic_write(shard_path, "wb") as fh:
        pickle.dump(shard, fh)
    return shard


def _answer_key(cand: Candidate) -> object | None:
    """What a per-answer cap counts: the gold index of a fixed-order type, the gold image's
    camera of an image-option type, None (one cap for all) otherwise."""
    if not cand.permutable:
        return cand.gold
    g = cand.gold_option if cand.options else None
    if g is not None and g.view is not None:
        return cand.views[g.view].camera
    return None


def near_key(cand: Candidate) -> tuple | None:
    """What makes two object-referring questions the same question in other words: the type,
    the set of images, the set of objects and the gold answer (a label, an image or the gold
    object), whatever the phrasing or the order of images and options. None for marker
    questions (their marks make them distinct)."""
    if not cand.refs:
        return None
    g = cand.gold_option
    gold = (
        g.label
        if g.label is not None
        else cand.views[g.view]
        if g.view is not None
        else cand.refs[g.ref].track_id
        if g.ref is not None
        else g.text
    )
    return (
        cand.type_id,
        frozenset(cand.views),
        frozenset(r.track_id for r in cand.refs),
        gold,
    )


# ------------------------------------------------------------------------------ select


def _interleave(per_scene: dict[str, list[Candidate]], rng: np.random.Generator) -> list:
    """Round-robin over scenes (in a seeded order) so no scene dominates a type."""
    order = [per_scene[s] for s in sorted(per_scene)]
    order = [order[i] for i in rng.permutation(len(order))]
    out = []
    for row in itertools.zip_longest(*order):
        out.extend(c for c in row if c is not None)
    return out


def _object_masks(cand: Candidate, ctx: SceneContext, o: Option) -> list[tuple[int, np.ndarray]]:
    """(view index, visible mask) of the object option ``o`` names, in each image it is marked
    in (its same-colour group), where it has visible pixels; empty for other options."""
    if o.ref is None:
        return []
    groups = {k: g for g in cand.same_color for k in g}
    out = []
    for k in groups.get(o.ref, [o.ref]):
        ref = cand.refs[k]
        m = ctx.mask(ctx.view(cand.views[ref.view]), ref.track_id)
        if m.any():
            out.append((ref.view, m))
    return out


def option_rows(cand: Candidate, ctx: SceneContext) -> list[list[tuple[int, float]]]:
    """Per option, (view index, image row / height) of what it names: the centroid of the
    object's visible mask in each image it is marked in (object options), or the option's
    mark in the last image, an arrow by its head (marker options); empty for other options."""
    out: list[list[tuple[int, float]]] = []
    for o in cand.options:
        rows = [
            (v, float(np.nonzero(m)[0].mean()) / m.shape[0]) for v, m in _object_masks(cand, ctx, o)
        ]
        if o.ref is None and o.label is not None:
            for mk in cand.marks:
                if mk.color == o.label and mk.view == len(cand.views) - 1:
                    uv = mk.uv_end if mk.kind == "arrow" and mk.uv_end is not None else mk.uv
                    rows.append((mk.view, uv[1] / ctx.view(cand.views[mk.view]).camera.height))
        out.append(rows)
    return out


def option_sizes(cand: Candidate, ctx: SceneContext) -> list[list[tuple[int, float]]]:
    """Per option, (view index, visible area / image area) of the object it names in each
    image it is marked in; empty for options that are not objects."""
    return [[(v, float(m.mean())) for v, m in _object_masks(cand, ctx, o)] for o in cand.options]


def _distinct_per_view(
    per_option: list[list[tuple[int, float]]],
) -> Iterator[tuple[int, list[float]]]:
    """(view index, one value per option) for each view where every option has a value and
    no two are equal (ties give no rank), from per-option (view, value) lists."""
    for v in sorted({v for values in per_option for v, _ in values}):
        at = [dict(values).get(v) for values in per_option]
        if all(x is not None for x in at) and len(set(at)) == len(at):
            yield v, at  # type: ignore[misc]


def balance_keys(cand: Candidate) -> list[set[str]]:
    """Per option, what it means beyond its letter: the camera of an image option, the label
    of a label option (alone and with the camera of each image: "no" when Image 2 is the
    wrist camera), the colour of a marker option, and for object and marker options their
    rank from the top of the image (:func:`option_rows`: the object missing from Image 2 must
    not usually be the one highest in Image 1) and, for object options, which one is the
    largest in each image (:func:`option_sizes`)."""
    marks = {m.color for m in cand.marks}
    out = []
    for o in cand.options:
        keys: set[str] = set()
        if o.view is not None:
            keys.add(f"camera:{cand.views[o.view].camera}")
        elif o.label is not None and o.label in marks:
            keys.add(f"color:{o.label}")
        elif o.label is not None:
            keys.add(f"label:{o.label}")
            keys |= {f"{o.label}|image{i + 1}:{v.camera}" for i, v in enumerate(cand.views)}
            # the label with the question's wording: a phrasing must not predict the answer
            keys.add(f"{o.label}|phrasing:{cand.question}")
        out.append(keys)
    # the rank of each option from the top of each image it is shown in: which candidate is
    # highest or lowest must not tell the answer (the nearest object is the least hidden, and
    # grows most); ties (arrows from one tail) give no rank
    for v, at in _distinct_per_view(cand.rows):
        for rank, i in enumerate(np.argsort(at, kind="stable")):
            out[int(i)].add(f"row_rank:{v}:{rank}")
    # and the largest object in each image: the nearest object is the largest, and it is the
    # occluder (Q8) more often than chance (a key per size rank cut Q8 and Q11 by half)
    for v, at in _distinct_per_view(cand.sizes):
        out[int(np.argmax(at))].add(f"largest:{v}")
    return out


def _expected_share(cand: Candidate, keys: list[set[str]]) -> Counter:
    """Per key, the share of this item's gold a uniform guess would give it."""
    return Counter({k: sum(k in ks for ks in keys) / len(keys) for k in set().union(*keys)})


def balanced_by_meaning(
    pool: list[tuple[str, Candidate]], quota: int | None = None, slack: float = 1.0
) -> list[tuple[str, Candidate]]:
    """Keep candidates, in pool order, so that no option meaning predicts the answer.

    For every key of :func:`balance_keys` (a camera, a label, a label with an image's camera)
    the number of items whose gold has that key stays within ``slack`` of its fair share, the
    sum over the items offering the key of (options with the key) / (options). Candidates are
    removed until that holds, always the one whose gold's keys are most over their shares in
    total (the last in pool order among equals); so a type whose gold is always the wrist
    camera keeps only what is balanced (and reports the shortfall) instead of teaching "pick
    the wrist camera". With a quota, the first ``quota`` kept are taken and balanced again,
    refilled from the rest until the quota is met or nothing is left.
    """
    keys = {id(c): balance_keys(c) for _, c in pool if c.options}

    def eliminate(items: list[tuple[str, Candidate]]) -> list[tuple[str, Candidate]]:
        items = list(items)
        gold: Counter = Counter()
        fair: Counter = Counter()
        for _, c in items:
            if c.options:
                gold.update(keys[id(c)][c.gold])
                fair.update(_expected_share(c, keys[id(c)]))
        while True:
            over = {k: gold[k] - fair[k] for k in gold if gold[k] - fair[k] > slack + 1e-9}
            if not over:
                return items
            # the item whose gold carries the most excess over all its keys (the last such)
            score = [
                sum(over.get(k, 0.0) for k in keys[id(c)][c.gold]) if c.options else 0.0
                for _, c in items
            ]
            top = max(score)
            i = max(j for j, x in enumerate(score) if x >= top - 1e-9)
            c = items.pop(i)[1]
            gold.subtract(keys[id(c)][c.gold])
            fair.subtract(_expected_share(c, keys[id(c)]))

    kept = eliminate(pool)
    if quota is None or len(kept) <= quota:
        return kept
    return _fill_balanced(pool, keys, quota, slack)


def _fill_balanced(
    pool: list[tuple[str, Candidate]], keys: dict[int, list[set[str]]], quota: int, slack: float
) -> list[tuple[str, Candidate]]:
    """Up to ``quota`` candidates added in pool order while every key stays within ``slack``
    of its fair share; a candidate that does not fit yet is tried again after the others
    (adding items raises the fair shares of what they offer), until the quota is met or a
    pass adds nothing. Every prefix of the result is balanced, so the result is."""
    gold: Counter = Counter()
    fair: Counter = Counter()
    chosen: list[tuple[str, Candidate]] = []
    pending = list(pool)
    while pending and len(chosen) < quota:
        waiting = []
        for item in pending:
            c = item[1]
            if len(chosen) >= quota:
                break
            if not c.options:
                chosen.append(item)
                continue
            share = _expected_share(c, keys[id(c)])
            g = keys[id(c)][c.gold]
            if all(gold[k] + 1 - fair[k] - share[k] <= slack + 1e-9 for k in g):
                gold.update(g)
                fair.update(share)
                chosen.append(item)
            else:
                waiting.append(item)
        if len(waiting) == len(pending):
            break
        pending = waiting
    return chosen


def spread_out(pool: list[tuple[str, Candidate]], quota: int) -> list[tuple[str, Candidate]]:
    """Coordinate items, in pool order, whose gold regions do not pile up in one place.

    Objects sit near the middle of most images, so "answer the centre" would beat chance. A
    candidate is passed over when a pixel of its gold region is already covered by K chosen
    gold regions, K = max(1, ceil(expected coverage)) where the expected coverage of a pixel
    is the chosen regions' summed share of the image: then no fixed point lies in more gold
    regions than a uniform guess would. When pool order leaves the quota short, the
    selection is made again smallest gold region first (the greedy packing that fits most
    regions side by side; the rule itself never loosens) and the larger one is kept.
    """
    out = _spread_pass(pool, quota)
    if len(out) < quota:
        small_first = sorted(pool, key=lambda x: int(x[1].gold_mask[1].sum()))
        packed = _spread_pass(small_first, quota)
        if len(packed) > len(out):
            out = packed
    return out


def _spread_pass(pool: list[tuple[str, Candidate]], quota: int) -> list[tuple[str, Candidate]]:
    cover: dict[tuple[int, int], np.ndarray] = {}
    expected = 0.0
    out: list[tuple[str, Candidate]] = []
    for sid, cand in pool:
        if len(out) >= quota:
            break
        mask = cand.gold_mask[1]
        share = float(mask.mean())
        c = cover.setdefault(mask.shape, np.zeros(mask.shape, np.int32))
        limit = max(1, int(np.ceil(expected + share)))
        if mask.any() and int(c[mask].max()) >= limit:
            continue
        c[mask] += 1
        expected += share
        out.append((sid, cand))
    return out


def select(
    shards: list[Shard], task_ids: list[str], config: GenerateConfig
) -> tuple[dict[str, list[tuple[str, Candidate]]], dict[str, int]]:
    """Choose up to ``per_task`` candidates per type with balanced gold positions.

    Returns ``({type: [(scene_id, candidate)]}, {type: shortfall})``.
    """
    chosen: dict[str, list[tuple[str, Candidate]]] = {}
    shortfall: dict[str, int] = {}
    for type_id in task_ids:
        info = get_task(type_id).info
        rng = np.random.default_rng([config.seed, stable_int("select", type_id)])
        per_scene = {
            s.scene_id: [(s.scene_id, c) for c in s.candidates.get(type_id, [])] for s in shards
        }
        pool = _interleave(per_scene, rng)
        if pool and pool[0][1].answer_kind != "point":
            quota = config.per_task if pool[0][1].permutable else None
            pool = balanced_by_meaning(pool, quota)
        if not pool:
            shortfall[type_id] = config.per_task
            chosen[type_id] = []
            continue
        if pool[0][1].answer_kind == "point":  # coordinate answers: spread over the image
            out = spread_out(pool, config.per_task)
        elif pool[0][1].permutable:
            picked = pool[: config.per_task]
            n_opt = len(pool[0][1].options)
            slots = np.resize(np.arange(n_opt), len(picked))
            slots = slots[rng.permutation(len(slots))]
            out = []
            for (sid, cand), pos in zip(picked, slots, strict=False):
                n = len(cand.options)
                others = [i for i in range(n) if i != cand.gold]
                others = [others[i] for i in rng.permutation(len(others))]
                order = [*others[:pos], cand.gold, *others[pos:]]
                out.append((sid, cand.permuted(order)))
        else:
            n_opt = info.n_options
            extra = set(rng.permutation(n_opt)[: config.per_task % n_opt].tolist())
            # answers balanced exactly, meanings within their slack: trimming to equal answer
            # counts can unbalance a meaning, so the items that then fail are set aside and
            # the answers refilled from the rest, until both hold
            banned: set[int] = set()
            while True:
                rest = balanced_by_meaning([x for x in pool if id(x[1]) not in banned])
                out = _equal_answers(rest, n_opt, config.per_task, extra)
                ok = {id(c) for _, c in balanced_by_meaning(out)}
                dropped = {id(c) for _, c in out} - ok
                if not dropped:
                    break
                banned |= dropped
        if len(out) < config.per_task:
            shortfall[type_id] = config.per_task - len(out)
        chosen[type_id] = out
    return chosen, shortfall


def _equal_answers(
    pool: list[tuple[str, Candidate]], n_opt: int, quota: int, extra: set[int]
) -> list[tuple[str, Candidate]]:
    """Fixed-order candidates with each answer equally often: the quota split evenly over the
    answers (the remainder to the answers in ``extra``); a scarce answer limits the others to
    one more than it has, so the gold answer counts never differ by more than one."""
    by_gold: dict[int, list] = defaultdict(list)
    for sid, cand in pool:
        by_gold[cand.gold].append((sid, cand))
    scarce = min(len(by_gold[g]) for g in range(n_opt))
    take = [min(quota // n_opt + (g in extra), len(by_gold[g]), scarce + 1) for g in range(n_opt)]
    rows = itertools.zip_longest(*(by_gold[g][: take[g]] for g in range(n_opt)))
    return [x for row in rows for x in row if x is not None]


def assign_splits(shards: list[Shard], config: GenerateConfig) -> dict[str, str]:
    """Scene id -> split. Scenes of one rig stay together; held-out sources / rigs -> test_ood."""
    ood = config.holdout
    groups: dict[str, list[str]] = defaultdict(list)
    out: dict[str, str] = {}
    for s in shards:
        if ("source" in ood and s.source == ood["source"]) or (
            "rig" in ood and s.rig_id == ood["rig"]
        ):
            out[s.scene_id] = "test_ood"
        else:
            groups[s.rig_id or s.scene_id].append(s.scene_id)
    names = sorted(groups)
    rng = np.random.default_rng([config.seed, stable_int("splits")])
    names = [names[i] for i in rng.permutation(len(names))]
    fr = np.asarray(config.splits, dtype=float)
    if fr.shape != (3,) or (fr < 0).any() or fr.sum() <= 0:
        raise BadInputError(
            f"--splits needs three non-negative fractions, got {config.splits}", field="splits"
        )
    sizes = split_sizes(len(names), fr)
    bounds = np.cumsum(sizes)
    for i, g in enumerate(names):
        split = SPLITS[int(np.searchsorted(bounds, i, side="right"))]
        for sid in groups[g]:
            out[sid] = split
    return out


def split_sizes(n: int, fractions: np.ndarray) -> list[int]:
    """Group counts per split: largest remainders, and at least one group for every split with
    a non-zero fraction when there are enough groups (so a small store still has a test set)."""
    fr = fractions / fractions.sum()
    want = fr * n
    sizes = np.floor(want).astype(int)
    for i in np.argsort(-(want - sizes), kind="stable")[: n - sizes.sum()]:
        sizes[i] += 1
    nonzero = np.flatnonzero(fr > 0)
    if n >= len(nonzero):
        for i in nonzero:
            if sizes[i] == 0:
                sizes[int(np.argmax(sizes))] -= 1
                sizes[i] = 1
    return [int(x) for x in sizes]


def _holds_out(cand: Candidate, attrs: dict[int, dict[str, str]], holdout: dict) -> bool:
    for key in ("color", "shape"):
        if key in holdout and any(
            attrs.get(r.track_id, {}).get(key) == holdout[key] for r in cand.refs
        ):
            return True
    return False


# ------------------------------------------------------------------------------ build


@dataclass
class _Job:
    scene_dir: Path
    items: list[tuple[str, str, Candidate, str, bool]]  # (sample_id, type, cand, split, open)
    rig_dirs: list[Path]


def _build_scene(job: _Job, out: Path, config: GenerateConfig) -> list[dict]:
    scene = read_scene(job.scene_dir)
    others = {p.name: read_scene(p) for p in job.rig_dirs if p != job.scene_dir}
    ctx = SceneContext(scene, config.quality, others)
    used = {k for _, _, cand, _, _ in job.items for k in cand.views}
    paths = {}
    for s in [scene, *others.values()]:
        for v in s.views:
            key = (s.scene_id, v.camera.name, v.timestep)
            if any((k.scene_id, k.camera, k.timestep) == key for k in used):
                paths[key] = link_image(v.image_path, out / "images" / s.scene_id)
    records = []
    for sample_id, type_id, cand, split, open_ended in job.items:
        info = get_task(type_id).info
        rng = np.random.default_rng([config.seed, stable_int("colors", sample_id)])
        prov = {
            "scene_id": scene.scene_id,
            "source": scene.source,
            "rig_id": scene.rig_id,
            "seed": config.seed,
            "generator": "crossview",
            "generator_version": GENERATOR_VERSION,
        }
        records.append(
            build_record(
                cand,
                ctx,
                info=info,
                sample_id=sample_id,
                split=split,
                open_ended=open_ended,
                dataset_dir=out,
                image_paths=paths,
                rng=rng,
                provenance=prov,
                paraphrases=config.paraphrases,
            )
        )
    for v in scene.views:
        v.release()
    return records


def link_image(src: Path, folder: Path) -> Path:
    """Make a store image part of the dataset without copying it: a hard link (same file,
    no extra space), or a copy where links are impossible (another file system).

    A dataset is then self-contained: every path in it stays inside its folder, which is what
    an evaluation harness may read.
    """
    dst = folder / src.name
    link_or_copy(src, dst)
    return dst


def _map(fn: Callable, jobs: list, workers: int, label: str, executor: str = "local") -> list:
    """Run ``fn`` over ``jobs`` with a progress bar, results in job order: in this process
    (workers <= 1), a process pool, or one Ray task per job (``executor="ray"``)."""
    from crossview.executors import run_jobs

    return run_jobs(fn, jobs, executor=executor, workers=workers, label=label)


def _propose_job(args: tuple) -> Shard | tuple[str, str]:
    scene_dir, task_ids, config, shard_path, rigs = args
    try:
        return propose_scene(scene_dir, task_ids, config, shard_path, rigs)
    except BadInputError as exc:
        return (scene_dir.name, exc.describe())


def _build_job(args: tuple) -> list[dict]:
    job, out, config = args
    return _build_scene(job, out, config)


def generate(
    store: str | Path,
    out: str | Path,
    config: GenerateConfig | None = None,
    workers: int = 1,
    executor: str = "local",
) -> GenerateReport:
    """Generate a question dataset from a scene store into ``out`` (see module docstring).

    Args:
        store: the scene store to read.
        out: the dataset folder to write (resumable: finished shards are reused).
        config: what to generate; defaults of :class:`GenerateConfig` when None.
        workers: local: processes; ray: most tasks in flight (``<= 0``: no limit).
        executor: ``local`` or ``ray`` (one task per scene; the same output for the same seed).
    """
    from crossview.executors import check_executor

    check_executor(executor)
    config = config or GenerateConfig()
    store, out = Path(store), Path(out)
    task_ids = config.task_ids()
    report = GenerateReport(out)
    clock = _Clock(report.seconds)
    scene_dirs = list_scenes(store)
    if not scene_dirs:
        raise BadInputError("no scenes found (a store is a folder of scene folders)", file=store)
    good = []
    for d in scene_dirs:
        vr = validate_paths([d])
        if not vr.valid:
            report.skipped_scenes[d.name] = f"fails validation: {vr.summary()}"
        else:
            good.append(d)
    clock.lap("validate")
    (out / "shards").mkdir(parents=True, exist_ok=True)
    rig_of = {d: json.loads((d / "scene.json").read_text()).get("rig_id") for d in good}
    rigs: dict[str, list[Path]] = defaultdict(list)
    for d in good:
        if rig_of[d]:
            rigs[rig_of[d]].append(d)
    jobs = [
        (
            d,
            task_ids,
            config,
            out / "shards" / f"{d.name}.pkl",
            {rig_of[d]: rigs[rig_of[d]]} if rig_of[d] else {},
        )  # only the scene's own rig
        for d in good
    ]
    shards = []
    for r in _map(_propose_job, jobs, workers, "proposing", executor):
        if isinstance(r, tuple):
            report.skipped_scenes[r[0]] = r[1]
        else:
            shards.append(r)
    for s in shards:
        if sum(len(v) for v in s.candidates.values()) == 0:
            report.skipped_scenes.setdefault(
                s.scene_id, "no question could be made (too few views or objects)"
            )
    clock.lap("propose")
    rejections = Rejections()
    for s in shards:
        rejections.update(s.rejections)
    report.dropped = rejections.by_type()

    chosen, report.shortfall = select(shards, task_ids, config)
    splits = assign_splits(shards, config)
    attrs = {s.scene_id: s.attributes for s in shards}
    per_scene: dict[str, list] = defaultdict(list)
    counters: Counter = Counter()
    for type_id in task_ids:
        rng = np.random.default_rng([config.seed, stable_int("open", type_id)])
        for sid, cand in chosen[type_id]:
            split = splits[sid]
            if config.holdout and _holds_out(cand, attrs[sid], config.holdout):
                if split != "test":
                    report.dropped.setdefault(type_id, {}).setdefault("held_out_value", 0)
                    report.dropped[type_id]["held_out_value"] += 1
                    continue
                split = "test_ood"
            n = counters[(sid, type_id)]
            counters[(sid, type_id)] += 1
            sample_id = f"{sid}-{type_id.replace(' ', '_')}-{n:03d}"
            per_scene[sid].append((sample_id, type_id, cand, split, False))
            if cand.answer_kind == "choice" and rng.random() < config.open_ended_fraction:
                per_scene[sid].append((f"{sample_id}-open", type_id, cand, split, True))
    clock.lap("select")
    dirs = {d.name: d for d in good}
    build_jobs = [
        (_Job(dirs[sid], items, rigs.get(shard_rig(shards, sid), [])), out, config)
        for sid, items in sorted(per_scene.items())
    ]
    records = [r for rs in _map(_build_job, build_jobs, workers, "rendering", executor) for r in rs]
    clock.lap("build")
    records.sort(key=lambda r: r["sample_id"])
    _write(out, records, config, report, task_ids)
    clock.lap("write")
    return report


class _Clock:
    def __init__(self, into: dict[str, float]) -> None:
        self.into, self.t = into, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.into[name] = self.into.get(name, 0.0) + now - self.t
        self.t = now


def shard_rig(shards: list[Shard], scene_id: str) -> str | None:
    return next((s.rig_id for s in shards if s.scene_id == scene_id), None)


def _write(
    out: Path,
    records: list[dict],
    config: GenerateConfig,
    report: GenerateReport,
    task_ids: list[str],
) -> None:
    from crossview.engine.card import dataset_card

    with atomic_write(out / "questions.jsonl") as fh:
        for r in records:
            fh.write(json.dumps(r, sort_keys=True) + "\n")
    by_type = Counter(r["question_type"] for r in records)
    by_split = Counter(r["split"] for r in records)
    by_type_split: dict[str, dict[str, int]] = defaultdict(dict)
    for (t, s), n in sorted(Counter((r["question_type"], r["split"]) for r in records).items()):
        by_type_split[t][s] = n
    report.records = len(records)
    report.by_type = {t: by_type.get(t, 0) for t in task_ids}
    report.by_split = dict(sorted(by_split.items()))
    manifest = {
        "format": "crossview-dataset",
        "version": 1,
        "generator_version": GENERATOR_VERSION,
        "seed": config.seed,
        "config": config.to_json(),
        "types": task_ids,
        "counts": {
            "total": len(records),
            "by_type": report.by_type,
            "by_split": report.by_split,
            "by_type_split": dict(by_type_split),
            "open_ended": sum(r["open_ended"] for r in records),
        },
        "dropped": report.dropped,
        "shortfall": report.shortfall,
        "skipped_scenes": report.skipped_scenes,
    }
    write_json(out / "manifest.json", manifest)
    card = dataset_card(manifest, [Record.from_json(r) for r in records])
    (out / "README.md").write_text(card, encoding="utf-8")
