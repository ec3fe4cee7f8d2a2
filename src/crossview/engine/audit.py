"""``crossview audit``: blind solvers that must not beat chance on a benchmark.

A benchmark leaks when an answer can be found without the reasoning the question asks for:
from the words alone, from which label is usually right, from which camera an image comes
from, from how the record lists its marks, from one image's statistics. The audit runs a
battery of such blind solvers (:mod:`crossview.engine.audit_probes`) on every choice type and
two on coordinate types, scores each per type with a Wilson interval, and flags a (type,
probe) pair when its lower bound, at a confidence corrected for the number of pairs tested
(Bonferroni), lies above chance.

Learned probes are fitted and scored scene-disjointly: items are split into folds by scene,
and each fold is answered by a conditional-logit model fitted on the other folds. Chance is
the expected accuracy of a uniform guess (mean of 1 / options; for coordinate answers the
gold region's share of the image). A probe's tie between k options, the gold among them,
scores 1 / k, so a probe that cannot tell options apart scores chance exactly.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.stats import norm

from crossview.dataset.record import Record
from crossview.engine.audit_probes import PROBES, ItemReader
from crossview.errors import BadInputError
from crossview.eval.items import LETTERS
from crossview.eval.scoring import point_in_mask, wilson_interval
from crossview.geometry import rle_decode
from crossview.scene.store import iter_jsonl


@dataclass
class ProbeScore:
    """One probe on one question type."""

    type_id: str
    probe: str
    n: int
    correct: float
    accuracy: float
    chance: float
    ci95: tuple[float, float]
    lower_corrected: float
    """Wilson lower bound at the Bonferroni-corrected confidence of the whole audit."""
    flagged: bool = False
    intended: str | None = None
    """Why this probe's cue is the question's own evidence (never flagged), if it is."""


@dataclass
class AuditReport:
    """Every (type, probe) score, the flagged ones, and the correction used."""

    dataset: str
    alpha: float
    tests: int
    z_corrected: float
    scores: list[ProbeScore] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    """Items no probe could read, by reason."""

    @property
    def flagged(self) -> list[ProbeScore]:
        return [s for s in self.scores if s.flagged]

    @property
    def clean(self) -> bool:
        return not self.flagged

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["flagged"] = [f"{s.type_id}/{s.probe}" for s in self.flagged]
        return d


# ----------------------------------------------------------------------------- fitting


def _stack(feats: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(N, K, D) features padded with zeros and the (N, K) mask of real options."""
    k = max(f.shape[0] for f in feats)
    d = feats[0].shape[1]
    X = np.zeros((len(feats), k, d))
    valid = np.zeros((len(feats), k), bool)
    for i, f in enumerate(feats):
        X[i, : len(f)] = f
        valid[i, : len(f)] = True
    return X, valid


def fit_conditional_logit(
    X: np.ndarray, valid: np.ndarray, gold: np.ndarray, l2: float = 1.0
) -> np.ndarray:
    """Weights (D,) of a conditional logit: P(option k) = softmax_k(X[i, k] @ w), L2-penalised.

    Args:
        X: (N, K, D) option features; valid: (N, K) real options; gold: (N,) gold indices.
    """
    n, _, d = X.shape

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        s = np.where(valid, X @ w, -np.inf)
        s = s - s.max(1, keepdims=True)
        p = np.exp(s)
        z = p.sum(1, keepdims=True)
        p = p / z
        nll = -(s[np.arange(n), gold] - np.log(z[:, 0])).sum()
        grad = np.einsum("nk,nkd->d", p, X) - X[np.arange(n), gold].sum(0)
        return nll + l2 * float(w @ w), grad + 2 * l2 * w

    res = minimize(loss, np.zeros(d), jac=True, method="L-BFGS-B", options={"maxiter": 200})
    return res.x


def _credit(scores: np.ndarray, gold: int) -> float:
    """1 / k when the gold is among the k options tied for the highest score, else 0."""
    top = np.flatnonzero(scores >= scores.max() - 1e-9)
    return 1.0 / len(top) if gold in top else 0.0


def _folds(groups: list[str], k: int, seed: int) -> list[int]:
    names = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(names))
    fold_of = {names[j]: i % k for i, j in enumerate(order)}
    return [fold_of[g] for g in groups]


def learned_credits(
    feats: list[np.ndarray], gold: list[int], groups: list[str], seed: int = 0
) -> list[float] | None:
    """Scene-disjoint cross-validated credits of a conditional logit; None with < 2 scenes."""
    n_groups = len(set(groups))
    if n_groups < 2:
        return None
    k = min(5, n_groups)
    fold = np.asarray(_folds(groups, k, seed))
    X, valid = _stack(feats)
    g = np.asarray(gold)
    out = np.zeros(len(feats))
    for f in range(k):
        tr, te = fold != f, fold == f
        mu = X[tr][valid[tr]].mean(0)
        sd = X[tr][valid[tr]].std(0)
        keep = sd > 1e-9
        if not keep.any():
            out[te] = [1.0 / valid[i].sum() for i in np.flatnonzero(te)]
            continue
        Z = np.where(valid[..., None], (X[..., keep] - mu[keep]) / sd[keep], 0.0)
        w = fit_conditional_logit(Z[tr], valid[tr], g[tr])
        for i in np.flatnonzero(te):
            s = Z[i, valid[i]] @ w
            out[i] = _credit(np.round(s, 9), g[i])
    return out.tolist()


# ----------------------------------------------------------------------------- reading


def _gold_index(rec: Record) -> int | None:
    ans = rec.answer
    if len(ans) != 1 or ans not in LETTERS:
        return None
    return LETTERS.index(ans)


def _group(rec: Record) -> str:
    return rec.scene_id or rec.sample_id


def read_records(dataset: Path) -> list[Record]:
    """The records of ``dataset/questions.jsonl``, each checked by :meth:`Record.from_json`
    (clear errors naming file, line and field)."""
    path = dataset / "questions.jsonl"
    if not path.is_file():
        raise BadInputError("no questions.jsonl (is this a crossview dataset?)", file=dataset)
    return [Record.from_json(rec, path, f"line {n + 1}") for n, rec in iter_jsonl(path)]


# ---------------------------------------------------------------------- point probes


def _point_probes(rec: Record) -> dict[str, tuple[float, float]] | None:
    """Fixed guesses for a coordinate item that need no reasoning: the image centre, and (for
    two images) the pixel of Image 1's dot repeated in the gold image. (The learned location
    prior is :func:`location_prior_credits`.)"""
    gold = rec.gold or {}
    if "mask_rle" not in gold:
        return None
    v = int(gold.get("view", 0))
    w, h = rec.views[v]["width"], rec.views[v]["height"]
    out = {"image_centre": ((w - 1) / 2, (h - 1) / 2)}
    marks = rec.protocols.get("marker", {}).get("marks", [])
    first = [m for m in marks if m["view"] == 0]
    if v != 0 and first:
        out["same_pixel"] = (float(first[0]["uv"][0]), float(first[0]["uv"][1]))
    return out


# ------------------------------------------------------------------------------ audit


def audit_dataset(
    dataset: str | Path,
    *,
    alpha: float = 0.05,
    seed: int = 0,
    split: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AuditReport:
    """Run every probe on every type of a dataset (see module docstring).

    Args:
        dataset: a folder with ``questions.jsonl`` (``crossview generate``).
        alpha: family-wise error rate of the flags (Bonferroni over all (type, probe) pairs).
        seed: seed of the scene folds.
        split: only items of this split (default: all).
        progress: called with (types done, types) while it runs.
    """
    dataset = Path(dataset)
    records = read_records(dataset)
    if split is not None:
        records = [r for r in records if r.split == split]
    if not records:
        raise BadInputError("no records to audit", file=dataset / "questions.jsonl")
    by_type: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        if r.open_ended:
            continue
        by_type[r.question_type].append(r)
    cache: dict[str, np.ndarray] = {}
    raw: list[tuple[str, str, list[float], list[float]]] = []  # type, probe, credits, chance
    skipped: dict[str, int] = defaultdict(int)
    for done, (type_id, recs) in enumerate(sorted(by_type.items())):
        if recs[0].answer_kind == "point":
            raw += _audit_points(type_id, recs, skipped, seed)
        else:
            raw += _audit_choices(type_id, recs, dataset, cache, skipped, seed)
        cache.clear()
        if progress:
            progress(done + 1, len(by_type))
    tests = max(1, len(raw))
    z = float(norm.ppf(1 - alpha / tests))
    report = AuditReport(str(dataset), alpha, tests, z, skipped=dict(skipped))
    for type_id, probe, credits, chance in raw:
        n = len(credits)
        c = float(sum(credits))
        ch = float(np.mean(chance))
        lo, hi = wilson_interval(c, n)
        lo_z, _ = wilson_interval(c, n, z)
        why = _intended(type_id).get(probe)
        report.scores.append(
            ProbeScore(
                type_id,
                probe,
                n,
                c,
                c / n,
                ch,
                (lo, hi),
                lo_z,
                flagged=lo_z > ch and why is None,
                intended=why,
            )
        )
    return report


def _intended(type_id: str) -> dict[str, str]:
    from crossview.tasks import all_tasks

    cls = all_tasks().get(type_id)
    return dict(cls.intended_cues) if cls is not None else {}


def _audit_choices(
    type_id: str,
    recs: list[Record],
    dataset: Path,
    cache: dict[str, np.ndarray],
    skipped: dict[str, int],
    seed: int,
) -> list[tuple[str, str, list[float], list[float]]]:
    readers, golds = [], []
    for r in recs:
        g = _gold_index(r)
        if g is None or not r.options:
            skipped["no_letter_answer"] += 1
            continue
        try:
            readers.append(ItemReader(r, dataset, cache))
        except (KeyError, IndexError, TypeError):
            skipped["unreadable_record"] += 1
            continue
        golds.append(g)
    out = []
    for probe in PROBES:
        credits, chance, feats, gold, groups = [], [], [], [], []
        for it, g in zip(readers, golds):
            try:
                x = probe.fn(it)
            except FileNotFoundError:
                skipped["missing_image"] += 1
                x = None
            if x is None or len(x) != it.n:
                continue
            if probe.kind == "rule":
                credits.append(_credit(np.asarray(x, float), g))
            else:
                feats.append(np.asarray(x, float))
                gold.append(g)
                groups.append(_group(it.rec))
            chance.append(1.0 / it.n)
        if probe.kind == "learned" and feats:
            if len({f.shape[1] for f in feats}) != 1:
                continue
            learned = learned_credits(feats, gold, groups, seed)
            if learned is None:
                continue
            credits = learned
        if credits:
            out.append((type_id, probe.name, credits, chance))
    return out


LOCATION_GRID = (48, 64)
"""Rows and columns of the grid on which the location prior counts gold regions."""


def _on_grid(mask: np.ndarray) -> np.ndarray:
    """(48, 64) float: the share of each grid cell that the (H, W) mask covers."""
    import cv2

    return cv2.resize(mask.astype(np.float32), LOCATION_GRID[::-1], interpolation=cv2.INTER_AREA)


def location_prior_credits(masks: list[np.ndarray], groups: list[str], seed: int = 0) -> list:
    """Scene-disjoint credits of "answer where the gold usually is": per fold, the grid cell
    most covered by the other folds' gold regions, answered at its centre."""
    if len(set(groups)) < 2:
        return []
    k = min(5, len(set(groups)))
    fold = np.asarray(_folds(groups, k, seed))
    grids = np.stack([_on_grid(m) for m in masks])
    out = [0.0] * len(masks)
    for f in range(k):
        heat = grids[fold != f].sum(0)
        r, c = np.unravel_index(int(np.argmax(heat)), heat.shape)
        for i in np.flatnonzero(fold == f):
            h, w = masks[i].shape
            uv = ((c + 0.5) * w / LOCATION_GRID[1] - 0.5, (r + 0.5) * h / LOCATION_GRID[0] - 0.5)
            out[i] = float(point_in_mask(*uv, masks[i]))
    return out


def _audit_points(
    type_id: str, recs: list[Record], skipped: dict[str, int], seed: int = 0
) -> list[tuple[str, str, list[float], list[float]]]:
    per: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    masks, groups = [], []
    for r in recs:
        guesses = _point_probes(r)
        if guesses is None:
            skipped["no_gold_mask"] += 1
            continue
        mask = rle_decode((r.gold or {})["mask_rle"]).astype(bool)
        share = float(mask.mean())
        masks.append(mask)
        groups.append(_group(r))
        for name, uv in guesses.items():
            per[name][0].append(float(point_in_mask(*uv, mask)))
            per[name][1].append(share)
    loc = location_prior_credits(masks, groups, seed)
    if loc:
        per["location_prior"] = (loc, [float(m.mean()) for m in masks])
    return [(type_id, name, c, ch) for name, (c, ch) in sorted(per.items())]


# ----------------------------------------------------------------------------- report


def audit_markdown(report: AuditReport) -> str:
    """A markdown section: per type the chance and each probe's accuracy; flags in bold."""
    probes = [p.name for p in PROBES] + ["image_centre", "location_prior", "same_pixel"]
    present = [p for p in probes if any(s.probe == p for s in report.scores)]
    by = {(s.type_id, s.probe): s for s in report.scores}
    types = list(dict.fromkeys(s.type_id for s in report.scores))
    lines = [
        "## Shortcut audit",
        "",
        f"Blind solvers (`crossview audit`) scored per type, in % (chance beside). A cell in "
        f"**bold** is flagged: its Wilson lower bound at the corrected confidence (z = "
        f"{report.z_corrected:.2f}, family-wise alpha {report.alpha} over {report.tests} "
        f"tests) lies above chance. "
        + (
            "No shortcut beats chance."
            if report.clean
            else f"{len(report.flagged)} flagged: "
            + ", ".join(f"{s.type_id}/{s.probe}" for s in report.flagged)
            + "."
        ),
        "",
        "| type | n | chance | " + " | ".join(present) + " |",
        "| --- | ---: | ---: | " + " | ".join("---:" for _ in present) + " |",
    ]
    for t in types:
        row = [s for s in report.scores if s.type_id == t]
        cells = []
        for p in present:
            s = by.get((t, p))
            if s is None:
                cells.append("")
            else:
                cell = f"{100 * s.accuracy:.0f}"
                cells.append(f"**{cell}**" if s.flagged else cell + ("†" if s.intended else ""))
        lines.append(
            f"| {t} | {row[0].n} | {100 * row[0].chance:.0f} | " + " | ".join(cells) + " |"
        )
    notes = [s for s in report.scores if s.intended]
    if notes:
        lines += ["", "† the probe reads the question's own evidence (not flagged):", ""]
        lines += [f"- {s.type_id} / {s.probe}: {s.intended}" for s in notes]
    return "\n".join(lines) + "\n"


def write_audit(dataset: str | Path, report: AuditReport) -> Path:
    """Write ``audit.json`` beside the questions and add the audit to the dataset card."""
    from crossview.engine.card import dataset_card
    from crossview.scene.store import write_json

    dataset = Path(dataset)
    path = dataset / "audit.json"
    write_json(path, report.to_json())
    manifest_path = dataset / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        card = dataset_card(manifest, read_records(dataset), audit=report)
        (dataset / "README.md").write_text(card, encoding="utf-8")
    return path


def flagged_lines(report: AuditReport) -> Iterable[str]:
    """One line per flagged (type, probe): accuracy, interval, chance."""
    for s in report.flagged:
        yield (
            f"{s.type_id}: {s.probe} scores {100 * s.accuracy:.1f}% "
            f"(95% CI {100 * s.ci95[0]:.1f}-{100 * s.ci95[1]:.1f}, n={s.n}) "
            f"against chance {100 * s.chance:.1f}%"
        )
