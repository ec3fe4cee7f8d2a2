"""Per-type accuracy of the classical solver beside the random baseline and the oracle.

Generates a benchmark with the engine (or reuses one), evaluates ``classical``, ``random``
and ``oracle`` through the harness, prints a per-type table with Wilson 95% intervals and
writes it into docs/classical.md between the ``BENCH`` markers, with the command that made it.

    MUJOCO_GL=egl python benchmarks/bench_classical.py --scenes 8 --per-task 40
    python benchmarks/bench_classical.py --bench /tmp/cls/ds/questions.jsonl   # reuse a dataset
    MUJOCO_GL=egl python benchmarks/bench_classical.py --check --no-doc --workers 2

``--check`` also holds the solver to the per-type accuracies measured on that 8-scene,
40-per-type benchmark (seed 1), the checks the test suite ran at full size before it moved to a
4-scene benchmark (tests/eval/test_classical.py): exit 1 when one fails.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crossview.eval.backends import BackendSettings
from crossview.eval.runner import CACHE_DIR, EvalConfig, run_eval

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "classical.md"
BEGIN, END = "<!-- BENCH:BEGIN -->", "<!-- BENCH:END -->"
MODELS = ("classical", "random", "oracle")

# Accuracy (a no-answer counts as wrong) at least chance + margin, measured on 8 scenes, 40 per
# type, seed 1 (sim-1.2): point correspondence 51 vs 18, spatial verification 77 vs 23,
# judgement 51 vs 20, Q1 61 vs 23, Q3 58 vs 30, Q4 71 vs 24, Q5 78 vs 44, Q8 34 vs 20, Q9 50 vs
# 25, Q14 40 vs 22, Q17 55 vs 45, directional correspondence 46 vs 22, language localization 88
# vs 41.
MARGINS = {
    "point_correspondence": 0.2,
    "spatial_verification": 0.3,
    "Correspondence-Judgement": 0.08,
    "Q1": 0.2,
    "Q3": 0.15,
    "Q4": 0.4,
    "Q5": 0.15,
    "Q8": 0.08,
    "Q9": 0.08,
    "Q14": 0.12,
    "Q17": 0.05,
    "directional_correspondence": 0.1,
    "language_conditioned_localization": 0.3,
}
# On the items it answers: every correspondence type chance + 0.15; the table-plane and layout
# rules nearly always right; Q14 measured 78%.
ON_ANSWERED_MARGIN = ("point_correspondence", "Correspondence-Judgement", "Q1", "Q2", "Q3")
ON_ANSWERED_MIN = {
    "Q4": 0.85, "Q5": 0.85, "Q6": 0.85, "Q17": 0.85, "language_conditioned_localization": 0.85,
    "Q14": 0.7,
}  # fmt: skip


def check(summary: dict) -> list[str]:
    """The full-size checks on a classical run's summary: a line per failed check."""
    by = summary["by_type"]
    fails = []

    def on_answered(t: str) -> float:
        answered = by[t]["n"] - by[t]["no_answer"]
        return by[t]["correct"] / answered if answered else 0.0

    for t, m in MARGINS.items():
        if t in by and by[t]["accuracy"] < by[t]["random_baseline"] + m:
            fails.append(f"{t}: accuracy {by[t]['accuracy']:.3f} < chance + {m}")
    for t in ON_ANSWERED_MARGIN:
        if t in by and on_answered(t) < by[t]["random_baseline"] + 0.15:
            fails.append(f"{t}: on answered {on_answered(t):.3f} < chance + 0.15")
    for t, low in ON_ANSWERED_MIN.items():
        if t in by and on_answered(t) < low:
            fails.append(f"{t}: on answered {on_answered(t):.3f} < {low}")
    vp = by.get("viewpoint_localization")
    answered_vp = vp is not None and vp["n"] - vp["no_answer"] >= 5
    if answered_vp and on_answered("viewpoint_localization") < vp["random_baseline"] + 0.2:
        fails.append("viewpoint_localization: on answered < chance + 0.2")
    if "Fine-grained Grounding" in by and by["Fine-grained Grounding"]["accuracy"] < 0.15:
        fails.append("Fine-grained Grounding: accuracy < 0.15")
    if not set(summary["no_answer_reasons"]) <= {"no answer: refusal"}:
        fails.append(f"a no-answer that is not a refusal: {summary['no_answer_reasons']}")
    if "Q2" in by and by["Q2"]["no_answer_rate"] >= 0.6:
        fails.append("Q2: no-answer rate >= 0.6")
    return fails


def _generate(work: Path, scenes: int, per_task: int, seed: int) -> Path:
    py = [sys.executable, "-m", "crossview"]
    store, ds = work / "store", work / "ds"
    subprocess.run(
        [*py, "sim", "--out", str(store), "--scenes", str(scenes), "--seed", str(seed)],
        check=True,
    )
    subprocess.run(
        [*py, "generate", "--scenes", str(store), "--out", str(ds), "--family", "all"]
        + ["--per-task", str(per_task)],
        check=True,
    )
    return ds / "questions.jsonl"


def speed(bench: Path, work: Path, cold_s: float, n_items: int, workers: int) -> None:
    """Print the classical row's time per item, cold and warm (the result cache filled by the
    cold run), against the floor: SIFT + ORB once on every distinct image of the benchmark,
    one thread, shared by ``workers`` processes."""
    import cv2
    import numpy as np

    from crossview.classical.cache import image_key
    from crossview.classical.features import detect
    from crossview.eval.loaders import load_benchmark

    t0 = time.perf_counter()
    warm = EvalConfig(
        bench=bench, model="classical", out=work / "run_classical_warm",
        backend=BackendSettings(workers=workers),
    )  # fmt: skip
    run_eval(warm)
    warm_s = time.perf_counter() - t0
    seen: set[str] = set()
    images = []
    for it in load_benchmark(bench).items:
        for src in it.images:
            img = np.asarray(src.open())
            key = image_key(img)
            if key not in seen:
                seen.add(key)
                images.append(img)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    t0 = time.perf_counter()
    for img in images:
        detect(img)
    floor_s = (time.perf_counter() - t0) / workers
    cv2.setNumThreads(threads)
    n = max(n_items, 1)
    print(
        f"classical, {n_items} items, {workers} worker(s): cold {cold_s:.1f} s = "
        f"{1000 * cold_s / n:.1f} ms per item; warm (result cache) {warm_s:.1f} s = "
        f"{1000 * warm_s / n:.1f} ms per item\n"
        f"floor: SIFT + ORB once on each of the {len(images)} distinct images, one thread, "
        f"over {workers} worker(s): {floor_s:.1f} s = {1000 * floor_s / n:.1f} ms per item; "
        f"cold / floor = {cold_s / floor_s:.2f}, warm / floor = {warm_s / floor_s:.2f}"
    )


def _cell(v: dict) -> str:
    lo, hi = v["ci95"]
    return f"{100 * v['accuracy']:.1f} [{100 * lo:.0f}, {100 * hi:.0f}]"


def table(summaries: dict[str, dict]) -> str:
    """Markdown table: one row per type, accuracy [Wilson 95%] per model, no-answer rate."""
    cls = summaries["classical"]
    types = sorted(cls["by_type"], key=lambda t: (not t.startswith("Q"), len(t), t))
    head = (
        "| type | n | classical | classical no-answer | classical on answered | random "
        "| oracle |\n|---|---:|---:|---:|---:|---:|---:|\n"
    )
    rows = []
    for t in types:
        c = cls["by_type"][t]
        answered = c["n"] - c["no_answer"]
        prec = f"{100 * c['correct'] / answered:.0f}" if answered else "-"
        rows.append(
            f"| {t} | {c['n']} | {_cell(c)} | {100 * c['no_answer_rate']:.0f}% | {prec}"
            f" | {_cell(summaries['random']['by_type'][t])}"
            f" | {_cell(summaries['oracle']['by_type'][t])} |"
        )
    o = {m: s["overall"] for m, s in summaries.items()}
    rows.append(
        f"| **all** | {o['classical']['n']} | {_cell(o['classical'])} | "
        f"{100 * o['classical']['no_answer_rate']:.0f}% | - | {_cell(o['random'])} "
        f"| {_cell(o['oracle'])} |"
    )
    return head + "\n".join(rows) + "\n"


def main() -> None:
    """Run the benchmark and update docs/classical.md."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bench", type=Path, help="an existing questions.jsonl (skip generation)")
    ap.add_argument("--scenes", type=int, default=8)
    ap.add_argument("--per-task", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    ap.add_argument("--no-doc", action="store_true", help="print only")
    ap.add_argument("--workers", type=int, default=1, help="processes for the classical solver")
    ap.add_argument("--check", action="store_true", help="hold to the measured accuracies")
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="bench_classical_"))
    bench = a.bench or _generate(work, a.scenes, a.per_task, a.seed)
    summaries = {}
    times = {}
    shutil.rmtree(work / CACHE_DIR, ignore_errors=True)  # the classical run starts cold
    for m in MODELS:
        t0 = time.perf_counter()
        cfg = EvalConfig(
            bench=bench, model=m, out=work / f"run_{m}", backend=BackendSettings(workers=a.workers)
        )
        summaries[m] = run_eval(cfg)
        times[m] = time.perf_counter() - t0
    tab = table(summaries)
    print(tab)
    speed(bench, work, times["classical"], summaries["classical"]["n_items"], a.workers)
    cmd = "python benchmarks/bench_classical.py " + " ".join(sys.argv[1:])
    n_items = summaries["classical"]["n_items"]
    body = (
        f"{BEGIN}\n\nCommand: `MUJOCO_GL=egl {cmd.strip()}` ({n_items} items; classical "
        f"{times['classical']:.0f} s with {a.workers} worker(s), "
        f"{1000 * times['classical'] * a.workers / max(n_items, 1):.0f} ms per item and "
        "worker). Accuracy in %, "
        'Wilson 95% interval in brackets; a no-answer counts as wrong; "on answered" is the '
        "accuracy over the items the solver did answer.\n\n"
        f"{tab}\n{END}"
    )
    (work / "classical_table.json").write_text(
        json.dumps({m: s["by_type"] for m, s in summaries.items()}, indent=1), encoding="utf-8"
    )
    if not a.no_doc and DOC.is_file():
        text = DOC.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            text = text[: text.index(BEGIN)] + body + text[text.index(END) + len(END) :]
        else:
            text += "\n" + body + "\n"
        DOC.write_text(text, encoding="utf-8")
    if a.check:
        fails = check(summaries["classical"])
        for line in fails:
            print(f"FAIL {line}")
        print(f"check: {len(fails)} of the full-size checks failed")
        if fails:
            sys.exit(1)


if __name__ == "__main__":
    main()
