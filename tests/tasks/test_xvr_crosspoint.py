"""XVR and CrossPoint types: answers checked with independent geometry (OpenCV projection,
analytic ray-sphere occlusion on the toy world), oracle agreement, balance and markers."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from crossview.engine.config import GenerateConfig
from crossview.engine.oracle import verify_dataset
from crossview.engine.pipeline import generate
from crossview.geometry import rle_decode
from crossview.scene import read_scene
from tests.engine.toys import RIG_OVERVIEW, toy_store

XVR = [
    "point_correspondence",
    "directional_correspondence",
    "spatial_verification",
    "viewpoint_localization",
    "directional_view_localization",
    "cross_scenario_localization",
    "language_conditioned_localization",
]
CP = [
    "Fine-grained Grounding",
    "Visibility Reasoning",
    "Correspondence-Judgement",
    "Correspondence-Pointing",
]


def read(ds: Path) -> list[dict]:
    return [json.loads(x) for x in (ds / "questions.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return toy_store(tmp_path_factory.mktemp("xvr") / "store", 8, seed=2, cameras=RIG_OVERVIEW)


@pytest.fixture(scope="module")
def ds(store: Path) -> Path:
    out = store.parent / "ds"
    generate(
        store,
        out,
        GenerateConfig(family="all", tasks=XVR + CP, per_task=40, open_ended_fraction=0.2),
    )
    return out


@pytest.fixture(scope="module")
def scenes(store: Path) -> dict:
    return {p.name: read_scene(p) for p in store.iterdir()}


def cam(scenes: dict, v: dict):
    return scenes[v["scene_id"]].view(v["camera"], v["timestep"]).camera


def cv_project(camera, P: np.ndarray) -> np.ndarray:
    w2c = np.linalg.inv(camera.cam_to_world)
    rvec, _ = cv2.Rodrigues(w2c[:3, :3])
    return cv2.projectPoints(np.atleast_2d(P), rvec, w2c[:3, 3], camera.K, None)[0][:, 0]


def by_type(records: list[dict], t: str, open_ended: bool = False) -> list[dict]:
    out = [r for r in records if r["question_type"] == t and r["open_ended"] == open_ended]
    assert out, f"no {t} items"
    return out


def gold_mark(r: dict, view: int) -> dict:
    letter = "ABCDE".index(r["answer"])
    color = r["choices"]["labels"][letter]
    return next(
        m for m in r["protocols"]["marker"]["marks"] if m["view"] == view and m["color"] == color
    )


def test_oracle_scores_100_and_every_type_is_made(ds: Path, store: Path) -> None:
    records = read(ds)
    rep = verify_dataset(ds, store)
    assert rep.correct == rep.total == len(records), rep.failures[:3]
    assert {r["question_type"] for r in records} == set(XVR + CP)
    assert any(r["open_ended"] for r in records if r["family"] == "xvr")


def test_oracle_catches_a_moved_dot(ds: Path, store: Path, tmp_path: Path) -> None:
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(ds, bad)
    records = read(bad)
    i = next(
        i
        for i, r in enumerate(records)
        if r["question_type"] == "point_correspondence" and not r["open_ended"]
    )
    m = gold_mark(records[i], 2)
    m["uv"] = [m["uv"][0] + 9.0, m["uv"][1]]
    (bad / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    rep = verify_dataset(bad, store)
    assert [f["sample_id"] for f in rep.failures] == [records[i]["sample_id"]]


def test_point_correspondence_gold_dot_is_the_projected_point(ds: Path, scenes: dict) -> None:
    for r in by_type(read(ds), "point_correspondence"):
        P = np.array(r["meta"]["point_world"])
        want = cv_project(cam(scenes, r["views"][2]), P)[0]
        assert np.allclose(gold_mark(r, 2)["uv"], want, atol=1e-6)
        others = [m for m in r["protocols"]["marker"]["marks"] if m["view"] == 2]
        assert len(others) == 5
        sep = 0.06 * r["views"][2]["width"]
        uvs = np.array([m["uv"] for m in others])
        d = np.linalg.norm(uvs[:, None] - uvs[None], axis=-1) + np.eye(len(uvs)) * 1e9
        assert d.min() >= sep - 1e-9


def test_spatial_verification_wrong_dot_is_off_every_epipolar_line(ds: Path, scenes: dict) -> None:
    for r in by_type(read(ds), "spatial_verification"):
        k = "ABCD".index(r["answer"])
        marks = {m["view"]: np.array(m["uv"]) for m in r["protocols"]["marker"]["marks"]}
        ck = cam(scenes, r["views"][k])
        for j in range(4):
            if j == k:
                continue
            cj = cam(scenes, r["views"][j])
            # F from camera j to camera k with OpenCV (independent of crossview.geometry)
            pts = np.random.default_rng(0).uniform(-0.3, 0.3, (20, 3)) + [0, 0, 0.15]
            F, _ = cv2.findFundamentalMat(cv_project(cj, pts), cv_project(ck, pts), cv2.FM_8POINT)
            line = cv2.computeCorrespondEpilines(marks[j][None, None], 1, F)[0, 0]
            dist = abs(line @ [*marks[k], 1.0]) / np.hypot(*line[:2])
            assert dist >= 0.1 * r["views"][k]["width"] - 0.5


def test_camera_questions(ds: Path, scenes: dict) -> None:
    records = read(ds)
    for r in by_type(records, "directional_view_localization"):
        side = r["choices"]["target"]["side"]
        ref = cam(scenes, r["views"][0])
        gold = cam(scenes, r["views"]["ABCD".index(r["answer"]) + 1])
        x = (np.linalg.inv(ref.cam_to_world) @ [*gold.center, 1.0])[0]  # x right in ref frame
        assert (x < 0) == (side == "left")
    for r in by_type(records, "cross_scenario_localization"):
        gold = r["views"]["ABCD".index(r["answer"]) + 1]
        assert gold["camera"] == r["views"][0]["camera"]
        assert gold["scene_id"] != r["views"][0]["scene_id"]
        assert scenes[gold["scene_id"]].rig_id == scenes[r["views"][0]["scene_id"]].rig_id
    for r in by_type(records, "viewpoint_localization"):
        dot = np.array(r["protocols"]["marker"]["marks"][0]["uv"])
        gold = cam(scenes, r["views"]["ABCD".index(r["answer"]) + 1])
        assert np.allclose(cv_project(cam(scenes, r["views"][0]), gold.center)[0], dot)
    for r in by_type(records, "language_conditioned_localization"):
        gold = cam(scenes, r["views"]["AB".index(r["answer"])])
        cls = r["choices"]["target"]["class"]
        pitch = np.degrees(np.arcsin(-gold.cam_to_world[2, 2]))
        assert cls in ("top-down", "low") and (pitch >= 65 if cls == "top-down" else pitch <= 30)


def _occluded(scene, camera, P: np.ndarray, t: int) -> bool | None:
    """Analytic: does the segment from the camera to P cross a ball before reaching P?
    None when the first crossing is within 1 cm of P (grazing: too close to call)."""
    eye = camera.center
    d = P - eye
    length = np.linalg.norm(d)
    d /= length
    for inst in scene.instances.values():
        c, r = inst.center_at(t), inst.extent_m[0] / 2
        oc = eye - c
        b = oc @ d
        disc = b * b - (oc @ oc - r * r)
        if disc > 0:
            first = -b - np.sqrt(disc)
            if first < length - 0.01:
                return True
            if first < length - 1e-4:
                return None
    return False


def test_visibility_reasoning_matches_ray_casting(ds: Path, scenes: dict) -> None:
    answers = Counter()
    for r in by_type(read(ds), "Visibility Reasoning"):
        scene = scenes[r["views"][0]["scene_id"]]
        v0 = scene.view(r["views"][0]["camera"], r["views"][0]["timestep"])
        (u, v) = r["protocols"]["marker"]["marks"][0]["uv"]
        z = v0.depth_m[int(round(v)), int(round(u))]
        ray = np.linalg.inv(v0.camera.K) @ [u, v, 1.0]
        P = (v0.camera.cam_to_world @ [*(ray * z), 1.0])[:3]
        occluded = _occluded(scene, cam(scenes, r["views"][1]), P, r["views"][1]["timestep"])
        if occluded is None:
            continue
        assert r["answer"] == ("B" if occluded else "A")
        answers[r["answer"]] += 1
    assert answers["A"] and answers["B"]


def test_point_answers_and_levels(ds: Path, scenes: dict) -> None:
    records = read(ds)
    for t in ("Fine-grained Grounding", "Correspondence-Pointing"):
        levels = set()
        for r in by_type(records, t):
            assert r["answer_kind"] == "point" and r["options"] == []
            g = r["gold"]
            mask = rle_decode(g["mask_rle"])
            u, v = (int(round(x)) for x in g["point"])
            assert mask[v, u]
            view = r["views"][g["view"]]
            scene = scenes[view["scene_id"]]
            sv = scene.view(view["camera"], view["timestep"])
            owners = [t_ for t_ in sv.track_ids if (sv.mask(t_) & mask).any()]
            assert len(owners) == 1 and not (mask & ~sv.mask(owners[0])).any()
            levels.add(r["level"])
            assert f"{view['width']}x{view['height']}" in r["question"]
        assert levels == {"object", "part"}


def test_answers_balanced(tmp_path: Path) -> None:
    store = toy_store(tmp_path / "store", 16, seed=5)
    cfg = GenerateConfig(
        tasks=["spatial_verification", "directional_view_localization", "Visibility Reasoning"],
        per_task=200,
        open_ended_fraction=0,
        candidates_per_scene=60,
    )
    generate(store, tmp_path / "bal", cfg)
    counts = defaultdict(Counter)
    for r in read(tmp_path / "bal"):
        counts[r["question_type"]][r["answer"]] += 1
    for t, c in counts.items():
        n, k = sum(c.values()), len(c)
        assert n >= 150 and k == {"spatial_verification": 4}.get(t, 2)
        assert max(abs(x / n - 1 / k) for x in c.values()) <= 0.02, (t, c)


def test_marker_images_only_change_near_marks(ds: Path) -> None:
    for r in read(ds)[:60]:
        mk = r["protocols"]["marker"]
        for i, (view, img) in enumerate(zip(r["views"], mk["images"])):
            base = np.asarray(Image.open(ds / view["image_path"]))
            drawn = np.asarray(Image.open(ds / img))
            marks = [m for m in mk["marks"] if m["view"] == i]
            if not marks:
                assert img == view["image_path"]  # referenced, not copied
                continue
            near = np.zeros(base.shape[:2], np.uint8)
            for m in marks:
                pts = [m["uv"]] + ([m["uv_end"]] if "uv_end" in m else [])
                cv2.polylines(near, [np.round(np.array(pts)).astype(np.int32)], False, 1, 25)
                for p in pts:
                    cv2.circle(near, tuple(int(round(x)) for x in p), 12, 1, -1)
            changed = (base != drawn).any(-1)
            assert changed.any() and not (changed & (near == 0)).any()


@pytest.mark.sim
def test_xvr_on_simulated_episodes(tmp_path: Path) -> None:
    """Temporal verification needs motion (the arm pushes objects): a simulator store."""
    pytest.importorskip("mujoco")
    from crossview.sources.sim.config import SimConfig
    from crossview.sources.sim.runner import run_sim

    store = tmp_path / "sim"
    run_sim(store, SimConfig(cameras=5, width=160, height=120), scenes=4, seed=3, progress=False)
    out = tmp_path / "ds"
    generate(store, out, GenerateConfig(family="xvr", per_task=20, open_ended_fraction=0))
    records = read(out)
    rep = verify_dataset(out, store)
    assert rep.correct == rep.total == len(records), rep.failures[:3]
    temporal = by_type(records, "temporal_verification")
    for r in temporal:
        ts = [v["timestep"] for v in r["views"]]
        odd = "ABC".index(r["answer"])
        assert ts.count(ts[odd]) == 1 and r["meta"]["ssim"] <= 0.9
    assert by_type(records, "cross_scenario_localization")
    langs = {
        r["choices"]["target"]["class"]
        for r in records
        if r["question_type"] == "language_conditioned_localization"
    }
    assert "wrist" in langs
