"""The Ray executor on a local Ray instance: the same dataset as the local executor.

Run by tests/engine/test_ray.py in a child process (see there why); runnable alone with
``python -m pytest tests/engine/ray_cases.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossview.engine.config import GenerateConfig
from crossview.engine.pipeline import generate
from crossview.errors import BadInputError, MissingExtraError
from crossview.executors import _Raised, run_jobs
from crossview.scene.store import read_scene
from tests.engine.toys import toy_store

ray = pytest.importorskip("ray")

from tests.ray_support import ray_instance  # noqa: E402, F401 - the module's Ray instance


def _files(root: Path) -> dict[str, bytes]:
    # every file, hidden ones included: no temporary may be left behind
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "shards" not in p.parts
    }


def test_ray_generates_the_same_dataset_as_local(tmp_path: Path) -> None:
    store = toy_store(tmp_path / "store", 4, seed=21)
    config = GenerateConfig(family="all", per_task=3, open_ended_fraction=0.2, seed=4)
    local = generate(store, tmp_path / "local", config, workers=1)
    remote = generate(store, tmp_path / "ray", config, workers=2, executor="ray")
    assert local.records == remote.records > 0
    assert (tmp_path / "local" / "questions.jsonl").read_bytes() == (
        tmp_path / "ray" / "questions.jsonl"
    ).read_bytes()
    manifests = [json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("local", "ray")]
    assert manifests[0] == manifests[1]
    # rendered overlays and markers, linked images and the dataset card: byte for byte
    assert _files(tmp_path / "local") == _files(tmp_path / "ray")
    assert (local.dropped, local.skipped_scenes) == (remote.dropped, remote.skipped_scenes)


def test_ray_resumes_from_the_shards_it_wrote(tmp_path: Path) -> None:
    store = toy_store(tmp_path / "store", 2, seed=22)
    config = GenerateConfig(family="crossview", per_task=2)
    generate(store, tmp_path / "ds", config, executor="ray", workers=0)
    first = (tmp_path / "ds" / "questions.jsonl").read_bytes()
    shards = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "ds" / "shards").iterdir()}
    generate(store, tmp_path / "ds", config, executor="ray", workers=0)
    assert (tmp_path / "ds" / "questions.jsonl").read_bytes() == first
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "ds" / "shards").iterdir()} == shards


def test_bad_input_inside_a_ray_task_is_the_local_error(tmp_path: Path) -> None:
    """A user's bad data raises the same BadInputError message, not a Ray traceback."""
    bad = tmp_path / "scene_x"
    bad.mkdir()
    (bad / "scene.json").write_text("{not json")
    with pytest.raises(BadInputError) as local:
        run_jobs(read_scene, [bad], executor="local")
    with pytest.raises(BadInputError) as remote:
        run_jobs(read_scene, [bad], executor="ray")
    assert type(remote.value) is type(local.value)
    assert str(remote.value) == str(local.value)
    assert "Traceback" not in str(remote.value) and "Ray" not in str(remote.value)


def test_results_come_back_in_job_order_with_a_concurrency_limit() -> None:
    jobs = [f"{n:03d}" for n in range(12)]
    assert run_jobs(str.upper, jobs, executor="ray", workers=3) == jobs


def test_unknown_executor_lists_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="valid: local, ray"):
        generate(tmp_path, tmp_path / "ds", executor="dask")


def test_errors_with_several_arguments_survive_the_trip() -> None:
    exc = MissingExtraError("ray", "ray", "the ray executor")
    back = _Raised(type(exc), exc.args, dict(exc.__dict__)).rebuild()
    assert type(back) is MissingExtraError and str(back) == str(exc) and back.extra == "ray"


def test_a_bad_scene_is_skipped_with_the_same_reason_as_locally(tmp_path: Path) -> None:
    from crossview.engine.pipeline import _propose_job

    bad = tmp_path / "scene_x"
    bad.mkdir()
    (bad / "scene.json").write_text("[]")
    job = (bad, ["Q1"], GenerateConfig(), tmp_path / "scene_x.pkl", {})
    local = run_jobs(_propose_job, [job], executor="local")
    remote = run_jobs(_propose_job, [job], executor="ray")
    assert remote == local and local[0][0] == "scene_x" and "scene.json" in local[0][1]


def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingExtraError, match=r"crossview\[ray\]"):
        run_jobs(str.upper, ["a"], executor="ray")
