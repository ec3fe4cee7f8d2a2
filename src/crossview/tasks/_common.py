"""Helpers shared by the question generators: view pairs, distractor choice, option builders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from crossview.scene.model import View
from crossview.tasks.base import Option, SceneContext

T = TypeVar("T")


def shuffled(rng: np.random.Generator, items: Sequence[T]) -> list[T]:
    """A seeded random permutation of ``items`` as a new list."""
    return [items[i] for i in rng.permutation(len(items))]


def view_pairs(ctx: SceneContext, rng: np.random.Generator) -> list[tuple[View, View]]:
    """Ordered pairs of views of different cameras at the same timestep, shuffled."""
    pairs = []
    for t in ctx.timesteps:
        vs = ctx.views_at(t)
        pairs += [(a, b) for a in vs for b in vs if a.camera.name != b.camera.name]
    return shuffled(rng, pairs)


def time_pairs(ctx: SceneContext, rng: np.random.Generator) -> list[tuple[View, View]]:
    """Pairs (view at t0, view at t1 > t0), any cameras, shuffled."""
    ts = ctx.timesteps
    pairs = [
        (a, b)
        for i, t0 in enumerate(ts)
        for t1 in ts[i + 1 :]
        for a in ctx.views_at(t0)
        for b in ctx.views_at(t1)
    ]
    return shuffled(rng, pairs)


def similar_first(
    ctx: SceneContext, gold: int, pool: Sequence[int], k: int, rng: np.random.Generator
) -> list[int] | None:
    """Choose ``k`` distractors from ``pool``, preferring objects that look like ``gold``.

    Objects sharing the gold's colour and shape come first, then those sharing one of them
    (so that correspondence is not a matter of colour alone), then the rest; within each
    group the order is random.
    Returns None when the pool is too small.
    """
    if len(pool) < k:
        return None
    attrs = ctx.scene.instances[gold].attributes if gold in ctx.scene.instances else {}

    def likeness(t: int) -> int:
        a = ctx.scene.instances[t].attributes if t in ctx.scene.instances else {}
        return sum(a.get(x) is not None and a.get(x) == attrs.get(x) for x in ("color", "shape"))

    pool = shuffled(rng, list(pool))
    pool.sort(key=likeness, reverse=True)  # stable: random order within equal likeness
    return pool[:k]


def object_option(ref: int) -> Option:
    """An option naming the object of ``refs[ref]``."""
    return Option(text=f"{{R{ref}}}", ref=ref)


def label_options(*labels: tuple[str, str]) -> list[Option]:
    """Options from (text, normalised label) pairs."""
    return [Option(text=text, label=label) for text, label in labels]


YES_NO = (("Yes", "yes"), ("No", "no"))


def only(indices: list[int], what: str) -> int:
    """The single index in ``indices``; ValueError when the question is not uniquely solvable."""
    if len(indices) != 1:
        raise ValueError(f"{what}: {len(indices)} options satisfy the question, expected 1")
    return indices[0]


def argmax_with_margin(values: Sequence[float], margin_ok) -> int | None:
    """Index of the largest value when ``margin_ok(best, second)`` holds, else None."""
    order = np.argsort(values)[::-1]
    if len(order) > 1 and not margin_ok(values[order[0]], values[order[1]]):
        return None
    return int(order[0])
