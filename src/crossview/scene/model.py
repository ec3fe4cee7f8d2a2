"""The scene data model: calibrated cameras, views, instances with cross-view track ids, time.

Conventions (docs/conventions.md): camera frames are OpenCV (x right, y down, z forward),
``cam_to_world`` is a 4x4 rigid transform, ``K`` is 3x3 with pixel centres at integer
coordinates, lengths are metres, depth maps hold camera-frame z in metres (0 or NaN = invalid),
masks are boolean ``(H, W)`` arrays in memory and COCO RLE on disk.

Images, depth maps and masks load lazily from the scene folder the first time they are used;
a view built in memory (for example by the simulator) holds its arrays directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crossview.geometry.masks import rle_area, rle_decode, rle_encode, touches_border

Rle = dict[str, Any]
"""A COCO run-length encoding ``{"size": [H, W], "counts": str}``."""


@dataclass
class Camera:
    """A pinhole camera at one moment, calibrated or not.

    Attributes:
        name: camera name, unique in a scene (``fix_left``, ``wrist``, ``cam03``).
        width: image width in pixels.
        height: image height in pixels.
        K: (3, 3) float64 intrinsics, OpenCV pixel-centre convention; all NaN when the
            camera is not calibrated.
        cam_to_world: (4, 4) float64 rigid transform from the OpenCV camera frame to the
            world; all NaN when the camera is not calibrated.
        role: what the camera is (``fixed``, ``wrist``, ``top``, ``ego``, ``exo``); free text.
        calibrated: False for a camera known only by its name and images (most robot
            datasets: LeRobot ports record no intrinsics or extrinsics). Generators that need
            geometry skip scenes with such cameras, counted (``needs_calibration``).
    """

    name: str
    width: int
    height: int
    K: np.ndarray | None = None
    cam_to_world: np.ndarray | None = None
    role: str = ""
    calibrated: bool = True

    def __post_init__(self) -> None:
        if self.K is None or self.cam_to_world is None:
            if self.calibrated:
                raise ValueError(f"camera {self.name}: a calibrated camera needs K and a pose")
            self.K = np.full((3, 3), np.nan)
            self.cam_to_world = np.full((4, 4), np.nan)
        self.K = np.asarray(self.K, dtype=np.float64)
        self.cam_to_world = np.asarray(self.cam_to_world, dtype=np.float64)

    @property
    def world_to_cam(self) -> np.ndarray:
        """(4, 4) rigid transform from world to the OpenCV camera frame."""
        R = self.cam_to_world[:3, :3]
        t = self.cam_to_world[:3, 3]
        out = np.eye(4)
        out[:3, :3] = R.T
        out[:3, 3] = -R.T @ t
        return out

    @property
    def center(self) -> np.ndarray:
        """(3,) camera centre in world coordinates, metres."""
        return self.cam_to_world[:3, 3].copy()


@dataclass
class Instance:
    """A physical object, identified by a track id stable across all views and times of a scene.

    Attributes:
        track_id: integer id, unique in the scene.
        category: object class (``cube``, ``mug``, ``person``).
        attributes: named attributes such as ``color``, ``shape``, ``size``, ``material``.
        extent_m: (3,) full size of the object's bounding box along its own axes, metres, or
            None when unknown.
        poses: (T, 4, 4) object-to-world transforms per timestep with the origin at the
            object's centre, or None when unknown. ``poses[t, :3, 3]`` is the centre at t.
    """

    track_id: int
    category: str
    attributes: dict[str, str] = field(default_factory=dict)
    extent_m: np.ndarray | None = None
    poses: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.track_id = int(self.track_id)
        if self.extent_m is not None:
            self.extent_m = np.asarray(self.extent_m, dtype=np.float64)
        if self.poses is not None:
            self.poses = np.asarray(self.poses, dtype=np.float64)

    def center_at(self, timestep: int) -> np.ndarray | None:
        """(3,) world centre at ``timestep`` in metres, or None when poses are unknown."""
        if self.poses is None:
            return None
        return self.poses[timestep, :3, 3].copy()

    def describe(self) -> str:
        """A short human description from the attributes (``small red shiny cube``)."""
        a = self.attributes
        words = [a.get(k) for k in ("size", "color", "material")]
        return " ".join([w for w in words if w] + [a.get("shape", self.category)])


Loader = Callable[[], Any]


class _Lazy:
    """A value produced on first use by a loader and cached afterwards."""

    __slots__ = ("_loader", "_value")

    def __init__(self, value: Any = None, loader: Loader | None = None) -> None:
        self._value = value
        self._loader = loader

    def get(self) -> Any:
        if self._value is None and self._loader is not None:
            self._value = self._loader()
        return self._value

    def is_set(self) -> bool:
        return self._value is not None or self._loader is not None

    def drop(self) -> None:
        """Forget a loaded value so that memory is freed (it reloads on next use)."""
        if self._loader is not None:
            self._value = None


@dataclass
class ViewMasks:
    """Instance masks of one view, keyed by track id, as COCO RLE.

    Attributes:
        visible: track id -> RLE of the visible (modal) pixels. Only objects with at least one
            visible pixel are listed.
        amodal: track id -> RLE of the full silhouette as if nothing occluded it, or None when
            the source has no amodal masks. May list objects that are fully hidden. The RLE
            covers the image only: a silhouette cut by the image border is cut here too.
        beyond: track id -> amodal pixels outside the image (on the image's pixel grid
            extended past its border; 0 for an object inside the image), or None when the
            source did not measure it. An amodal object missing from it has an unknown share
            outside the image.
    """

    visible: dict[int, Rle] = field(default_factory=dict)
    amodal: dict[int, Rle] | None = None
    beyond: dict[int, int] | None = None


class View:
    """What one camera saw at one timestep: image, depth, instance masks.

    Args:
        camera: the camera, with its pose at this timestep.
        timestep: index into :attr:`Scene.timestamps`.
        timestamp: seconds since the start of the episode.
        image: (H, W, 3) uint8 RGB array, or None with ``image_loader`` given.
        depth_m: (H, W) float32 camera-frame z in metres (0 or NaN = invalid), or None.
        masks: the view's instance masks, or None with ``masks_loader`` given.
        image_loader, depth_loader, masks_loader: zero-argument callables that load lazily.
        image_path: the image file, when the view comes from a store.
    """

    def __init__(
        self,
        camera: Camera,
        timestep: int = 0,
        timestamp: float = 0.0,
        *,
        image: np.ndarray | None = None,
        depth_m: np.ndarray | None = None,
        masks: ViewMasks | None = None,
        image_loader: Loader | None = None,
        depth_loader: Loader | None = None,
        masks_loader: Loader | None = None,
        image_path: Path | None = None,
    ) -> None:
        self.camera = camera
        self.image_path = image_path
        """Where the image file lies when the view was read from a store (else None)."""
        self.timestep = int(timestep)
        self.timestamp = float(timestamp)
        self._image = _Lazy(image, image_loader)
        self._depth = _Lazy(depth_m, depth_loader)
        self._masks = _Lazy(masks, masks_loader)

    @property
    def view_id(self) -> str:
        """``<camera>_t<timestep:03d>``: the view's name in the store and in datasets."""
        return f"{self.camera.name}_t{self.timestep:03d}"

    @property
    def image(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB image (loaded on first use)."""
        img = self._image.get()
        if img is None:
            raise ValueError(f"view {self.view_id} has no image")
        return img

    @property
    def has_depth(self) -> bool:
        return self._depth.is_set()

    @property
    def depth_m(self) -> np.ndarray | None:
        """(H, W) float32 camera-frame z in metres, or None when the view has no depth."""
        return self._depth.get()

    @property
    def masks(self) -> ViewMasks:
        m = self._masks.get()
        return m if m is not None else ViewMasks()

    @property
    def track_ids(self) -> list[int]:
        """Track ids of the objects with visible pixels in this view, sorted."""
        return sorted(self.masks.visible)

    def mask(self, track_id: int) -> np.ndarray:
        """(H, W) bool visible mask of ``track_id``; all False when it is not visible here."""
        rle = self.masks.visible.get(int(track_id))
        if rle is None:
            return np.zeros((self.camera.height, self.camera.width), dtype=bool)
        return rle_decode(rle)

    def amodal_mask(self, track_id: int) -> np.ndarray | None:
        """(H, W) bool amodal mask of ``track_id``, or None when the view has no amodal masks."""
        amodal = self.masks.amodal
        if amodal is None:
            return None
        rle = amodal.get(int(track_id))
        if rle is None:
            return np.zeros((self.camera.height, self.camera.width), dtype=bool)
        return rle_decode(rle)

    def visible_area(self, track_id: int) -> int:
        """Visible pixel count of ``track_id`` in this view."""
        rle = self.masks.visible.get(int(track_id))
        return 0 if rle is None else rle_area(rle)

    def amodal_area(self, track_id: int) -> int | None:
        """Amodal pixel count of ``track_id``, or None without amodal masks."""
        amodal = self.masks.amodal
        if amodal is None:
            return None
        rle = amodal.get(int(track_id))
        return 0 if rle is None else rle_area(rle)

    def beyond_area(self, track_id: int) -> int | None:
        """Amodal pixels of ``track_id`` outside the image, or None when not measured."""
        beyond = self.masks.beyond
        return None if beyond is None else beyond.get(int(track_id))

    def visible_fraction(self, track_id: int) -> float | None:
        """Visible / full amodal pixels of ``track_id`` in [0, 1], or None without amodal masks.

        The full silhouette counts the pixels beyond the image border when the source measured
        them (:meth:`beyond_area`); otherwise only those inside the image, so that for an
        object cut by the border the fraction is an upper bound (see :meth:`fraction_exact`).
        """
        amodal = self.amodal_area(track_id)
        if amodal is None:
            return None
        amodal += self.beyond_area(track_id) or 0
        if amodal == 0:
            return 0.0
        return min(1.0, self.visible_area(track_id) / amodal)

    def fraction_exact(self, track_id: int) -> bool:
        """Whether :meth:`visible_fraction` is the object's true visible share: amodal masks
        exist and the object either stays inside the image or its pixels beyond the border
        were measured."""
        if self.masks.amodal is None:
            return False
        if self.beyond_area(track_id) is not None:
            return True
        return not touches_border(self.amodal_mask(track_id))

    def release(self) -> None:
        """Drop lazily loaded arrays to free memory; they reload on next use."""
        self._image.drop()
        self._depth.drop()
        self._masks.drop()

    def __repr__(self) -> str:
        return f"View({self.view_id!r}, {self.camera.width}x{self.camera.height})"


@dataclass
class Scene:
    """A calibrated multi-view scene: views of every camera at every timestep, with objects.

    Attributes:
        scene_id: unique id in a store; also the scene's folder name.
        source: where it comes from (``sim``, ``colmap``, ``messytable``).
        views: every view, any order; :meth:`view` finds one by camera and timestep.
        instances: track id -> object.
        timestamps: seconds of each timestep; ``len(timestamps)`` is T.
        contacts: per timestep, sorted pairs ``(track_a, track_b)`` with a < b that touch.
            None when the source does not know contacts.
        rig_id: scenes that share a rig id were filmed by the same cameras (same names, same
            intrinsics and poses at t=0); used for cross-scenario questions.
        provenance: free-form facts about how the scene was made (seed, generator version,
            original dataset paths, licences).
        language: the episode's task in words ("put the cup in the sink"), when the source
            records one (robot datasets); None otherwise.
        timestep_meta: per timestep, what the source recorded besides images: ``frame_index``
            (the source frame), ``state`` and ``action`` (the robot's vectors at that frame,
            in the dataset's own units and order), ``motion`` (the largest state displacement
            over one second around it); None when the source records nothing.
    """

    scene_id: str
    source: str
    views: list[View]
    instances: dict[int, Instance]
    timestamps: list[float] = field(default_factory=lambda: [0.0])
    contacts: list[list[tuple[int, int]]] | None = None
    rig_id: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    language: str | None = None
    timestep_meta: list[dict[str, Any]] | None = None

    @property
    def num_timesteps(self) -> int:
        return len(self.timestamps)

    @property
    def calibrated(self) -> bool:
        """Whether every camera of every view has intrinsics and a pose."""
        return all(v.camera.calibrated for v in self.views)

    @property
    def has_instances(self) -> bool:
        """Whether the scene knows its objects (instance masks with track ids)."""
        return bool(self.instances)

    @property
    def camera_names(self) -> list[str]:
        """Camera names in first-seen order."""
        seen: dict[str, None] = {}
        for v in self.views:
            seen.setdefault(v.camera.name, None)
        return list(seen)

    def view(self, camera: str, timestep: int = 0) -> View:
        """The view of ``camera`` at ``timestep``; KeyError names the ones that exist."""
        for v in self.views:
            if v.camera.name == camera and v.timestep == timestep:
                return v
        have = ", ".join(v.view_id for v in self.views)
        raise KeyError(f"scene {self.scene_id} has no view {camera}@t{timestep} (has: {have})")

    def views_at(self, timestep: int) -> list[View]:
        """Views of every camera at ``timestep``, in camera order."""
        return [v for v in self.views if v.timestep == timestep]

    def in_contact(self, a: int, b: int, timestep: int = 0) -> bool | None:
        """Whether objects ``a`` and ``b`` touch at ``timestep``; None when contacts are unknown."""
        if self.contacts is None:
            return None
        pair = (min(a, b), max(a, b))
        return pair in set(map(tuple, self.contacts[timestep]))

    def __iter__(self) -> Iterator[View]:
        return iter(self.views)


def masks_from_arrays(
    visible: dict[int, np.ndarray],
    amodal: dict[int, np.ndarray] | None = None,
    beyond: dict[int, int] | None = None,
) -> ViewMasks:
    """Build :class:`ViewMasks` from boolean (H, W) arrays (and, optionally, the amodal pixel
    counts beyond the image border); empty visible masks are left out."""
    vis = {int(t): rle_encode(m) for t, m in visible.items() if m.any()}
    amo = None if amodal is None else {int(t): rle_encode(m) for t, m in amodal.items()}
    bey = None if beyond is None else {int(t): int(n) for t, n in beyond.items()}
    return ViewMasks(visible=vis, amodal=amo, beyond=bey)
