"""Evaluation harness speed (prints figures; nothing is asserted).

    PYTHONPATH=src python benchmarks/bench_eval.py [--items 400] [--size 640x480]

Part 1: harness time per item excluding the model, on a native benchmark of 4-image items:
loading, prompt building, extraction, scoring and the per-item flushed append, with a backend
that answers instantly; plus the cost of encoding the 4 images as base64 chat content (what the
openai backend adds per item). Target: <= 5 ms per 4-image item.

Part 2: throughput of the openai backend against a loopback server that answers every request
in 200 ms, with --concurrency 16 (capacity 80 items/s). Target: >= 64 items/s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from crossview.eval.backends import BackendSettings
from crossview.eval.backends.base import Backend
from crossview.eval.backends.openai_api import build_messages
from crossview.eval.items import Prompt, Response
from crossview.eval.loaders import load_benchmark
from crossview.eval.prompts import build_tasks
from crossview.eval.runner import EvalConfig, run_eval


class InstantBackend(Backend):
    """Answers at once with a realistic response; stands in for 'the model takes no time'."""

    kind = "instant"

    def generate(self, prompts: Sequence[Prompt]) -> list[Response]:
        return [
            Response(text="<think>Comparing A with C.</think>The answer is (B).") for _ in prompts
        ]


def make_bench(root: Path, n: int, size: tuple[int, int], kind: str) -> Path:
    """``kind``: ``render`` (smooth shading and boxes, compresses like a rendered view) or
    ``noise`` (incompressible: the worst case for encoding and transfer)."""
    (root / "renders").mkdir(parents=True)
    rng = np.random.default_rng(0)
    w, h = size
    for k in range(8):  # 8 distinct image files shared by the items
        if kind == "noise":
            arr = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        else:
            yy, xx = np.mgrid[0:h, 0:w]
            arr = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, 40 * k)], -1)
            arr = arr.astype(np.uint8)
            for _ in range(6):
                x0, y0 = rng.integers(0, w - 60), rng.integers(0, h - 60)
                arr[y0 : y0 + 50, x0 : x0 + 50] = rng.integers(0, 255, 3)
        Image.fromarray(arr).save(root / "renders" / f"{k}.png")
    with (root / "questions.jsonl").open("w") as f:
        for i in range(n):
            imgs = [f"renders/{(i + j) % 8}.png" for j in range(4)]
            rec = {
                "sample_id": f"s{i:05d}",
                "question_type": f"Q{1 + i % 17}",
                "family": "crossview",
                "category": "c",
                "question": "q",
                "options": ["A. a", "B. b", "C. c", "D. d"],
                "answer": "ABCD"[i % 4],
                "answer_kind": "choice",
                "views": [{"image_path": p} for p in imgs],
                "protocols": {
                    "overlay": {
                        "question": "Which object in Image 4 is the one outlined in red "
                        "in Image 1?",
                        "options": [
                            "A. the object outlined in blue",
                            "B. the object outlined in green",
                            "C. the object outlined in yellow",
                            "D. the object outlined in purple",
                        ],
                        "images": imgs,
                    }
                },
            }
            f.write(json.dumps(rec) + "\n")
    return root / "questions.jsonl"


def part1(bench: Path, n: int, tmp: Path) -> None:
    t0 = time.perf_counter()
    items = load_benchmark(bench).items
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    s = run_eval(
        EvalConfig(bench=bench, model="random", out=tmp / "run1"),
        backend=InstantBackend("", BackendSettings(batch_size=16)),
    )
    t_run = time.perf_counter() - t0
    assert s["overall"]["n"] == n
    prompts = [build_tasks(it)[0].prompt for it in items[:100]]
    t0 = time.perf_counter()
    for p in prompts:
        json.dumps({"messages": build_messages(p)})
    t_enc = (time.perf_counter() - t0) / len(prompts)
    print(f"part 1: {n} items x 4 images")
    print(f"  load only             {1000 * t_load / n:7.3f} ms/item")
    print(f"  whole run (no model)  {1000 * t_run / n:7.3f} ms/item  (target <= 5 ms)")
    print(f"  + base64 chat content {1000 * t_enc:7.3f} ms/item for 4 images (openai backend)")
    print(f"  total with encoding   {1000 * (t_run / n + t_enc):7.3f} ms/item")


class _Handler(BaseHTTPRequestHandler):
    delay = 0.2

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(self.delay)
        body = json.dumps({"choices": [{"message": {"content": "Answer: B"}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _serve(delay: float, port_queue: Any) -> None:
    """The loopback server, in its own process so that it does not share the client's GIL."""
    _Handler.delay = delay
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.request_queue_size = 128
    port_queue.put(httpd.server_address[1])
    httpd.serve_forever()


def part2(bench: Path, n: int, tmp: Path, delay: float, concurrency: int) -> None:
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_serve, args=(delay, q), daemon=True)
    proc.start()
    url = f"http://127.0.0.1:{q.get(timeout=30)}/v1"
    try:
        cfg = EvalConfig(
            bench=bench,
            model="openai:bench",
            out=tmp / "run2",
            limit=n,
            backend=BackendSettings(base_url=url, concurrency=concurrency),
        )
        t0 = time.perf_counter()
        s = run_eval(cfg)
        dt = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.join(timeout=5)
    assert s["complete"]
    cap = concurrency / delay
    print(f"part 2: {n} items, server {1000 * delay:.0f} ms/answer, concurrency {concurrency}")
    print(
        f"  throughput {n / dt:6.1f} items/s of capacity {cap:.0f} "
        f"({100 * n / dt / cap:.0f}%; target >= 64 items/s; whole run incl. loading)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=400)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--delay", type=float, default=0.2)
    ap.add_argument("--images", choices=["render", "noise"], default="render")
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.split("x"))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        bench = make_bench(tmp / "bench", args.items, (w, h), args.images)
        png_kb = sum(p.stat().st_size for p in (tmp / "bench" / "renders").iterdir()) / 8 / 1024
        print(f"images: {args.images}, {w}x{h}, {png_kb:.0f} KB per PNG")
        part1(bench, args.items, tmp)
        part2(bench, args.items, tmp, args.delay, args.concurrency)


if __name__ == "__main__":
    main()
