"""Per-type accuracy of the classical-vision solver next to random and the oracle.

Simulates a store, generates every family, evaluates ``classical``, ``random`` and ``oracle``
through the harness, prints a per-type table with Wilson 95% intervals and writes it to
docs/classical.md (with this command).

    MUJOCO_GL=egl python benchmarks/bench_classical.py [--scenes 24] [--per-task 200] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "classical.md"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=24)
    ap.add_argument("--per-task", type=int, default=200)
    ap.add_argument("--out", type=Path, default=Path("/tmp/crossview-bench-classical"))
    ap.add_argument("--write-doc", action="store_true", help="rewrite docs/classical.md")
    args = ap.parse_args()

    from crossview.engine.config import GenerateConfig
    from crossview.engine.pipeline import generate
    from crossview.eval.runner import EvalConfig, run_eval
    from crossview.sources.sim.config import SimConfig
    from crossview.sources.sim.runner import run_sim

    t0 = time.perf_counter()
    run_sim(args.out / "store", SimConfig(cameras=5), scenes=args.scenes, seed=0, workers=2)
    generate(
        args.out / "store",
        args.out / "ds",
        GenerateConfig(family="all", per_task=args.per_task, open_ended_fraction=0),
        workers=2,
    )
    sums = {}
    for m in ("classical", "random", "oracle"):
        run = args.out / "runs" / m
        sums[m] = run_eval(
            EvalConfig(
                bench=args.out / "ds" / "questions.jsonl",
                model=m,
                out=run,
                resume=(run / "predictions.jsonl").is_file(),
            )
        )
    cmd = (
        f"MUJOCO_GL=egl python benchmarks/bench_classical.py --scenes {args.scenes} "
        f"--per-task {args.per_task} --write-doc"
    )

    def cell(s: dict) -> str:
        lo, hi = s["ci95"]
        return f"{100 * s['accuracy']:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"

    rows = [
        "| type | n | classical [95% CI] | abstained | random [95% CI] | chance | oracle |",
        "| --- | ---: | --- | ---: | --- | ---: | ---: |",
    ]
    for t, s in sums["classical"]["by_type"].items():
        r, o = sums["random"]["by_type"][t], sums["oracle"]["by_type"][t]
        rows.append(
            f"| {t} | {s['n']} | {cell(s)} | {100 * s['no_answer_rate']:.0f}% | "
            f"{cell(r)} | {100 * s['random_baseline']:.1f} | "
            f"{100 * o['accuracy']:.1f} |"
        )
    ov = {m: s["overall"] for m, s in sums.items()}
    rows.append(
        f"| all | {ov['classical']['n']} | {cell(ov['classical'])} | "
        f"{100 * ov['classical']['no_answer_rate']:.0f}% | {cell(ov['random'])} | "
        f"{100 * ov['classical'].get('random_baseline', 0):.1f} | "
        f"{100 * ov['oracle']['accuracy']:.1f} |"
    )
    table = "\n".join(rows)
    print(table)
    print(f"\n{time.perf_counter() - t0:.0f} s; command: {cmd}")
    if args.write_doc:
        text = DOC.read_text(encoding="utf-8")
        start = text.index("<!-- table -->")
        end = text.index("<!-- /table -->")
        DOC.write_text(
            text[: start + len("<!-- table -->")] + f"\n\n`{cmd}`\n\n{table}\n\n" + text[end:],
            encoding="utf-8",
        )
        print(f"wrote {DOC}")
    (args.out / "table.json").write_text(json.dumps({m: s["by_type"] for m, s in sums.items()}))


if __name__ == "__main__":
    main()
