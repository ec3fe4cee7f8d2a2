"""The procedural tabletop world: camera rigs, object layouts, the robot arm and the MJCF text.

Pure Python and numpy (no mujoco import): the output is a :class:`World` holding an MJCF
string that :mod:`crossview.sources.sim.episode` compiles.

World frame: z up, metres; the table top is the plane z = 0, the table spans
``|x| <= TABLE_HALF[0]``, ``|y| <= TABLE_HALF[1]``; objects are placed in the workspace
``|x|, |y| <= WORKSPACE_HALF``. The arm's base stands on the table at ``ARM_BASE`` (the -x
side). Camera azimuth is measured around +z from the +x axis, elevation up from the table.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from crossview.geometry.transforms import look_at
from crossview.sources.sim.config import SimConfig
from crossview.sources.sim.vocab import (
    COLORS,
    MATERIALS,
    SHAPE_BY_NAME,
    SHAPES,
    SIZES,
    half_extent,
    rgba,
)

TABLE_HALF = (0.45, 0.38)
WORKSPACE_HALF = 0.15
ARM_BASE = (-0.33, 0.0)
SHOULDER_Z = 0.14
LINK1, LINK2, HAND = 0.32, 0.30, 0.11
"""Arm geometry, metres: shoulder height, upper arm, forearm, wrist-to-fingertip."""
FINGER_RADIUS = 0.011
WRIST_CAM_TILT_DEG = 40.0
"""The wrist camera looks this far forward from the hand's downward axis."""

FIXED_CAMERA_ORDER: dict[int, tuple[str, ...]] = {
    2: ("fix_left", "fix_right"),
    3: ("fix_left", "fix_center", "fix_right"),
    4: ("fix_left", "fix_center", "fix_right", "top"),
    5: ("fix_left", "fix_center", "fix_right", "top", "fix_back"),
}
"""Fixed cameras for each count of fixed cameras (``cameras - 1``; the last camera is ``wrist``)."""

# name -> (azimuth centre deg, azimuth jitter deg, elevation range deg, distance range m)
_FIXED_CAMERA_RANGES: dict[str, tuple[float, float, tuple[float, float], tuple[float, float]]] = {
    "fix_left": (55.0, 15.0, (20.0, 45.0), (0.65, 0.95)),
    "fix_center": (0.0, 15.0, (20.0, 45.0), (0.65, 0.95)),
    "fix_right": (-55.0, 15.0, (20.0, 45.0), (0.65, 0.95)),
    "top": (0.0, 180.0, (72.0, 85.0), (0.70, 0.90)),
    "fix_back": (140.0, 15.0, (40.0, 60.0), (0.75, 1.00)),
}


@dataclass(frozen=True)
class CameraSpec:
    """A camera of the rig.

    Attributes:
        name: camera name (``fix_left``, ``top``, ``wrist``).
        role: ``fixed``, ``top`` or ``wrist``.
        fovy_deg: vertical field of view, degrees (intrinsics differ per camera through it).
        eye: (3,) world position of a fixed camera, metres; None for the wrist camera.
        target: (3,) world point a fixed camera looks at, metres; None for the wrist camera.
    """

    name: str
    role: str
    fovy_deg: float
    eye: tuple[float, float, float] | None = None
    target: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class Rig:
    """The cameras shared by the scenes of one scenario group, and the arm's pose at t = 0.

    Attributes:
        rig_id: id shared by the scenes filmed with this rig.
        cameras: the cameras, the wrist camera last.
        home: (3,) fingertip position of the arm at t = 0 (the wrist camera pose follows).
    """

    rig_id: str
    cameras: tuple[CameraSpec, ...]
    home: tuple[float, float, float]


@dataclass(frozen=True)
class ObjectSpec:
    """One object as placed before the physics settles it.

    Attributes:
        track_id: 1..N in the scene.
        shape, color, size, material: vocabulary words (:mod:`crossview.sources.sim.vocab`).
        pos: (3,) initial world position of the bounding-box centre, metres.
        yaw: initial rotation about world z, radians.
    """

    track_id: int
    shape: str
    color: str
    size: str
    material: str
    pos: tuple[float, float, float]
    yaw: float

    @property
    def half_extent(self) -> np.ndarray:
        """(3,) half size of the bounding box along the object's axes, metres."""
        return half_extent(self.shape, self.size)

    @property
    def attributes(self) -> dict[str, str]:
        return {
            "shape": self.shape,
            "color": self.color,
            "size": self.size,
            "material": self.material,
        }


@dataclass(frozen=True)
class Layout:
    """Objects of one scene and the relations planned between them.

    Attributes:
        objects: the objects, ``objects[i].track_id == i + 1``.
        stacked: planned (bottom, top) track-id pairs.
        touching: planned side-by-side touching track-id pairs.
    """

    objects: tuple[ObjectSpec, ...]
    stacked: tuple[tuple[int, int], ...] = ()
    touching: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class World:
    """A compiled-ready world: MJCF text plus what is needed to read the simulation back.

    Attributes:
        mjcf: the MJCF model text.
        rig: the camera rig.
        layout: the objects.
        body_names: track id -> MuJoCo body name of the object.
    """

    mjcf: str
    rig: Rig
    layout: Layout
    body_names: dict[int, str] = field(default_factory=dict)
    look: Look | None = None


# ----------------------------------------------------------------------------- sampling


def sample_rig(config: SimConfig, rng: np.random.Generator, rig_id: str) -> Rig:
    """Sample fixed cameras around the workspace and the arm's home pose.

    Args:
        config: uses ``cameras`` (the last one is the wrist camera).
        rng: randomness of this rig only, so that scenes sharing a rig get the same cameras.
        rig_id: id recorded in the scenes.
    """
    cams = []
    for name in FIXED_CAMERA_ORDER[config.cameras - 1]:
        az_c, az_j, el_r, dist_r = _FIXED_CAMERA_RANGES[name]
        az = math.radians(az_c + rng.uniform(-az_j, az_j))
        el = math.radians(rng.uniform(*el_r))
        dist = rng.uniform(*dist_r)
        # aimed off the workspace centre and zoomed in by chance, so that a fixed camera, like
        # the wrist camera, may cut objects at its border or miss some altogether
        target = np.array([rng.uniform(-0.09, 0.09), rng.uniform(-0.09, 0.09), 0.02])
        if name != "top":
            # aimed up to 14 cm above the table, as lab cameras that frame the arm as well as
            # the objects: the wrist camera's positions come into other cameras' views
            target[2] = rng.uniform(0.02, 0.14)
        eye = target + dist * np.array(
            [math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)]
        )
        role = "top" if name == "top" else "fixed"
        cams.append(
            CameraSpec(
                name,
                role,
                float(rng.uniform(30.0, 55.0)),
                tuple(float(x) for x in eye),
                tuple(float(x) for x in target),
            )
        )
    cams.append(CameraSpec("wrist", "wrist", float(rng.uniform(55.0, 70.0))))
    return Rig(rig_id, tuple(cams), sample_observe_point(rng))


def sample_observe_point(rng: np.random.Generator) -> tuple[float, float, float]:
    """(3,) a fingertip position, metres, from which the wrist camera sees the workspace."""
    return (
        float(rng.uniform(-0.22, -0.08)),
        float(rng.uniform(-0.14, 0.14)),
        float(rng.uniform(0.24, 0.34)),
    )


def _footprint(spec_shape: str, size: str) -> float:
    """Radius of the circle around the object's footprint, metres (any yaw)."""
    h = half_extent(spec_shape, size)
    return float(math.hypot(h[0], h[1]))


def sample_layout(config: SimConfig, rng: np.random.Generator) -> Layout:
    """Sample 3-10 objects, non-overlapping, with an optional stacked and touching pair.

    Objects are placed with their bounding-box bottom 0.5 mm above the table (or the object
    below), upright, at random yaw; touching pairs are axis-aligned boxes of bounding boxes
    0.2 mm apart. Several objects may share a shape or a colour.
    """
    lo, hi = config.objects
    n = int(rng.integers(lo, hi + 1))
    attrs: list[tuple[str, str, str, str]] = []
    shape_names = [s.name for s in SHAPES]
    color_names = list(COLORS)
    for _ in range(n):
        shape = (
            attrs[int(rng.integers(len(attrs)))][0]
            if attrs and rng.random() < 0.3
            else shape_names[int(rng.integers(len(shape_names)))]
        )
        color = (
            attrs[int(rng.integers(len(attrs)))][1]
            if attrs and rng.random() < 0.3
            else color_names[int(rng.integers(len(color_names)))]
        )
        size = list(SIZES)[int(rng.integers(len(SIZES)))]
        material = MATERIALS[int(rng.integers(len(MATERIALS)))].name
        attrs.append((shape, color, size, material))

    want_stack = n >= 2 and rng.random() < config.stack_prob
    want_touch = n >= 3 and rng.random() < config.touch_prob
    placed: list[tuple[float, float, float, int]] = []  # (x, y, radius, track) on the table
    specs: dict[int, ObjectSpec] = {}
    stacked: list[tuple[int, int]] = []
    touching: list[tuple[int, int]] = []
    order = list(range(n))
    i = 0
    while i < len(order):
        idx = order[i]
        shape, color, size, material = attrs[idx]
        tid = idx + 1
        h = half_extent(shape, size)
        # a stacked pair: this object on top of the previous one, when shapes allow it
        if want_stack and not stacked and i > 0:
            below = specs[order[i - 1] + 1]
            hb = below.half_extent
            if (
                SHAPE_BY_NAME[below.shape].flat_top
                and SHAPE_BY_NAME[shape].flat_bottom
                and max(h[0], h[1]) <= 1.25 * min(hb[0], hb[1])
            ):
                z = below.pos[2] + hb[2] + h[2] + 0.0005
                specs[tid] = ObjectSpec(
                    tid, shape, color, size, material, (below.pos[0], below.pos[1], z),
                    below.yaw,
                )  # fmt: skip
                stacked.append((below.track_id, tid))
                i += 1
                continue
        # a touching pair: this object beside the previous one along x, both unrotated
        if want_touch and not touching and i > 0 and (order[i - 1] + 1, tid) not in stacked:
            prev = specs[order[i - 1] + 1]
            # bounding boxes side by side touch when the one below has vertical sides (cube,
            # brick, cylinder, disc) as tall as the other's widest point
            widest_z = 0.0 if shape in ("cone", "pyramid") else h[2]
            if (
                prev.yaw == 0.0
                and not any(prev.track_id in p for p in stacked)
                and SHAPE_BY_NAME[prev.shape].flat_top
                and widest_z <= 2 * prev.half_extent[2]
            ):
                hp = prev.half_extent
                x = prev.pos[0] + hp[0] + h[0] + 0.0002
                y = prev.pos[1]
                r = _footprint(shape, size)
                if abs(x) + h[0] <= WORKSPACE_HALF + 0.03 and _free(placed, x, y, r, prev.track_id):
                    specs[tid] = ObjectSpec(
                        tid, shape, color, size, material, (x, y, h[2] + 0.0005), 0.0
                    )
                    placed.append((x, y, r, tid))
                    touching.append((prev.track_id, tid))
                    i += 1
                    continue
        r = _footprint(shape, size)
        pos = None
        for _ in range(400):
            x, y = rng.uniform(-WORKSPACE_HALF, WORKSPACE_HALF, size=2)
            if _free(placed, x, y, r, skip=-1):
                pos = (float(x), float(y))
                break
        if pos is None:  # too crowded: leave this object out
            order.pop(i)
            continue
        # the object that will get a touching neighbour is placed unrotated
        yaw = 0.0 if want_touch and not touching else float(rng.uniform(-math.pi, math.pi))
        specs[tid] = ObjectSpec(
            tid, shape, color, size, material, (pos[0], pos[1], float(h[2]) + 0.0005), yaw
        )
        placed.append((pos[0], pos[1], r, tid))
        i += 1
    # renumber track ids densely 1..N in placement order
    kept = [specs[idx + 1] for idx in order]
    new_id = {s.track_id: k + 1 for k, s in enumerate(kept)}
    objects = tuple(
        ObjectSpec(new_id[s.track_id], s.shape, s.color, s.size, s.material, s.pos, s.yaw)
        for s in kept
    )
    return Layout(
        objects,
        tuple((new_id[a], new_id[b]) for a, b in stacked),
        tuple((new_id[a], new_id[b]) for a, b in touching),
    )


def _free(
    placed: list[tuple[float, float, float, int]], x: float, y: float, r: float, skip: int
) -> bool:
    """True when a footprint circle at (x, y) of radius r keeps 1 cm from every placed one
    (except the object with track id ``skip``)."""
    for px, py, pr, tid in placed:
        if tid != skip and math.hypot(x - px, y - py) < r + pr + 0.01:
            return False
    return True


# ----------------------------------------------------------------------------- arm kinematics


def arm_ik(fingertip: np.ndarray) -> np.ndarray:
    """Joint angles (yaw, shoulder, elbow, wrist), radians, that put the fingertip at a point.

    The hand always points straight down, elbow up. Points out of reach are pulled in to
    97% of the reach.

    Args:
        fingertip: (3,) world position of the fingertip, metres.
    """
    p = np.asarray(fingertip, dtype=np.float64)
    dx, dy = p[0] - ARM_BASE[0], p[1] - ARM_BASE[1]
    yaw = math.atan2(dy, dx)
    r = math.hypot(dx, dy)
    wz = p[2] + HAND - SHOULDER_Z
    d = math.hypot(r, wz)
    reach = 0.97 * (LINK1 + LINK2)
    d_min = abs(LINK1 - LINK2) + 0.02
    if d > reach or d < d_min:
        scale = min(max(d, d_min), reach) / max(d, 1e-9)
        r, wz, d = r * scale, wz * scale, min(max(d, d_min), reach)
    cos_e = (d * d - LINK1 * LINK1 - LINK2 * LINK2) / (2 * LINK1 * LINK2)
    rel2 = -math.acos(max(-1.0, min(1.0, cos_e)))  # elbow bends down
    a1 = math.atan2(wz, r) + math.atan2(LINK2 * math.sin(-rel2), LINK1 + LINK2 * math.cos(rel2))
    rel3 = -math.pi / 2 - a1 - rel2  # hand straight down
    # MuJoCo hinge about +y turns +x towards -z, so an elevation angle a is a joint angle -a
    return np.array([yaw, -a1, -rel2, -rel3])


def arm_reachable(fingertip: np.ndarray, margin: float = 0.97) -> bool:
    """Whether the fingertip point (3,) is within ``margin`` of the arm's reach."""
    p = np.asarray(fingertip, dtype=np.float64)
    r = math.hypot(p[0] - ARM_BASE[0], p[1] - ARM_BASE[1])
    wz = p[2] + HAND - SHOULDER_Z
    return abs(LINK1 - LINK2) + 0.02 < math.hypot(r, wz) <= margin * (LINK1 + LINK2)


# ----------------------------------------------------------------------------- MJCF


def _f(*xs: float) -> str:
    return " ".join(f"{x:.6g}" for x in xs)


def _object_geom(spec: ObjectSpec, assets: list[str]) -> str:
    h = spec.half_extent
    mat = f'material="{spec.color}_{spec.material}"'
    common = f'{mat} contype="1" conaffinity="3" condim="6"'
    name = f'name="obj{spec.track_id}"'
    if spec.shape in ("cube", "brick"):
        return f'<geom {name} type="box" size="{_f(*h)}" {common}/>'
    if spec.shape == "sphere":
        return f'<geom {name} type="sphere" size="{_f(h[0])}" {common}/>'
    if spec.shape in ("cylinder", "disc"):
        return f'<geom {name} type="cylinder" size="{_f(h[0], h[2])}" {common}/>'
    if spec.shape == "capsule":
        r = h[2]
        return (
            f'<geom {name} type="capsule" fromto="{_f(-(h[0] - r), 0, 0, h[0] - r, 0, 0)}" '
            f'size="{_f(r)}" {common}/>'
        )
    mesh = f"mesh{spec.track_id}"
    if spec.shape == "cone":
        ring = [
            (h[0] * math.cos(a), h[1] * math.sin(a), -h[2])
            for a in np.linspace(0, 2 * math.pi, 32, endpoint=False)
        ]
        verts = [*ring, (0.0, 0.0, h[2])]
    elif spec.shape == "pyramid":
        verts = [(sx * h[0], sy * h[1], -h[2]) for sx in (-1, 1) for sy in (-1, 1)]
        verts.append((0.0, 0.0, h[2]))
    else:
        raise ValueError(f"unknown shape {spec.shape!r}")
    flat = [c for v in verts for c in v]
    assets.append(f'<mesh name="{mesh}" vertex="{_f(*flat)}"/>')
    return f'<geom {name} type="mesh" mesh="{mesh}" {common}/>'


def _wrist_camera_axes() -> tuple[np.ndarray, np.ndarray]:
    """(xaxis, yaxis) of the MuJoCo wrist camera in the wrist body frame.

    The wrist body's +x runs down the hand, +z points away from the arm's base when the hand
    points down; the camera looks along x tilted towards +z, image up towards +z.
    """
    t = math.radians(WRIST_CAM_TILT_DEG)
    look = np.array([math.cos(t), 0.0, math.sin(t)])
    z_cam = -look  # MuJoCo cameras look along their -z
    up = np.array([0.0, 0.0, 1.0])
    y_cam = up - up.dot(look) * look
    y_cam /= np.linalg.norm(y_cam)
    x_cam = np.cross(y_cam, z_cam)
    return x_cam, y_cam


def _arm_mjcf(wrist_fovy: float) -> str:
    bx, by = ARM_BASE
    xc, yc = _wrist_camera_axes()
    # Only the finger collides (contype 2, with the objects); links are heavy with armature so
    # that the kinematically driven arm is not pushed back by the objects.
    link = 'contype="0" conaffinity="0" material="arm"'
    return f"""
    <geom name="arm_base" type="cylinder" pos="{_f(bx, by, 0.03)}" size="0.06 0.03"
          material="arm_dark" contype="0" conaffinity="0"/>
    <body name="arm_yaw" pos="{_f(bx, by, 0.06)}">
      <joint name="j_yaw" type="hinge" axis="0 0 1" armature="50"/>
      <geom type="cylinder" pos="0 0 0.04" size="0.035 0.04" {link} density="3000"/>
      <body name="arm_upper" pos="0 0 {_f(SHOULDER_Z - 0.06)}">
        <joint name="j_shoulder" type="hinge" axis="0 1 0" armature="50"/>
        <geom type="capsule" fromto="0 0 0 {_f(LINK1)} 0 0" size="0.026" {link}/>
        <body name="arm_fore" pos="{_f(LINK1)} 0 0">
          <joint name="j_elbow" type="hinge" axis="0 1 0" armature="50"/>
          <geom type="capsule" fromto="0 0 0 {_f(LINK2)} 0 0" size="0.021" {link}/>
          <body name="arm_hand" pos="{_f(LINK2)} 0 0">
            <joint name="j_wrist" type="hinge" axis="0 1 0" armature="50"/>
            <geom type="box" pos="0.035 0 0" size="0.035 0.03 0.022" material="arm_dark"
                  contype="0" conaffinity="0"/>
            <geom name="finger" type="capsule"
                  fromto="0.06 0 0 {_f(HAND - FINGER_RADIUS)} 0 0" size="{_f(FINGER_RADIUS)}"
                  material="arm" contype="2" conaffinity="0" condim="3" density="20000"/>
            <site name="fingertip" pos="{_f(HAND)} 0 0" size="0.005" group="4"/>
            <camera name="wrist" pos="0.03 0 0.045" xyaxes="{_f(*xc, *yc)}"
                    fovy="{_f(wrist_fovy)}"/>
          </body>
        </body>
      </body>
    </body>"""


TABLE_TEX = 512
"""Side in texels of the table-top texture (filled by :func:`table_texture`)."""


TABLE_COLORS: tuple[tuple[int, int, int], ...] = (
    (204, 189, 163),  # beige
    (176, 142, 104),  # oak
    (190, 190, 184),  # light grey laminate
    (150, 168, 178),  # blue-grey mat
    (206, 178, 150),  # birch
)
"""Base colours of the table top; each scene draws one (:class:`Look`)."""


@dataclass(frozen=True)
class Look:
    """How one scene looks, apart from its geometry: table top and lights.

    Scenes of one rig share cameras but not their look (another day, another table cover),
    so that telling the same camera in two scenarios apart takes more than comparing pixels.

    Attributes:
        table_key: seed of the table-top texture.
        table_rgb: base colour of the table top, uint8 RGB.
        key_dir: (3,) direction of the key light (world frame, pointing down).
        key_diffuse: key light intensity in [0, 1].
        ambient: headlight ambient intensity in [0, 1].
    """

    table_key: str
    table_rgb: tuple[int, int, int] = TABLE_COLORS[0]
    key_dir: tuple[float, float, float] = (-0.25, 0.3, -1.0)
    key_diffuse: float = 0.55
    ambient: float = 0.3


def sample_look(rng: np.random.Generator, scene_id: str) -> Look:
    """A seeded look: one of :data:`TABLE_COLORS`, the key light from a random azimuth
    (35-65 deg from vertical) at intensity 0.4-0.7, ambient 0.22-0.38."""
    az = rng.uniform(0, 2 * math.pi)
    tilt = math.radians(rng.uniform(10.0, 35.0))
    d = (-math.sin(tilt) * math.cos(az), -math.sin(tilt) * math.sin(az), -math.cos(tilt))
    return Look(
        table_key=scene_id,
        table_rgb=TABLE_COLORS[int(rng.integers(len(TABLE_COLORS)))],
        key_dir=tuple(float(x) for x in d),
        key_diffuse=float(rng.uniform(0.4, 0.7)),
        ambient=float(rng.uniform(0.22, 0.38)),
    )


def table_texture(
    key: str, size: int = TABLE_TEX, base_rgb: tuple[int, int, int] = TABLE_COLORS[0]
) -> np.ndarray:
    """(size, size, 3) uint8 RGB: a seeded, non-repeating wood-like table top.

    Multi-octave value noise stretched along one axis (grain) plus sparse darker knots and
    flecks, around ``base_rgb``. It gives feature detectors something to match, as a real
    table does; the same key gives the same table.
    """
    seed = int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    field = np.zeros((size, size))
    for octave, amp in ((8, 1.0), (32, 0.5), (128, 0.25)):
        grid = rng.random((octave, max(2, octave // 4)))
        field += (
            amp
            * np.asarray(
                Image.fromarray((grid * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC),
                dtype=np.float64,
            )
            / 255
        )
    field /= 1.75
    base = np.array(base_rgb, dtype=np.float64)
    img = base[None, None] * (0.7 + 0.5 * field[..., None])
    # knots and flecks: dark blobs of a few texels, scattered without repeating
    for _ in range(int(size * size / 900)):
        cx, cy = rng.integers(0, size, 2)
        r = int(rng.integers(2, 7))
        y0, y1, x0, x1 = max(0, cy - r), min(size, cy + r), max(0, cx - r), min(size, cx + r)
        img[y0:y1, x0:x1] *= rng.uniform(0.35, 0.7)
    return np.clip(img, 0, 255).astype(np.uint8)


def pad_px(config: SimConfig) -> int:
    """Pixels beyond each image border in which the simulator measures amodal silhouettes (half
    the shorter image side); the offscreen buffer is sized for it."""
    return min(config.width, config.height) // 2


def build_world(config: SimConfig, rig: Rig, layout: Layout, look: Look | None = None) -> World:
    """Write the MJCF of a scene: table, floor, lights, fixed cameras, arm and objects."""
    look = look or Look(rig.rig_id)
    kd = look.key_dir
    key_pos = (-0.9 * kd[0] / max(1e-6, -kd[2]), -0.9 * kd[1] / max(1e-6, -kd[2]), 1.6)
    assets: list[str] = []
    for color in COLORS:
        r, g, b, a = rgba(color)
        for m in MATERIALS:
            assets.append(
                f'<material name="{color}_{m.name}" rgba="{_f(r, g, b, a)}" '
                f'specular="{_f(m.specular)}" shininess="{_f(m.shininess)}"/>'
            )
    bodies = []
    body_names: dict[int, str] = {}
    for spec in layout.objects:
        geom = _object_geom(spec, assets)
        q = (math.cos(spec.yaw / 2), 0.0, 0.0, math.sin(spec.yaw / 2))
        name = f"object{spec.track_id}"
        body_names[spec.track_id] = name
        bodies.append(
            f'<body name="{name}" pos="{_f(*spec.pos)}" quat="{_f(*q)}">'
            f'<joint name="{name}_free" type="free"/>{geom}</body>'
        )
    cams = []
    for c in rig.cameras:
        if c.role == "wrist":
            continue
        T = look_at(c.eye, c.target)  # OpenCV camera: x right, y down, z forward
        x_axis, y_axis = T[:3, 0], -T[:3, 1]  # MuJoCo camera: x right, y up
        cams.append(
            f'<camera name="{c.name}" pos="{_f(*c.eye)}" xyaxes="{_f(*x_axis, *y_axis)}" '
            f'fovy="{_f(c.fovy_deg)}"/>'
        )
    wrist_fovy = next(c.fovy_deg for c in rig.cameras if c.role == "wrist")
    tx, ty = TABLE_HALF
    legs = "\n".join(
        f'<geom type="box" pos="{_f(sx * (tx - 0.04), sy * (ty - 0.04), -0.39)}" '
        f'size="0.025 0.025 0.35" material="table_leg" contype="0" conaffinity="0"/>'
        for sx in (-1, 1)
        for sy in (-1, 1)
    )
    shadow = "true" if config.shadows else "false"
    asset_text = "\n    ".join(assets)
    pad = pad_px(config)  # the offscreen buffer also holds the beyond-the-border pass
    return World(
        mjcf=f"""<mujoco model="crossview_sim">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{_f(config.physics_dt)}" integrator="implicitfast" cone="elliptic"/>
  <statistic extent="1.5" center="0 0 0.1"/>
  <visual>
    <global offwidth="{config.width + 2 * pad}" offheight="{config.height + 2 * pad}"/>
    <quality shadowsize="2048" offsamples="4"/>
    <map znear="0.01" zfar="20"/>
    <headlight ambient="{_f(*[look.ambient] * 3)}" diffuse="0.35 0.35 0.35"
               specular="0.1 0.1 0.1"/>
  </visual>
  <default>
    <geom friction="0.8 0.005 0.0002" solref="0.004 1"/>
  </default>
  <asset>
    <texture name="sky" type="skybox" builtin="gradient" rgb1="0.78 0.82 0.9"
             rgb2="0.4 0.45 0.55" width="64" height="64"/>
    <texture name="floor" type="2d" builtin="checker" rgb1="0.5 0.5 0.48"
             rgb2="0.42 0.42 0.4" width="256" height="256"/>
    <material name="floor" texture="floor" texrepeat="6 6"/>
    <texture name="table" type="2d" builtin="flat" rgb1="0.8 0.74 0.64" width="{TABLE_TEX}"
             height="{TABLE_TEX}"/>
    <material name="table" texture="table" specular="0.1" shininess="0.1"/>
    <material name="table_leg" rgba="0.35 0.28 0.22 1"/>
    <material name="arm" rgba="0.86 0.86 0.88 1" specular="0.5" shininess="0.5"/>
    <material name="arm_dark" rgba="0.18 0.18 0.2 1"/>
    {asset_text}
  </asset>
  <worldbody>
    <light name="key" pos="{_f(*key_pos)}" dir="{_f(*kd)}" diffuse="{_f(*[look.key_diffuse] * 3)}"
           specular="0.2 0.2 0.2" castshadow="{shadow}"/>
    <light name="fill" pos="-0.6 0.6 1.4" dir="0.4 -0.4 -1" diffuse="0.25 0.25 0.25"
           specular="0 0 0" castshadow="false"/>
    <geom name="floor" type="plane" pos="0 0 -0.74" size="3 3 0.1" material="floor"
          contype="1" conaffinity="1"/>
    <geom name="table_top" type="box" pos="0 0 -0.02" size="{_f(tx, ty)} 0.02"
          material="table" contype="1" conaffinity="1"/>
    {legs}
    {chr(10).join(cams)}
    {_arm_mjcf(wrist_fovy)}
    {chr(10).join(bodies)}
  </worldbody>
</mujoco>
""",
        rig=rig,
        layout=layout,
        body_names=body_names,
        look=look,
    )
