"""One local Ray instance per module of Ray cases (run by tests/engine/test_ray.py)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module", autouse=True)
def ray_instance() -> Iterator[None]:
    """A small local instance for the module (run_jobs reuses an initialised Ray)."""
    import ray

    with warnings.catch_warnings():  # Ray's tip about a future GPU default
        warnings.simplefilter("ignore", FutureWarning)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
