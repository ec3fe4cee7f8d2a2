"""``classical``: a multi-view geometry baseline that answers from what a model is shown.

The backend reads the prompt (question text, options, ordered images, and masks under the
``region`` protocol) and hands it to :mod:`crossview.classical`, which answers from local
features, RANSAC geometry and the drawn markers, never from scene ground truth. Where it cannot
decide it says so ("I cannot determine the answer."), which the harness's extractor scores as
no answer (reason ``refusal``); the solver's reason goes to ``Response.backend_note``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from crossview.classical import REFUSAL, answer
from crossview.classical.cache import configure
from crossview.eval.backends import register
from crossview.eval.backends.base import Backend, BackendSettings, ResultCallback
from crossview.eval.items import ImageSource, Prompt, Response


@register("classical")
class ClassicalCVBackend(Backend):
    """SIFT/ORB matching, RANSAC F / H, marker and overlay detection; abstains when unsure."""

    accepts_regions = True

    def describe(self) -> dict[str, Any]:
        """What the run records about this backend."""
        return {**super().describe(), "method": "classical multi-view geometry (OpenCV)"}

    def generate(self, prompts: Sequence[Prompt]) -> list[Response]:
        """Answer each prompt independently: what is carried between prompts is only the
        content-keyed result cache, which cannot change an answer."""
        configure(_cache_folder(self.settings))
        return respond_all(prompts, self.settings.coord_format)

    async def run(self, prompts: Sequence[Prompt], on_result: ResultCallback) -> None:
        """Answer every prompt, reporting each result as its chunk completes (so a stopped run
        keeps what it has). Prompts that show the same pixels are answered next to each other
        (:func:`locality_order`), in chunks, so the result cache serves them; with
        ``workers`` > 1 the chunks go to that many processes."""
        folder = _cache_folder(self.settings)
        order = locality_order(prompts)
        n = max(1, self.settings.workers)
        fmt = self.settings.coord_format
        if n == 1 or len(order) < 2:
            configure(folder)
            for p in order:
                on_result(p, respond(p, fmt))
            return
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        size = max(1, min(16, -(-len(order) // (4 * n))))
        chunks = [order[i : i + size] for i in range(0, len(order), size)]
        pool = ProcessPoolExecutor(
            max_workers=n,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(folder,),
        )
        with pool:
            with _single_threaded_env():  # the workers start at the first submit
                futures = {pool.submit(respond_all, c, fmt): c for c in chunks}
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for fut in done:
                    for p, r in zip(futures.pop(fut), fut.result(), strict=True):
                        on_result(p, r)


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _single_threaded_env() -> Iterator[None]:
    """Worker processes started inside see one BLAS / OpenMP thread each: ``workers``
    processes on as many cores, instead of each also running its own thread pool."""
    old = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _worker_init(folder: Path | None) -> None:
    """A worker process: one OpenCV thread, the result cache in ``folder``."""
    import cv2

    cv2.setNumThreads(1)
    configure(folder)


def _cache_folder(settings: BackendSettings) -> Path | None:
    return None if settings.cache_dir is None else Path(settings.cache_dir) / "classical"


def locality_order(prompts: Sequence[Prompt]) -> list[Prompt]:
    """The prompts reordered so that those sharing an image (same encoded bytes) are adjacent:
    groups of prompts connected through shared images, in order of first appearance, each in
    its original order."""
    parent = list(range(len(prompts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    seen: dict[str, int] = {}
    for i, p in enumerate(prompts):
        for img in p.images:
            h = _bytes_key(img)
            if h in seen:
                a, b = root(i), root(seen[h])
                parent[max(a, b)] = min(a, b)
            else:
                seen[h] = i
    groups: dict[int, list[Prompt]] = {}
    for i, p in enumerate(prompts):
        groups.setdefault(root(i), []).append(p)
    return [p for g in groups.values() for p in g]


def _bytes_key(img: ImageSource) -> str:
    if img.path is not None and not img.overlay:
        st = img.path.stat()
        return _file_digest(str(img.path), st.st_size, st.st_mtime_ns)
    return hashlib.blake2b(img.read_bytes(), digest_size=16).hexdigest()


@functools.lru_cache(maxsize=65536)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    return hashlib.blake2b(Path(path).read_bytes(), digest_size=16).hexdigest()


def respond_all(prompts: Sequence[Prompt], coord_format: str) -> list[Response]:
    """:func:`respond` to each prompt, in order (a worker process's unit of work)."""
    return [respond(p, coord_format) for p in prompts]


def respond(prompt: Prompt, coord_format: str) -> Response:
    """The classical solver's response to one prompt (module level: runs in worker processes)."""
    text, reason = answer(prompt, prompt.coords(coord_format))
    if reason is not None:
        return Response(text=f"{REFUSAL}.", backend_note=reason)
    return Response(text=text)
