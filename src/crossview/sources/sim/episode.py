"""Simulate one scene: settle the objects, push them with the arm, render every camera.

:func:`simulate_scene` is the whole recipe for scene ``index`` of a run with seed ``seed``:
its layout randomness comes from ``SeedSequence([seed, index])``, its camera rig from
``SeedSequence([seed, rig_index, RIG_STREAM])`` with ``rig_index = index //
scenarios_per_rig``, so the scenes of one scenario group share the rig (same cameras,
intrinsics and arm pose at t = 0) and differ in their objects.

Per timestep it records object poses (bounding-box centre, world frame), object-object
contacts (surfaces closer than ``touch_tol_m``) and, for every camera, RGB, depth (planar
camera z in metres, 0 where there is no geometry), visible masks of the objects only (not
table or arm) and amodal masks.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crossview.geometry.masks import touches_border
from crossview.scene.model import Camera, Instance, Scene, View, masks_from_arrays
from crossview.sources.sim import world as wd
from crossview.sources.sim.config import GENERATOR_VERSION, SimConfig
from crossview.sources.sim.render import SceneRenderer, load_mujoco, mujoco_camera_to_opencv

RIG_STREAM = 7919
LOOK_STREAM = 104729
"""Third seed word of rig randomness (keeps rig streams apart from scene streams)."""
ARM_JOINTS = ("j_yaw", "j_shoulder", "j_elbow", "j_wrist")
AIR_Z = 0.22
"""Fingertip height for moves above the objects, metres."""
AIR_SPEED = 0.6
"""Fingertip speed for moves above the objects, m/s."""


def scene_id_for(seed: int, index: int) -> str:
    """``sim_<seed>_<index:05d>``."""
    return f"sim_{seed}_{index:05d}"


def rig_for(config: SimConfig, seed: int, index: int) -> wd.Rig:
    """The camera rig of scene ``index`` (shared by its scenario group)."""
    rig_index = index // config.scenarios_per_rig
    rng = np.random.default_rng(np.random.SeedSequence([seed, rig_index, RIG_STREAM]))
    return wd.sample_rig(config, rng, f"sim_{seed}_rig{rig_index:05d}")


def world_for(config: SimConfig, seed: int, index: int) -> tuple[wd.World, np.random.Generator]:
    """The world of scene ``index`` and the scene's random generator, positioned after layout."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    layout = wd.sample_layout(config, rng)
    look_rng = np.random.default_rng(np.random.SeedSequence([seed, index, LOOK_STREAM]))
    look = wd.sample_look(look_rng, scene_id_for(seed, index))
    return wd.build_world(config, rig_for(config, seed, index), layout, look), rng


@dataclass
class Timings:
    """Seconds spent per stage while simulating a scene."""

    physics: float = 0.0
    rgb: float = 0.0
    depth_seg: float = 0.0
    amodal: float = 0.0
    other: float = 0.0
    passes: dict[str, int] = field(
        default_factory=lambda: {"rgb": 0, "depth_seg": 0, "amodal": 0, "beyond": 0}
    )


class _Sim:
    """A compiled world plus helpers to drive the arm, read poses and contacts."""

    def __init__(self, config: SimConfig, world: wd.World) -> None:
        mj = load_mujoco()
        self.mj = mj
        self.config = config
        self.world = world
        self.model = mj.MjModel.from_xml_string(world.mjcf)
        _paint_table(mj, self.model, world.look or wd.Look(world.rig.rig_id))
        self.data = mj.MjData(self.model)
        m = self.model
        jid = [mj.mj_name2id(m, mj.mjtObj.mjOBJ_JOINT, n) for n in ARM_JOINTS]
        self.arm_qadr = np.array([m.jnt_qposadr[j] for j in jid])
        self.arm_vadr = np.array([m.jnt_dofadr[j] for j in jid])
        self.track_ids = [o.track_id for o in world.layout.objects]
        self.body = {
            t: mj.mj_name2id(m, mj.mjtObj.mjOBJ_BODY, world.body_names[t]) for t in self.track_ids
        }
        self.geom = {t: mj.mj_name2id(m, mj.mjtObj.mjOBJ_GEOM, f"obj{t}") for t in self.track_ids}
        self.geom_to_track = np.zeros(m.ngeom + 1, dtype=np.int32)  # index -1 -> 0
        for t, g in self.geom.items():
            self.geom_to_track[g] = t
        self.obj_vadr = np.array(
            [m.jnt_dofadr[m.body_jntadr[self.body[t]]] for t in self.track_ids], dtype=np.int64
        )
        self.half = {o.track_id: o.half_extent for o in world.layout.objects}
        self.arm_q = wd.arm_ik(np.array(world.rig.home))
        self.tip = np.array(world.rig.home, dtype=np.float64)
        self._hold_arm(self.arm_q, np.zeros(4))
        mj.mj_forward(m, self.data)

    # -- stepping

    def _hold_arm(self, q: np.ndarray, qd: np.ndarray) -> None:
        self.data.qpos[self.arm_qadr] = q
        self.data.qvel[self.arm_vadr] = qd

    def step(self, q: np.ndarray | None = None) -> None:
        """One physics step with the arm at joint angles ``q`` (kept where it is when None)."""
        dt = self.model.opt.timestep
        if q is None:
            q = self.arm_q
        self._hold_arm(q, (q - self.arm_q) / dt)
        self.arm_q = q
        self.mj.mj_step(self.model, self.data)

    def max_speeds(self) -> tuple[float, float]:
        """Largest linear (m/s) and angular (rad/s) speed over the objects."""
        qv = self.data.qvel
        lin = max((float(np.linalg.norm(qv[a : a + 3])) for a in self.obj_vadr), default=0.0)
        ang = max((float(np.linalg.norm(qv[a + 3 : a + 6])) for a in self.obj_vadr), default=0.0)
        return lin, ang

    def settle(self) -> None:
        """Step with the arm still until every object is at rest (or ``settle_max_s``)."""
        dt = self.model.opt.timestep
        cfg = self.config
        calm = 0
        for k in range(int(cfg.settle_max_s / dt)):
            self.step()
            if k >= 50 and k % 10 == 0:
                lin, ang = self.max_speeds()
                calm = calm + 1 if lin < cfg.rest_speed and ang < 10 * cfg.rest_speed else 0
                if calm >= 3:
                    break
        self._hold_arm(self.arm_q, np.zeros(4))
        self.mj.mj_forward(self.model, self.data)

    def move_tip(self, waypoints: list[np.ndarray], speed: float) -> None:
        """Drive the fingertip through ``waypoints`` ((3,) world points) at ``speed`` m/s."""
        dt = self.model.opt.timestep
        for target in waypoints:
            target = np.asarray(target, dtype=np.float64)
            n = max(1, math.ceil(np.linalg.norm(target - self.tip) / (speed * dt)))
            start = self.tip
            for k in range(1, n + 1):
                self.step(wd.arm_ik(start + (target - start) * (k / n)))
            self.tip = target

    # -- reading

    def pose(self, track_id: int) -> np.ndarray:
        """(4, 4) object-to-world transform of an object (origin at its bounding-box centre)."""
        b = self.body[track_id]
        T = np.eye(4)
        T[:3, :3] = self.data.xmat[b].reshape(3, 3)
        T[:3, 3] = self.data.xpos[b]
        return T

    def corners(self, track_id: int) -> np.ndarray:
        """(8, 3) world corners of the object's bounding box, metres."""
        h = self.half[track_id]
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        T = self.pose(track_id)
        return (signs * h) @ T[:3, :3].T + T[:3, 3]

    def contacts(self) -> list[tuple[int, int]]:
        """Sorted object pairs (a < b) whose surfaces are within ``touch_tol_m``.

        The simulator's contacts (penetrating pairs) plus the pairs a distance query finds
        closer than the tolerance without penetrating (objects placed side by side).
        """
        mj, m, d = self.mj, self.model, self.data
        tol = self.config.touch_tol_m
        pairs = set()
        for i in range(d.ncon):
            c = d.contact[i]
            a, b = self.geom_to_track[c.geom1], self.geom_to_track[c.geom2]
            if a and b and c.dist < tol:
                pairs.add((int(min(a, b)), int(max(a, b))))
        ids = self.track_ids
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                if (a, b) in pairs:
                    continue
                ga, gb = self.geom[a], self.geom[b]
                gap = np.linalg.norm(d.geom_xpos[ga] - d.geom_xpos[gb])
                if gap > m.geom_rbound[ga] + m.geom_rbound[gb] + tol:
                    continue
                if mj.mj_geomDistance(m, d, ga, gb, tol, None) < tol:
                    pairs.add((a, b))
        return sorted(pairs)

    # -- the scripted push

    def plan_push(self, rng: np.random.Generator) -> dict[str, Any] | None:
        """Pick an object and a direction the arm can push it in; None when none works."""
        cfg = self.config
        for tid in rng.permutation(self.track_ids):
            tid = int(tid)
            corners = self.corners(tid)
            centre = self.pose(tid)[:3, 3]
            if centre[2] < -0.05:  # fell off the table
                continue
            r_xy = float(np.max(np.linalg.norm(corners[:, :2] - centre[:2], axis=1)))
            z = max(wd.FINGER_RADIUS + 0.004, float(corners[:, 2].min()) + 0.008)
            for _ in range(8):
                ang = rng.uniform(-math.pi, math.pi)
                u = np.array([math.cos(ang), math.sin(ang)])
                travel = rng.uniform(*cfg.push_distance)
                start = centre[:2] - u * (r_xy + wd.FINGER_RADIUS + 0.015)
                end = centre[:2] + u * travel
                if np.any(np.abs(end) > wd.WORKSPACE_HALF + 0.05):
                    continue
                if not self._clear(start, tid):
                    continue
                pts = [np.array([*p, hz]) for p in (start, end) for hz in (z, AIR_Z)]
                if all(wd.arm_reachable(p, margin=0.95) for p in pts):
                    return {
                        "track_id": tid,
                        "start": [*map(float, start), float(z)],
                        "end": [*map(float, end), float(z)],
                    }
        return None

    def _clear(self, xy: np.ndarray, skip: int) -> bool:
        for t in self.track_ids:
            if t == skip:
                continue
            c = self.corners(t)
            centre = c.mean(axis=0)
            r = float(np.max(np.linalg.norm(c[:, :2] - centre[:2], axis=1)))
            if np.linalg.norm(xy - centre[:2]) < r + wd.FINGER_RADIUS + 0.01:
                return False
        return True

    def do_push(self, push: dict[str, Any], observe: np.ndarray) -> None:
        """Approach from above, push along the planned line, lift, return to ``observe``."""
        s, e = np.array(push["start"]), np.array(push["end"])
        self.move_tip([np.array([s[0], s[1], AIR_Z])], AIR_SPEED)
        self.move_tip([s, e], self.config.push_speed)
        self.move_tip([np.array([e[0], e[1], AIR_Z]), observe], AIR_SPEED)


def _projected_rects(
    corners: dict[int, np.ndarray], K: np.ndarray, cam_to_world: np.ndarray
) -> dict[int, tuple[float, float, float, float] | None]:
    """Pixel bounding box ``(x0, y0, x1, y1)`` of each object's projected corners, with a
    2-pixel margin; None for an object with a corner behind (or nearly at) the camera plane,
    whose projection is unbounded."""
    R, t = cam_to_world[:3, :3], cam_to_world[:3, 3]
    rects: dict[int, tuple[float, float, float, float] | None] = {}
    for tid, c in corners.items():
        pc = (c - t) @ R  # world -> OpenCV camera frame
        if np.any(pc[:, 2] <= 0.02):
            rects[tid] = None
            continue
        uv = (pc @ K.T)[:, :2] / pc[:, 2:3]
        x0, y0 = uv.min(axis=0) - 2
        x1, y1 = uv.max(axis=0) + 2
        rects[tid] = (float(x0), float(y0), float(x1), float(y1))
    return rects


def _disjoint_groups(rects: dict[int, tuple[float, float, float, float]]) -> list[list[int]]:
    """Group objects whose rectangles do not overlap (one render per group)."""
    groups: list[list[int]] = []
    for tid in sorted(rects):
        a = rects[tid]
        for g in groups:
            if all(
                a[2] < rects[o][0] or rects[o][2] < a[0] or a[3] < rects[o][1] or rects[o][3] < a[1]
                for o in g
            ):
                g.append(tid)
                break
        else:
            groups.append([tid])
    return groups


def _amodal_groups(
    rects: dict[int, tuple[float, float, float, float] | None], w: int, h: int
) -> list[list[int]]:
    """Group the objects that may reach into the image so that their projected bounding boxes
    (:func:`_projected_rects`) do not overlap within a group (one render per group)."""
    inside = {}
    for tid, r in rects.items():
        if r is None:
            r = (-1e9, -1e9, 1e9, 1e9)
        elif r[2] < -0.5 or r[3] < -0.5 or r[0] > w - 0.5 or r[1] > h - 0.5:
            continue  # outside the image: no amodal pixels
        inside[tid] = r
    return _disjoint_groups(inside)


def _beyond_border(
    sim: _Sim,
    renderer: SceneRenderer,
    cam_id: int,
    amodal: dict[int, np.ndarray],
    rects: dict[int, tuple[float, float, float, float] | None],
    tm: Timings,
) -> dict[int, int]:
    """Amodal pixels of each object beyond the image border, on the image's pixel grid
    extended outwards (0 for an object that does not reach the border). An object whose
    projection may extend past the measurable margin (:func:`world.pad_px`) or behind the
    camera is left out: its share outside the image is unknown."""
    w, h = renderer.width, renderer.height
    beyond: dict[int, int] = {}
    need: dict[int, tuple[float, float, float, float]] = {}
    pads: dict[int, int] = {}
    for t, m in amodal.items():
        if not m.any() or not touches_border(m):
            beyond[t] = 0
            continue
        r = rects.get(t)
        if r is None:
            continue
        overflow = max(-r[0], -r[1], r[2] - (w - 1), r[3] - (h - 1), 0.0)
        pad = int(math.ceil(overflow)) + 1
        if pad > renderer.max_pad:
            continue
        need[t], pads[t] = r, pad
    for group in _disjoint_groups(need):
        pad = max(pads[t] for t in group)
        ids = renderer.segmentation_only(
            sim.data, cam_id, np.array([sim.geom[t] for t in group]), pad
        )
        for t in group:
            full = int(np.count_nonzero(ids == sim.geom[t]))
            beyond[t] = max(0, full - int(np.count_nonzero(amodal[t])))
        tm.passes["beyond"] += 1
    return beyond


def simulate_scene(
    config: SimConfig, seed: int, index: int, timings: Timings | None = None
) -> Scene:
    """Simulate and render scene ``index`` of a run with ``seed``; a :class:`Scene` in memory.

    Args:
        config: the simulator configuration.
        seed: the run's seed.
        index: the scene's index in the run (0-based).
        timings: when given, seconds per stage are added to it.

    Returns:
        A scene with ``config.cameras`` cameras x ``config.timesteps`` views, instances with
        track ids 1..N, (T, 4, 4) poses, per-timestep contacts, ``rig_id`` and provenance.
    """
    tm = timings if timings is not None else Timings()
    clock = time.perf_counter()
    world, rng = world_for(config, seed, index)
    sim = _Sim(config, world)
    mj = sim.mj
    tm.other += time.perf_counter() - clock

    clock = time.perf_counter()
    sim.settle()
    t0 = float(sim.data.time)
    tm.physics += time.perf_counter() - clock

    clock = time.perf_counter()
    renderer = SceneRenderer(sim.model, config.width, config.height, shadows=config.shadows)
    tm.other += time.perf_counter() - clock
    cam_ids = {
        c.name: mj.mj_name2id(sim.model, mj.mjtObj.mjOBJ_CAMERA, c.name) for c in world.rig.cameras
    }
    roles = {c.name: c.role for c in world.rig.cameras}
    views: list[View] = []
    timestamps: list[float] = []
    poses: dict[int, list[np.ndarray]] = {t: [] for t in sim.track_ids}
    contacts: list[list[tuple[int, int]]] = []
    pushes: list[dict[str, Any]] = []
    try:
        for step in range(config.timesteps):
            if step > 0:
                clock = time.perf_counter()
                observe = np.array(wd.sample_observe_point(rng))
                push = sim.plan_push(rng)
                if push is not None:
                    sim.do_push(push, observe)
                    pushes.append({"timestep": step, **push})
                else:
                    sim.move_tip([observe], AIR_SPEED)
                sim.settle()
                tm.physics += time.perf_counter() - clock
            timestamps.append(round(float(sim.data.time) - t0, 6))
            for tid in sim.track_ids:
                poses[tid].append(sim.pose(tid))
            contacts.append(sim.contacts())
            corners = {tid: sim.corners(tid) for tid in sim.track_ids}
            for name, cid in cam_ids.items():
                views.append(
                    _render_view(sim, renderer, name, roles[name], cid, step, timestamps[-1],
                                 corners, tm)
                )  # fmt: skip
    finally:
        renderer.close()

    instances = {}
    for o in world.layout.objects:
        instances[o.track_id] = Instance(
            track_id=o.track_id,
            category=o.shape,
            attributes=o.attributes,
            extent_m=2.0 * o.half_extent,
            poses=np.stack(poses[o.track_id]),
        )
    rig_index = index // config.scenarios_per_rig
    provenance = {
        "generator": "crossview.sources.sim",
        "generator_version": GENERATOR_VERSION,
        "mujoco_version": str(mj.__version__),
        "seed": int(seed),
        "scene_index": int(index),
        "rig_index": int(rig_index),
        "scenario": int(index % config.scenarios_per_rig),
        "config": config.to_dict(),
        "planned": {
            "stacked": [list(p) for p in world.layout.stacked],
            "touching": [list(p) for p in world.layout.touching],
        },
        "pushes": pushes,
    }
    return Scene(
        scene_id=scene_id_for(seed, index),
        source="sim",
        views=views,
        instances=instances,
        timestamps=timestamps,
        contacts=contacts,
        rig_id=world.rig.rig_id,
        provenance=provenance,
    )


def _render_view(
    sim: _Sim,
    renderer: SceneRenderer,
    name: str,
    role: str,
    cam_id: int,
    step: int,
    timestamp: float,
    corners: dict[int, np.ndarray],
    tm: Timings,
) -> View:
    cfg = sim.config
    d = sim.data
    K, c2w = mujoco_camera_to_opencv(
        d.cam_xpos[cam_id], d.cam_xmat[cam_id], float(sim.model.cam_fovy[cam_id]),
        cfg.width, cfg.height,
    )  # fmt: skip
    clock = time.perf_counter()
    image = renderer.rgb(d, cam_id)
    tm.rgb += time.perf_counter() - clock
    tm.passes["rgb"] += 1

    clock = time.perf_counter()
    geom_ids, depth = renderer.segmentation_depth(d, cam_id)
    tracks = sim.geom_to_track[geom_ids]  # geom id -1 reads the last entry, 0
    visible = {t: tracks == t for t in sim.track_ids}
    tm.depth_seg += time.perf_counter() - clock
    tm.passes["depth_seg"] += 1

    amodal = beyond = None
    if cfg.amodal:
        clock = time.perf_counter()
        amodal = {t: np.zeros((cfg.height, cfg.width), dtype=bool) for t in sim.track_ids}
        rects = _projected_rects(corners, K, c2w)
        for group in _amodal_groups(rects, cfg.width, cfg.height):
            ids = renderer.segmentation_only(d, cam_id, np.array([sim.geom[t] for t in group]))
            for t in group:
                amodal[t] = ids == sim.geom[t]
            tm.passes["amodal"] += 1
        beyond = _beyond_border(sim, renderer, cam_id, amodal, rects, tm)
        tm.amodal += time.perf_counter() - clock
    camera = Camera(name, cfg.width, cfg.height, K, c2w, role=role)
    return View(
        camera,
        step,
        timestamp,
        image=image,
        depth_m=depth,
        masks=masks_from_arrays(visible, amodal, beyond),
    )


def _paint_table(mj: Any, model: Any, look: wd.Look) -> None:
    """Fill the table texture with the scene's seeded pattern (before a renderer uploads it)."""
    tid = mj.mj_name2id(model, mj.mjtObj.mjOBJ_TEXTURE, "table")
    if tid < 0:
        return
    h, w, adr = int(model.tex_height[tid]), int(model.tex_width[tid]), int(model.tex_adr[tid])
    nc = int(model.tex_nchannel[tid])
    tex = wd.table_texture(look.table_key, w, look.table_rgb)
    if nc == 4:
        tex = np.concatenate([tex, np.full((h, w, 1), 255, np.uint8)], -1)
    model.tex_data[adr : adr + h * w * nc] = tex.reshape(-1)
