"""Scoring: one answer against its gold, and accuracy tables over a run.

Pure functions: items and prediction records in, numbers out; no file I/O.

- a model's "no answer" counts as wrong and its rate is reported;
- a backend failure (no response obtained) is not a model answer: it is excluded from accuracy,
  listed, and marks the run incomplete;
- accuracy per type, per category and per family, overall micro and macro over types, each with
  a Wilson 95% interval, next to the random-baseline accuracy computed from the option counts;
- next to Wilson, a scene-clustered 95% interval (cluster-robust standard error, t with
  clusters - 1 degrees of freedom): items made from one scene are correlated, so an interval
  that treats them as independent is too narrow;
- a paired comparison of two runs on their shared items: the accuracy difference with a
  clustered interval, and the discordant counts.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from crossview.eval.extract import Extraction, normalize_free
from crossview.eval.items import EvalItem, GoldMask
from crossview.eval.prompts import IMAGE_ORDER, variant_kind

Z95 = 1.959963984540054


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n``.

    Returns ``(0.0, 1.0)`` for ``n == 0`` (nothing is known).
    """
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p = k / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom (beyond: the normal's).
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (normal beyond 30)."""
    if df < 1:
        raise ValueError(f"need df >= 1, got {df}")
    return _T975[df - 1] if df <= len(_T975) else Z95


def cluster_key(item: EvalItem) -> str:
    """What an item's correlation cluster is: its rig (the scenes of one rig share a world),
    else its scene, from the record's provenance; an item with neither is its own cluster."""
    prov = item.meta.get("provenance") or {}
    for key in ("rig_id", "scene_id"):
        if prov.get(key):
            return f"{key.split('_')[0]}:{prov[key]}"
    return f"item:{item.id}"


def _cluster_sums(
    values: Sequence[float], clusters: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Per cluster: (sum of values, item count), in first-seen cluster order."""
    index: dict[str, int] = {}
    for c in clusters:
        index.setdefault(c, len(index))
    idx = np.array([index[c] for c in clusters], dtype=int)
    total = np.bincount(idx, weights=np.asarray(values, float), minlength=len(index))
    count = np.bincount(idx, minlength=len(index)).astype(float)
    return total, count


def clustered_interval(
    values: Sequence[float],
    clusters: Sequence[str],
    bounds: tuple[float, float] = (0.0, 1.0),
) -> tuple[float, float]:
    """95% interval of a mean when items come in correlated clusters (scenes).

    The mean is the item mean (sum over items / item count); its variance is the cluster-robust
    (CR1) one, ``C / (C - 1) * sum_c (y_c - mean * n_c)^2 / N^2`` over the C clusters (``y_c``
    the cluster's sum, ``n_c`` its size), and the interval uses Student's t with ``C - 1``
    degrees of freedom, so a benchmark of few scenes gets the wide interval it deserves.

    Args:
        values: per item, the quantity averaged (1/0 correct; -1/0/1 for a paired difference).
        clusters: per item, its cluster key (:func:`cluster_key`).
        bounds: the range the interval is clipped to.

    Returns:
        ``(lo, hi)``; ``(nan, nan)`` with no items; ``bounds`` with one cluster (nothing is
        known about the spread between clusters).
    """
    if len(values) != len(clusters):
        raise ValueError(f"{len(values)} values for {len(clusters)} cluster keys")
    if not len(values):
        return float("nan"), float("nan")
    total, count = _cluster_sums(values, clusters)
    c = len(total)
    if c == 1:
        return bounds
    n = float(count.sum())
    mean = float(total.sum() / n)
    var = c / (c - 1) * float(((total - mean * count) ** 2).sum()) / (n * n)
    half = t975(c - 1) * math.sqrt(var)
    return max(bounds[0], mean - half), min(bounds[1], mean + half)


def paired_comparison(
    a: Mapping[str, bool], b: Mapping[str, bool], clusters: Mapping[str, str]
) -> dict[str, Any]:
    """Model A against model B on the items both answered: difference with a clustered CI.

    Args:
        a, b: ``{item id: correct}`` of each run (plain variant).
        clusters: ``{item id: cluster key}``; an id missing is its own cluster.

    Returns:
        ``n`` shared items, ``clusters``, ``accuracy_a``, ``accuracy_b``, ``difference``
        (A - B), ``ci95`` of the difference (:func:`clustered_interval` of the paired
        differences), ``a_only`` and ``b_only`` (items only one run got right) and
        ``verdict``: ``A better``, ``B better`` (the interval excludes 0) or ``no clear
        difference``.
    """
    ids = sorted(set(a) & set(b))
    diff = [float(a[i]) - float(b[i]) for i in ids]
    keys = [clusters.get(i, f"item:{i}") for i in ids]
    lo, hi = clustered_interval(diff, keys, (-1.0, 1.0)) if ids else (float("nan"),) * 2
    d = float(np.mean(diff)) if ids else float("nan")
    verdict = "A better" if lo > 0 else "B better" if hi < 0 else "no clear difference"
    return {
        "n": len(ids),
        "clusters": len(set(keys)),
        "accuracy_a": float(np.mean([a[i] for i in ids])) if ids else float("nan"),
        "accuracy_b": float(np.mean([b[i] for i in ids])) if ids else float("nan"),
        "difference": d,
        "ci95": [lo, hi],
        "a_only": sum(1 for i in ids if a[i] and not b[i]),
        "b_only": sum(1 for i in ids if b[i] and not a[i]),
        "verdict": verdict if ids else "no shared items",
    }


def point_in_image(u: float, v: float, width: int, height: int) -> bool:
    """True when pixel-centre coordinates ``(u, v)`` lie in a W x H image (conventions.md)."""
    return -0.5 <= u < width - 0.5 and -0.5 <= v < height - 0.5


def point_in_mask(u: float, v: float, mask: np.ndarray) -> bool:
    """True when ``(u, v)`` (pixels) falls on a True pixel of the (H, W) bool mask."""
    h, w = mask.shape
    if not point_in_image(u, v, w, h):
        return False
    return bool(mask[math.floor(v + 0.5), math.floor(u + 0.5)])


def free_match(predicted: str, gold: str) -> bool:
    """Normalised match: equal, or the gold phrase as whole words in a short prediction."""
    p, g = normalize_free(predicted), normalize_free(gold)
    if not g:
        return False
    if p == g:
        return True
    pw, gw = p.split(), g.split()
    if len(pw) > len(gw) + 3:
        return False
    return any(pw[i : i + len(gw)] == gw for i in range(len(pw) - len(gw) + 1))


MRA_THRESHOLDS = tuple(0.5 + 0.05 * k for k in range(10))
"""Confidence thresholds of mean relative accuracy: 0.50, 0.55, ..., 0.95 (VSI-Bench's
``.5:.95:.05``, as SPAR-Bench's scorer evaluates ``np.linspace(.5, .95, 10)``)."""


def mean_relative_accuracy(predicted: float, gold: float) -> float:
    """Mean over the thresholds ``t`` of ``|predicted - gold| / |gold| <= 1 - t`` (the absolute
    error when ``gold`` is 0): 1.0 within 5% relative error, 0.0 beyond 50%."""
    err = abs(predicted - gold) / abs(gold) if gold != 0 else abs(predicted - gold)
    return sum(err <= 1 - t + 1e-12 for t in MRA_THRESHOLDS) / len(MRA_THRESHOLDS)


def score(
    item: EvalItem, answer: str, extraction: Extraction, mask: np.ndarray | None = None
) -> tuple[bool | float, str]:
    """Score one extraction against the gold ``answer`` (a letter for rotated variants).

    Args:
        item: the item (its answer kind and gold mask).
        answer: the gold letter of this variant (choice), or the gold text (free).
        extraction: what the extractor found.
        mask: the decoded gold mask for point items (decoded here when not given).

    Returns:
        ``(correct, note)``; note is ``no answer: <reason>``, ``outside image`` or empty.
        ``correct`` is a bool, except for number items: their mean relative accuracy (a
        credit in [0, 1], :func:`mean_relative_accuracy`).
    """
    if not extraction.answered:
        return False, f"no answer: {extraction.reason}"
    if item.answer_kind == "choice":
        return extraction.value == answer, ""
    if item.answer_kind == "free":
        return free_match(str(extraction.value), answer), ""
    if item.answer_kind == "number":
        return mean_relative_accuracy(float(str(extraction.value)), float(answer)), ""
    gm = item.gold_mask
    assert gm is not None and isinstance(extraction.value, tuple)
    u, v = extraction.value
    if not point_in_image(u, v, gm.width, gm.height):
        return False, "outside image"
    m = gm.decode() if mask is None else mask
    return point_in_mask(u, v, m), ""


def mask_fraction(gm: GoldMask) -> float:
    """Mask area / image area: the chance a uniformly random point lands in the gold mask."""
    if gm.rle is not None:
        from crossview.geometry.masks import rle_area

        return rle_area(gm.rle) / float(gm.width * gm.height)
    return float(gm.decode().mean())


def random_baseline(item: EvalItem) -> float:
    """Expected accuracy of a uniform random answer: 1/#options, mask fraction, 0 for free."""
    if item.answer_kind == "choice":
        return 1.0 / len(item.options)
    if item.answer_kind == "point" and item.gold_mask is not None:
        return mask_fraction(item.gold_mask)
    return 0.0


def _stat(
    outcomes: Sequence[tuple[bool, bool]],
    baseline: float | None = None,
    clusters: Sequence[str] | None = None,
) -> dict[str, Any]:
    """``outcomes``: (correct, no_answer) per scored item, correct a bool or a credit in
    [0, 1]; ``clusters`` their cluster keys."""
    n = len(outcomes)
    k = sum(c for c, _ in outcomes)
    na = sum(a for _, a in outcomes)
    lo, hi = wilson_interval(k, n)
    out: dict[str, Any] = {
        "accuracy": k / n if n else 0.0,
        "n": n,
        "correct": k,
        "ci95": [lo, hi],
        "no_answer": na,
        "no_answer_rate": na / n if n else 0.0,
    }
    if clusters is not None and n:
        clo, chi = clustered_interval([float(c) for c, _ in outcomes], clusters)
        out["ci95_clustered"] = [clo, chi]
        out["clusters"] = len(set(clusters))
    if baseline is not None:
        out["random_baseline"] = baseline
    return out


def accuracy_tables(
    items: Sequence[EvalItem],
    outcomes: Mapping[str, tuple[bool, bool]],
    baselines: Mapping[str, float],
) -> dict[str, Any]:
    """Accuracy overall (micro), macro over types, and per type / category / family.

    Args:
        items: all items of the run (those missing from ``outcomes`` are not scored).
        outcomes: ``{item id: (correct, no_answer)}`` for scored items only.
        baselines: ``{item id: random-baseline accuracy}``.

    Each table has ``ci95`` (Wilson, items independent) and ``ci95_clustered`` with
    ``clusters`` (:func:`clustered_interval` over :func:`cluster_key`).
    """
    cluster = {it.id: cluster_key(it) for it in items}
    groups: dict[str, dict[str, list[str]]] = {
        "by_type": defaultdict(list),
        "by_category": defaultdict(list),
        "by_family": defaultdict(list),
        "by_level": defaultdict(list),
    }
    for it in items:
        groups["by_type"][it.type].append(it.id)
        for c in it.categories or (it.type,):
            groups["by_category"][c].append(it.id)
        if it.family:
            groups["by_family"][it.family].append(it.id)
        if "level" in it.meta:
            groups["by_level"][f"{it.type} / {it.meta['level']}"].append(it.id)

    def table(ids: Iterable[str]) -> dict[str, Any]:
        ids = list(ids)
        base = float(np.mean([baselines[i] for i in ids])) if ids else 0.0
        scored = [i for i in ids if i in outcomes]
        return _stat([outcomes[i] for i in scored], base, [cluster[i] for i in scored])

    out: dict[str, Any] = {"overall": table(it.id for it in items)}
    for name, g in groups.items():
        if g:
            out[name] = {key: table(ids) for key, ids in sorted(g.items())}
    types = [t for t in out["by_type"].values() if t["n"]]
    out["macro_over_types"] = float(np.mean([t["accuracy"] for t in types])) if types else 0.0
    out["random_baseline_macro"] = (
        float(np.mean([t["random_baseline"] for t in out["by_type"].values()]))
        if out["by_type"]
        else 0.0
    )
    return out


def summarize(
    items: Sequence[EvalItem],
    records: Mapping[tuple[str, int], Mapping[str, Any]],
    variants: Mapping[str, Sequence[int]],
    circular: bool,
    consistency: bool = False,
) -> dict[str, Any]:
    """Build the score part of ``summary.json`` from the final prediction records.

    Args:
        items: the items of the run.
        records: ``{(id, variant): record}`` with ``status`` (``answered`` or ``failed``),
            ``correct`` and ``no_answer``; a missing key was never answered.
        variants: ``{item id: its variant ids}`` (``[0]``; rotations ``1..n-1`` with circular
            or consistency; ``IMAGE_ORDER`` and ``PARAPHRASE + j`` with consistency).
        circular: also report circular accuracy (an item counts when every rotation is right).
        consistency: also report consistency (:func:`consistency_tables`).
    """
    baselines = {it.id: random_baseline(it) for it in items}
    plain: dict[str, tuple[bool, bool]] = {}
    failed, missing = [], []
    for it in items:
        rec = records.get((it.id, 0))
        if rec is None:
            missing.append(it.id)
        elif rec["status"] != "answered":
            failed.append(it.id)
        else:
            plain[it.id] = (float(rec["correct"]), bool(rec["no_answer"]))
    out = accuracy_tables(items, plain, baselines)
    out["failed_ids"] = failed
    out["missing_ids"] = missing
    incomplete = bool(failed or missing)
    if circular:
        circ: dict[str, tuple[bool, bool]] = {}
        circ_failed = []
        for it in items:
            recs = [records.get((it.id, k)) for k in variants[it.id] if k < IMAGE_ORDER]
            if any(r is None or r["status"] != "answered" for r in recs):
                circ_failed.append(it.id)
                continue
            circ[it.id] = (
                all(r["correct"] for r in recs),  # type: ignore[index]
                any(r["no_answer"] for r in recs),  # type: ignore[index]
            )
        tables = accuracy_tables(items, circ, baselines)
        for key in ("by_type", "by_category"):
            for t in tables.get(key, {}).values():
                t.pop("random_baseline", None)
        tables["overall"].pop("random_baseline", None)
        tables["failed_ids"] = circ_failed
        out["circular"] = tables
        incomplete = incomplete or bool(circ_failed)
    if consistency:
        out["consistency"] = consistency_tables(items, records, variants)
    out["complete"] = not incomplete
    return out


def consistency_tables(
    items: Sequence[EvalItem],
    records: Mapping[tuple[str, int], Mapping[str, Any]],
    variants: Mapping[str, Sequence[int]],
) -> dict[str, Any]:
    """How stable answers are over the variants that must not change them.

    An item counts when it has two or more variants, all answered (not a backend failure).
    ``all_right``: every variant right. ``stable``: the same answer every time: the same
    option of the item (read through the rotation) for multiple choice, the same correctness
    for free and point answers (their texts can differ legitimately). ``by_kind``: accuracy
    per variant kind (plain, rotation, image order, paraphrase), so a drop can be traced.
    Overall and per type; items without variants are counted in ``single``.
    """
    per_type: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    kinds: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    all_kinds: dict[str, list[bool]] = defaultdict(list)
    single = 0
    for it in items:
        keys = list(variants.get(it.id, [0]))
        recs = [records.get((it.id, k)) for k in keys]
        if len(keys) < 2:
            single += 1
            continue
        if any(r is None or r["status"] != "answered" for r in recs):
            continue
        right = [bool(r["correct"]) for r in recs]  # type: ignore[index]
        if it.answer_kind == "choice":
            stable = len({r.get("picked") for r in recs}) == 1  # type: ignore[union-attr]
        else:
            stable = len(set(right)) == 1
        per_type[it.type].append((all(right), stable))
        for k, ok in zip(keys, right, strict=True):
            kinds[it.type][variant_kind(k)].append(ok)
            all_kinds[variant_kind(k)].append(ok)

    def table(rows: list[tuple[bool, bool]], by_kind: dict[str, list[bool]]) -> dict[str, Any]:
        n = len(rows)
        return {
            "items": n,
            "all_right": sum(a for a, _ in rows) / n if n else 0.0,
            "stable": sum(b for _, b in rows) / n if n else 0.0,
            "by_kind": {
                k: {"accuracy": float(np.mean(v)), "n": len(v)} for k, v in by_kind.items()
            },
        }

    everything = [row for rows in per_type.values() for row in rows]
    return {
        "overall": table(everything, all_kinds),
        "by_type": {t: table(rows, kinds[t]) for t, rows in sorted(per_type.items())},
        "single": single,
    }


def gold_point(gm: GoldMask) -> tuple[float, float]:
    """A point surely inside the gold mask: the file's point if inside, else the mask pixel
    nearest to the mask's centroid. Used by the ``oracle`` baseline."""
    mask = gm.decode()
    if gm.point is not None and point_in_mask(gm.point[0], gm.point[1], mask):
        return gm.point
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        raise ValueError("empty gold mask")
    d = (rows - rows.mean()) ** 2 + (cols - cols.mean()) ** 2
    k = int(np.argmin(d))
    return float(cols[k]), float(rows[k])
