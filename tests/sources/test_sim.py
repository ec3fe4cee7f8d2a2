"""The MuJoCo simulator, checked on the data it stores (round trip through the scene store)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crossview.errors import BadInputError, MissingExtraError
from crossview.geometry.projection import project_points, unproject
from crossview.scene.store import list_scenes, read_scene
from crossview.sources.sim import vocab
from crossview.sources.sim.commands import parse_range, parse_size
from crossview.sources.sim.config import SimConfig

pytestmark = pytest.mark.sim
mujoco = pytest.importorskip("mujoco")

CONFIG = SimConfig(cameras=4, objects=(4, 7), timesteps=2, width=160, height=120)
SEED = 5
SEED_CUT = 9
SCENES = 2


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    """Two small scenes of one scenario group, simulated into a store and read back."""
    from crossview.sources.sim.runner import run_sim

    store = tmp_path_factory.mktemp("sim") / "store"
    summary = run_sim(store, CONFIG, scenes=SCENES, seed=SEED, workers=1, progress=False)
    scenes = [read_scene(p) for p in list_scenes(store)]
    return store, summary, scenes


@pytest.fixture(scope="module")
def run_cut(tmp_path_factory: pytest.TempPathFactory):
    """Two scenes of a seed whose fixed cameras cut objects at the border (seed 5's do not
    since sim-1.4 frames the side cameras higher)."""
    from crossview.sources.sim.runner import run_sim

    store = tmp_path_factory.mktemp("sim_cut") / "store"
    summary = run_sim(store, CONFIG, scenes=SCENES, seed=SEED_CUT, workers=1, progress=False)
    return store, summary, [read_scene(p) for p in list_scenes(store)]


def _views(scenes):
    for s in scenes:
        for v in s.views:
            yield s, v


# ----------------------------------------------------------------------------- vocabulary, config


def test_vocabulary_is_clevr_like():
    assert len(vocab.SHAPES) >= 6
    assert len(vocab.COLORS) == 8
    assert 2 <= len(vocab.SIZES) <= 3
    assert {m.name for m in vocab.MATERIALS} == {"matte", "shiny"}


def test_cli_parsers_and_config_errors():
    assert parse_range("3:8") == (3, 8)
    assert parse_size("640x480") == (640, 480)
    for bad in ("3-8", "a:b", "8:3", "1:2:3"):
        with pytest.raises(BadInputError):
            parse_range(bad)
    for bad in ("640", "640x", "axb"):
        with pytest.raises(BadInputError):
            parse_size(bad)
    with pytest.raises(BadInputError):
        SimConfig(cameras=7)
    with pytest.raises(BadInputError):
        SimConfig(timesteps=1)
    with pytest.raises(BadInputError):
        SimConfig(objects=(0, 11))


def test_commands_import_without_mujoco():
    code = "import sys, crossview.sources.sim.commands; assert 'mujoco' not in sys.modules"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_missing_mujoco_names_the_extra(monkeypatch: pytest.MonkeyPatch):
    from crossview.sources.sim.render import load_mujoco

    monkeypatch.setitem(sys.modules, "mujoco", None)
    with pytest.raises(MissingExtraError, match=r"crossview\[sim\]"):
        load_mujoco()


def test_layouts_plan_stacks_and_touching_pairs():
    from crossview.sources.sim.world import sample_layout

    layouts = [sample_layout(SimConfig(), np.random.default_rng(i)) for i in range(30)]
    assert sum(bool(lay.stacked) for lay in layouts) >= 5
    assert sum(bool(lay.touching) for lay in layouts) >= 5
    assert all(3 <= len(lay.objects) <= 8 for lay in layouts)
    for lay in layouts:
        assert [o.track_id for o in lay.objects] == list(range(1, len(lay.objects) + 1))


# ----------------------------------------------------------------------------- the stored scenes


def test_store_is_valid_and_complete(run):
    from crossview.scene.validate import validate_paths

    store, summary, scenes = run
    report = validate_paths([store])
    assert report.valid, report.summary()
    assert summary.written == [f"sim_{SEED}_00000", f"sim_{SEED}_00001"]
    for s in scenes:
        assert s.source == "sim"
        assert s.num_timesteps == CONFIG.timesteps
        assert len(s.views) == CONFIG.cameras * CONFIG.timesteps
        assert np.all(np.diff(s.timestamps) > 0) and s.timestamps[0] == 0.0
        assert sorted(s.instances) == list(range(1, len(s.instances) + 1))  # 0 never a track
        assert CONFIG.objects[0] <= len(s.instances) <= CONFIG.objects[1]
        for inst in s.instances.values():
            assert inst.poses.shape == (CONFIG.timesteps, 4, 4)
            assert set(inst.attributes) == {"shape", "color", "size", "material"}
            assert inst.category == inst.attributes["shape"]
        prov = s.provenance
        assert prov["seed"] == SEED and prov["generator_version"]
        assert SimConfig.from_dict(prov["config"]) == CONFIG


def test_camera_names_roles_and_motion(run):
    _, _, scenes = run
    for s in scenes:
        assert s.camera_names == ["fix_left", "fix_center", "fix_right", "wrist"]
        for name in s.camera_names:
            v0, v1 = s.view(name, 0), s.view(name, 1)
            assert v0.camera.role == ("wrist" if name == "wrist" else "fixed")
            R = v0.camera.cam_to_world[:3, :3]
            np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-9)
            assert np.linalg.det(R) == pytest.approx(1.0)
            # every camera looks down at the table: its optical axis (+z) points downwards
            assert R[2, 2] < -0.2
            same = np.allclose(v0.camera.cam_to_world, v1.camera.cam_to_world)
            assert same == (name != "wrist")  # the arm moves the wrist camera
    fovs = {s.view(n, 0).camera.K[0, 0] for s in scenes[:1] for n in s.camera_names}
    assert len(fovs) > 1  # intrinsics differ per camera


def test_scenarios_share_the_rig(run):
    _, _, (a, b) = run
    assert a.rig_id == b.rig_id is not None
    assert a.provenance["rig_index"] == b.provenance["rig_index"]
    assert {a.provenance["scenario"], b.provenance["scenario"]} == {0, 1}
    for name in a.camera_names:
        ca, cb = a.view(name, 0).camera, b.view(name, 0).camera
        np.testing.assert_allclose(ca.K, cb.K)
        np.testing.assert_allclose(ca.cam_to_world, cb.cam_to_world, atol=1e-9)
    layout_a = [(i.describe(), tuple(i.poses[0, :3, 3])) for i in a.instances.values()]
    layout_b = [(i.describe(), tuple(i.poses[0, :3, 3])) for i in b.instances.values()]
    assert layout_a != layout_b


def test_centres_project_inside_visible_masks(run):
    """The stored camera puts each mostly visible object's centre on its mask (conventions)."""
    _, _, scenes = run
    checked = 0
    for s, v in _views(scenes):
        for tid in v.track_ids:
            if v.visible_fraction(tid) < 0.95 or v.visible_area(tid) < 15:
                continue
            centre = s.instances[tid].center_at(v.timestep)
            uv, depth = project_points(centre[None], v.camera.K, v.camera.cam_to_world)
            assert depth[0] > 0
            col, row = np.round(uv[0]).astype(int)
            if not (0 <= col < v.camera.width and 0 <= row < v.camera.height):
                continue  # cut by the image border: not mostly in view
            assert v.mask(tid)[row, col], (s.scene_id, v.view_id, tid, uv[0])
            checked += 1
    assert checked >= 20


def test_depth_matches_object_surfaces(run):
    """Unprojected mask pixels land on their object's surface (depth, K, pose, extent agree)."""
    _, _, scenes = run
    checked = 0
    for s, v in _views(scenes):
        depth = v.depth_m
        assert depth.shape == (v.camera.height, v.camera.width) and depth.dtype == np.float32
        assert np.all(np.isfinite(depth)) and np.all(depth >= 0)
        for tid in v.track_ids:
            m = v.mask(tid)
            rows, cols = np.nonzero(m)
            assert np.all(depth[rows, cols] > 0)
            inst = s.instances[tid]
            pts = unproject(np.stack([cols, rows], 1).astype(float), depth[rows, cols],
                            v.camera.K, v.camera.cam_to_world)  # fmt: skip
            pose = inst.poses[v.timestep]
            local = (pts - pose[:3, 3]) @ pose[:3, :3]  # world -> object frame
            half = inst.extent_m / 2
            assert np.all(np.abs(local) <= half + 0.003), (s.scene_id, v.view_id, tid)
            if inst.category in ("cube", "brick"):  # every point lies on a face of the box
                on_face = np.max(np.abs(local) / half, axis=1)
                assert np.all(on_face > 1 - 0.003 / half.min()), (s.scene_id, v.view_id, tid)
            if inst.category == "sphere":
                r = np.linalg.norm(local, axis=1)
                np.testing.assert_allclose(r, half[0], atol=0.003)
            checked += 1
    assert checked >= 20


def test_visible_masks_lie_inside_amodal_masks(run):
    _, _, scenes = run
    occluded = 0
    for s, v in _views(scenes):
        assert v.masks.amodal is not None
        assert set(v.track_ids) <= set(s.instances)
        for tid in v.track_ids:
            vis, amo = v.mask(tid), v.amodal_mask(tid)
            assert not np.any(vis & ~amo), (s.scene_id, v.view_id, tid)
            occluded += v.visible_fraction(tid) < 0.75
    assert occluded >= 1  # some objects are hidden behind others from some cameras


def test_silhouettes_beyond_the_image_border_are_measured(run_cut):
    """Objects cut by the border have their pixels outside the image counted, and the pass that
    counts them extends the image's own pixel grid: rendered again from a model rebuilt at the
    stored poses, its crop to the image is the stored amodal mask, pixel for pixel."""
    from crossview.sources.sim.render import SceneRenderer

    _, _, scenes = run_cut
    cut = measured = 0
    rerendered = []
    for s, v in _views(scenes):
        assert v.masks.beyond is not None
        for tid in v.masks.amodal:
            m = v.amodal_mask(tid)
            if not m.any():
                continue
            touches = bool(m[0].any() or m[-1].any() or m[:, 0].any() or m[:, -1].any())
            b = v.beyond_area(tid)
            if not touches:
                assert b == 0, (s.scene_id, v.view_id, tid)
                continue
            cut += 1
            if b is not None:
                measured += 1
                if b > 0 and v.camera.role != "wrist":
                    rerendered.append((s, v, tid))
    assert cut >= 3 and measured >= cut - 1, (cut, measured)
    assert rerendered, "no fixed-camera view with an object cut by the border"
    s, v, tid = rerendered[0]
    m, d, _ = _model_at(s, v.timestep)
    with SceneRenderer(m, CONFIG.width, CONFIG.height) as r:
        pad = r.max_pad
        cam = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_CAMERA, v.camera.name)
        geom = m.geom(f"obj{tid}").id
        ids = r.segmentation_only(d, cam, np.array([geom]), pad)
    full = ids == geom
    assert full.shape == (CONFIG.height + 2 * pad, CONFIG.width + 2 * pad)
    crop = full[pad : pad + CONFIG.height, pad : pad + CONFIG.width]
    np.testing.assert_array_equal(crop, v.amodal_mask(tid))
    assert int(full.sum()) - int(crop.sum()) == v.beyond_area(tid)
    assert v.visible_fraction(tid) == pytest.approx(
        v.visible_area(tid) / (v.amodal_area(tid) + v.beyond_area(tid))
    )


def _model_at(scene, timestep: int):
    """A model rebuilt from the scene's provenance with the objects at their stored poses."""
    from crossview.sources.sim.episode import world_for

    prov = scene.provenance
    world, _ = world_for(SimConfig.from_dict(prov["config"]), prov["seed"], prov["scene_index"])
    m = mujoco.MjModel.from_xml_string(world.mjcf)
    d = mujoco.MjData(m)
    for tid, inst in scene.instances.items():
        body = m.body(world.body_names[tid])
        adr = m.jnt_qposadr[m.body_jntadr[body.id]]
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, inst.poses[timestep, :3, :3].flatten())
        d.qpos[adr : adr + 3] = inst.poses[timestep, :3, 3]
        d.qpos[adr + 3 : adr + 7] = quat
    mujoco.mj_forward(m, d)
    return m, d, world


def _geom_distances(scene, timestep: int) -> dict[tuple[int, int], float]:
    """Surface distances between object pairs at the stored poses, from a rebuilt model."""
    m, d, _ = _model_at(scene, timestep)
    geoms = {tid: m.geom(f"obj{tid}").id for tid in scene.instances}
    out = {}
    ids = sorted(geoms)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            out[(a, b)] = mujoco.mj_geomDistance(m, d, geoms[a], geoms[b], 0.05, None)
    return out


def test_contacts_agree_with_surface_distances(run):
    _, _, scenes = run
    tol = CONFIG.touch_tol_m
    for s in scenes:
        assert len(s.contacts) == s.num_timesteps
        for t in range(s.num_timesteps):
            dist = _geom_distances(s, t)
            touching = set(s.contacts[t])
            for pair, dd in dist.items():
                assert dd > -0.003, f"{s.scene_id} t{t} {pair} interpenetrate by {-dd:.4f} m"
                if pair in touching:
                    assert dd < tol + 5e-4, (s.scene_id, t, pair, dd)
                else:
                    assert dd > tol - 5e-4, (s.scene_id, t, pair, dd)
        # planned stacks and touching pairs are in contact once settled
        for a, b in s.provenance["planned"]["stacked"] + s.provenance["planned"]["touching"]:
            assert (min(a, b), max(a, b)) in s.contacts[0], (s.scene_id, a, b)


def test_the_arm_moves_objects(run):
    _, _, scenes = run
    for s in scenes:
        pushes = s.provenance["pushes"]
        assert [p["timestep"] for p in pushes] == list(range(1, s.num_timesteps))
        for p in pushes:
            poses = s.instances[p["track_id"]].poses
            moved = np.linalg.norm(poses[p["timestep"], :3, 3] - poses[p["timestep"] - 1, :3, 3])
            assert moved > 0.005, (s.scene_id, p)


def test_contact_sheet_grid(run, tmp_path: Path):
    from crossview.render.sheet import CAPTION_H, contact_sheet, sheet_tile_size
    from crossview.sources.sim.commands import show

    store, _, (a, _) = run
    sheet = contact_sheet(a, max_width=400)
    tw, th = sheet_tile_size(CONFIG.width, CONFIG.height, CONFIG.cameras, 400)
    assert (tw, th) == (100, 75)
    assert sheet.shape == (CONFIG.timesteps * (th + CAPTION_H), CONFIG.cameras * tw, 3)
    assert sheet.dtype == np.uint8
    out = tmp_path / "sheet.png"
    show(store / a.scene_id, out)
    assert out.stat().st_size > 1000
    with pytest.raises(BadInputError):
        show(tmp_path, tmp_path / "x.png")


def test_resume_writes_nothing_new(run):
    from crossview.sources.sim.runner import run_sim

    store, _, _ = run
    files = [p for p in store.rglob("*") if p.is_file()]
    before = {p: p.stat().st_mtime_ns for p in files}
    summary = run_sim(store, CONFIG, scenes=SCENES, seed=SEED, workers=1, progress=False)
    assert summary.written == [] and len(summary.skipped) == SCENES
    assert {p: p.stat().st_mtime_ns for p in files} == before
    assert not [p for p in store.iterdir() if p.name.startswith(".")]


def test_same_seed_same_manifest_and_masks(run, tmp_path: Path):
    from crossview.scene.store import write_scene
    from crossview.sources.sim.episode import simulate_scene

    store, _, _ = run
    again = write_scene(simulate_scene(CONFIG, SEED, 1), tmp_path)
    first = store / again.name
    assert json.loads((again / "scene.json").read_text()) == json.loads(
        (first / "scene.json").read_text()
    )
    for f in sorted((first / "masks").iterdir()):
        assert (again / "masks" / f.name).read_bytes() == f.read_bytes(), f.name


def test_worker_pool_gives_the_same_scenes(run, tmp_path: Path):
    from crossview.sources.sim.runner import run_sim

    store, _, _ = run
    summary = run_sim(tmp_path, CONFIG, scenes=SCENES, seed=SEED, workers=2, progress=False)
    assert summary.written == [f"sim_{SEED}_00000", f"sim_{SEED}_00001"]
    for sid in summary.written:
        assert (tmp_path / sid / "scene.json").read_bytes() == (
            store / sid / "scene.json"
        ).read_bytes()
