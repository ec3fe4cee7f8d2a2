"""Headless MuJoCo rendering: GL backend selection, RGB / depth / segmentation / amodal passes,
and the conversion of MuJoCo cameras to the OpenCV convention.

MuJoCo fixes its OpenGL backend when it is first imported, from the ``MUJOCO_GL`` environment
variable, so every module of the simulator gets mujoco through :func:`load_mujoco`, which
chooses the backend first: the user's ``MUJOCO_GL`` when set, otherwise EGL when a probe in a
child process can create a context, otherwise OSMesa. When none works, one
:class:`HeadlessGLError` names the system packages to install.

Camera conventions: MuJoCo cameras are OpenGL-like (x right, y up, looking along -z); the
stored cameras are OpenCV (x right, y down, z forward), ``X_cv = diag(1, -1, -1) X_mj``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from typing import Any

import numpy as np

from crossview.errors import CrossviewError, MissingExtraError, require

GL_PACKAGES_EGL = "libegl1 libegl-mesa0 libgl1-mesa-dri"
GL_PACKAGES_OSMESA = "libosmesa6"

_PROBE = "import mujoco; c = mujoco.GLContext(8, 8); c.make_current(); c.free()"
_chosen_backend: str | None = None


class HeadlessGLError(CrossviewError):
    """No headless OpenGL backend (EGL or OSMesa) works on this machine."""

    def __init__(self, detail: str = "") -> None:
        extra = f" ({detail})" if detail else ""
        super().__init__(
            "MuJoCo cannot render headless: neither EGL nor OSMesa works"
            f"{extra}. Install the system packages '{GL_PACKAGES_EGL}' (EGL) or "
            f"'{GL_PACKAGES_OSMESA}' (OSMesa), e.g. sudo apt-get install {GL_PACKAGES_EGL}"
        )


def _probe(backend: str) -> bool:
    env = {**os.environ, "MUJOCO_GL": backend}
    if backend == "osmesa":
        env["PYOPENGL_PLATFORM"] = "osmesa"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE], env=env, capture_output=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def select_gl_backend() -> str:
    """Choose and export ``MUJOCO_GL`` (``egl``, then ``osmesa``) before mujoco is imported.

    Returns the backend name. A ``MUJOCO_GL`` set by the user is kept as it is.

    Raises:
        HeadlessGLError: when neither backend can create a context.
    """
    global _chosen_backend
    if _chosen_backend is not None:
        return _chosen_backend
    user = os.environ.get("MUJOCO_GL")
    if user:
        _chosen_backend = user
        return user
    if "mujoco" in sys.modules:  # imported by someone else: its backend is already fixed
        _chosen_backend = ""
        return ""
    for backend in ("egl", "osmesa"):
        if _probe(backend):
            os.environ["MUJOCO_GL"] = backend
            if backend == "osmesa":
                os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
            _chosen_backend = backend
            return backend
    raise HeadlessGLError("tried MUJOCO_GL=egl and MUJOCO_GL=osmesa")


def load_mujoco() -> Any:
    """Import mujoco after choosing the GL backend, or raise MissingExtraError naming ``sim``.

    Every module of the simulator imports mujoco through this function, so that the backend
    is chosen before the first import, whoever imports first.

    Returns:
        The ``mujoco`` module.
    """
    if "mujoco" not in sys.modules and importlib.util.find_spec("mujoco") is None:
        raise MissingExtraError("mujoco", "sim", "the simulator")
    select_gl_backend()
    return require("mujoco", "sim", "the simulator")


# ----------------------------------------------------------------------------- cameras


def mujoco_camera_to_opencv(
    cam_xpos: np.ndarray, cam_xmat: np.ndarray, fovy_deg: float, width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    """Convert a MuJoCo camera to OpenCV intrinsics and pose.

    Args:
        cam_xpos: (3,) camera position in the world, metres (``data.cam_xpos[c]``).
        cam_xmat: (9,) or (3, 3) camera-to-world rotation of the MuJoCo camera frame
            (x right, y up, looking along -z) (``data.cam_xmat[c]``).
        fovy_deg: vertical field of view, degrees (``model.cam_fovy[c]``).
        width, height: image size in pixels.

    Returns:
        ``(K, cam_to_world)``: (3, 3) intrinsics with pixel centres at integer coordinates
        (MuJoCo's principal point is the image centre in continuous coordinates, ``W / 2``,
        hence ``(W - 1) / 2`` here) and the (4, 4) OpenCV camera-to-world transform.
    """
    f = 0.5 * height / np.tan(np.deg2rad(fovy_deg) / 2.0)
    K = np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])
    R_mj = np.asarray(cam_xmat, dtype=np.float64).reshape(3, 3)
    cam_to_world = np.eye(4)
    cam_to_world[:3, :3] = R_mj @ np.diag([1.0, -1.0, -1.0])
    cam_to_world[:3, 3] = np.asarray(cam_xpos, dtype=np.float64)
    return K, cam_to_world


# ----------------------------------------------------------------------------- renderer


class SceneRenderer:
    """An offscreen renderer bound to one compiled model; create once per scene, reuse.

    Args:
        model: the ``mujoco.MjModel``; its offscreen buffer must be at least the image size.
        width, height: image size in pixels.
        shadows: draw shadows in the RGB pass.
    """

    def __init__(self, model: Any, width: int, height: int, shadows: bool = True) -> None:
        mujoco = load_mujoco()
        self._mj = mujoco
        self.model = model
        self.width, self.height = int(width), int(height)
        self.shadows = shadows
        try:
            self._gl = mujoco.GLContext(self.width, self.height)
            self._gl.make_current()
        except Exception as exc:  # any GL failure means the same thing
            raise HeadlessGLError(f"MUJOCO_GL={os.environ.get('MUJOCO_GL', '')}: {exc}") from exc
        self._ctx = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._ctx)
        self._ctx.readDepthMap = mujoco.mjtDepthMap.mjDEPTH_ZEROFAR
        self._scene = mujoco.MjvScene(model, maxgeom=2000)
        self._opt = mujoco.MjvOption()
        self._cam = mujoco.MjvCamera()
        self._cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._rect = mujoco.MjrRect(0, 0, self.width, self.height)
        self._rgb = np.empty((self.height, self.width, 3), dtype=np.uint8)
        self._zbuf = np.empty((self.height, self.width), dtype=np.float32)
        self._original_groups = model.geom_group.copy()

    def _update(self, data: Any, camera_id: int) -> None:
        mj = self._mj
        self._cam.fixedcamid = int(camera_id)
        mj.mjv_updateScene(
            self.model, data, self._opt, None, self._cam, mj.mjtCatBit.mjCAT_ALL, self._scene
        )

    def rgb(self, data: Any, camera_id: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB image of camera ``camera_id``."""
        mj = self._mj
        self._gl.make_current()
        self._update(data, camera_id)
        flags = self._scene.flags
        flags[mj.mjtRndFlag.mjRND_SHADOW] = self.shadows
        flags[mj.mjtRndFlag.mjRND_REFLECTION] = False
        flags[mj.mjtRndFlag.mjRND_SEGMENT] = False
        flags[mj.mjtRndFlag.mjRND_IDCOLOR] = False
        mj.mjr_render(self._rect, self._scene, self._ctx)
        mj.mjr_readPixels(self._rgb, None, self._rect, self._ctx)
        return np.flipud(self._rgb).copy()  # GL rows run bottom-up

    def _segment_pass(self, data: Any, camera_id: int, want_depth: bool, pad: int = 0) -> tuple:
        mj = self._mj
        rect, rgb, zbuf = self._rect, self._rgb, self._zbuf
        if pad:
            w, h = self.width + 2 * pad, self.height + 2 * pad
            rect = mj.MjrRect(0, 0, w, h)
            rgb = np.empty((h, w, 3), dtype=np.uint8)
            zbuf = np.empty((h, w), dtype=np.float32) if want_depth else None
        self._gl.make_current()
        self._update(data, camera_id)
        flags = self._scene.flags
        flags[mj.mjtRndFlag.mjRND_SHADOW] = False
        flags[mj.mjtRndFlag.mjRND_REFLECTION] = False
        flags[mj.mjtRndFlag.mjRND_SKYBOX] = False
        flags[mj.mjtRndFlag.mjRND_SEGMENT] = True
        flags[mj.mjtRndFlag.mjRND_IDCOLOR] = True
        mj.mjr_render(rect, self._scene, self._ctx)
        mj.mjr_readPixels(rgb, zbuf if want_depth else None, rect, self._ctx)
        flags[mj.mjtRndFlag.mjRND_SKYBOX] = True
        code = (
            rgb[..., 0].astype(np.int32)
            | (rgb[..., 1].astype(np.int32) << 8)
            | (rgb[..., 2].astype(np.int32) << 16)
        )
        # segid + 1 is drawn as the colour; 0 is the background
        ngeom = self._scene.ngeom
        lut = np.full(ngeom + 2, -1, dtype=np.int32)
        geom_type = int(mj.mjtObj.mjOBJ_GEOM)
        for g in self._scene.geoms[:ngeom]:
            if g.segid >= 0 and g.objtype == geom_type:
                lut[g.segid + 1] = g.objid
        geom_ids = np.flipud(lut[np.minimum(code, ngeom + 1)])
        if not want_depth:
            return geom_ids, None
        depth = self._linear_depth(np.flipud(zbuf))
        depth[geom_ids < 0] = 0.0  # no geometry
        return geom_ids, depth

    def _linear_depth(self, zbuf: np.ndarray) -> np.ndarray:
        """Reverse-Z depth buffer values -> planar camera z, metres."""
        extent = float(self.model.stat.extent)
        near = np.float32(self.model.vis.map.znear * extent)
        far = np.float32(self.model.vis.map.zfar * extent)
        c = -(far + near) / (far - near)
        d = -(np.float32(2.0) * far * near) / (far - near)
        c = np.float32(-0.5) * c - np.float32(0.5)
        d = np.float32(-0.5) * d
        with np.errstate(divide="ignore", invalid="ignore"):
            z = d / (zbuf.astype(np.float64) + c)
        return z.astype(np.float32)

    def segmentation_depth(self, data: Any, camera_id: int) -> tuple[np.ndarray, np.ndarray]:
        """One pass giving the geom id per pixel and the depth.

        Returns:
            ``(geom_ids, depth_m)``: (H, W) int32 geom id of each pixel (-1 where no geometry)
            and (H, W) float32 planar camera-frame z in metres (0 where no geometry).
        """
        return self._segment_pass(data, camera_id, want_depth=True)

    def segmentation_only(
        self, data: Any, camera_id: int, geoms: np.ndarray, pad: int = 0
    ) -> np.ndarray:
        """Geom ids per pixel with every geom hidden except ``geoms`` (for amodal masks).

        With ``pad`` > 0 the image grid is extended by ``pad`` pixels on every side: what the
        camera would see on a larger sensor with the same focal length and principal point, so
        that pixel ``(u, v)`` of the image is ``(u + pad, v + pad)`` here. That measures how
        much of a silhouette lies beyond the image border. MuJoCo has no principal-point
        offset, so the larger sensor is a wider vertical field of view,
        ``2 atan((H / 2 + pad) / f)``, set on the camera for this pass only.

        Args:
            geoms: (G,) int geom ids to draw.
            pad: pixels added on each side, 0 to :attr:`max_pad`.

        Returns:
            (H + 2 pad, W + 2 pad) int32 geom id per pixel, -1 elsewhere.
        """
        pad = int(pad)
        if not 0 <= pad <= self.max_pad:
            raise ValueError(f"pad must be 0-{self.max_pad} pixels, got {pad}")
        fovy = self.model.cam_fovy
        original = float(fovy[camera_id])
        groups = self.model.geom_group
        groups[:] = 5  # group 5 is hidden by the default visual options
        groups[np.asarray(geoms, dtype=np.int64)] = 0
        if pad:
            f = 0.5 * self.height / np.tan(np.deg2rad(original) / 2.0)
            fovy[camera_id] = np.rad2deg(2.0 * np.arctan((0.5 * self.height + pad) / f))
        try:
            ids, _ = self._segment_pass(data, camera_id, want_depth=False, pad=pad)
        finally:
            fovy[camera_id] = original
            groups[:] = self._original_groups
        return ids

    @property
    def max_pad(self) -> int:
        """The largest ``pad`` the offscreen buffer holds: the model's ``offwidth`` /
        ``offheight`` minus the image size, halved."""
        vis = self.model.vis.global_
        return max(0, min(int(vis.offwidth) - self.width, int(vis.offheight) - self.height) // 2)

    def close(self) -> None:
        """Free the GL resources (needed with OSMesa before the process exits)."""
        if getattr(self, "_ctx", None) is not None:
            self._gl.make_current()
            self._ctx.free()
            self._ctx = None
        if getattr(self, "_gl", None) is not None:
            self._gl.free()
            self._gl = None

    def __enter__(self) -> SceneRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
