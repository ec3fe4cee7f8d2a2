"""Configuration of the simulator: one dataclass, defaults defined here and nowhere else."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from crossview.errors import BadInputError

GENERATOR_VERSION = "sim-1.4"
"""Bumped whenever the same config and seed would produce different scenes."""

MIN_CAMERAS, MAX_CAMERAS = 3, 6
MIN_OBJECTS, MAX_OBJECTS = 1, 10


DEFAULT_SCENES = 10
"""Scenes a run simulates unless told otherwise (``crossview sim --scenes``, ``run_sim``)."""


@dataclass(frozen=True)
class SimConfig:
    """How the procedural tabletop scenes are generated and rendered.

    Every scene has one camera on the robot arm (``wrist``) and ``cameras - 1`` fixed cameras
    (see :data:`crossview.sources.sim.world.FIXED_CAMERA_ORDER`).
    """

    cameras: int = 4
    """Cameras per scene, 3-6; one of them is always the wrist camera on the arm."""
    objects: tuple[int, int] = (3, 8)
    """Inclusive (min, max) number of objects per scene, within 1-10."""
    timesteps: int = 3
    """Timesteps T >= 2 of each episode; between two timesteps the arm pushes an object (three
    by default: the wrist camera then stands at three places, which viewpoint localization
    needs, and temporal verification has pairs of timesteps two pushes apart)."""
    width: int = 320
    """Image width in pixels (every camera)."""
    height: int = 240
    """Image height in pixels (every camera)."""
    scenarios_per_rig: int = 2
    """Consecutive scenes that share one camera rig (same cameras, intrinsics, poses at t=0)."""
    shadows: bool = True
    """Render shadows in the RGB pass (costs about 30 ms per 640x480 frame on a CPU)."""
    amodal: bool = True
    """Render an amodal (unoccluded) mask of every object in every view."""
    stack_prob: float = 0.5
    """Probability that a scene plans one stacked pair (an object resting on another)."""
    touch_prob: float = 0.6
    """Probability that a scene plans one pair of objects placed side by side, touching."""
    physics_dt: float = 0.002
    """Physics time step, seconds."""
    settle_max_s: float = 3.0
    """Longest simulated time spent letting objects come to rest, seconds."""
    rest_speed: float = 0.005
    """Objects are at rest when every linear speed is below this, m/s (and angular / 10 rad/s)."""
    push_distance: tuple[float, float] = (0.04, 0.09)
    """(min, max) distance the arm's finger travels past the pushed object's centre, metres."""
    push_speed: float = 0.25
    """Finger speed while approaching and pushing, m/s."""
    touch_tol_m: float = 0.001
    """Two objects touch when their surfaces are closer than this, metres."""

    def __post_init__(self) -> None:
        if not MIN_CAMERAS <= self.cameras <= MAX_CAMERAS:
            raise BadInputError(
                f"cameras must be {MIN_CAMERAS}-{MAX_CAMERAS}, got {self.cameras}",
                field="cameras",
            )
        lo, hi = self.objects
        if not MIN_OBJECTS <= lo <= hi <= MAX_OBJECTS:
            raise BadInputError(
                f"objects must be MIN:MAX with {MIN_OBJECTS} <= MIN <= MAX <= {MAX_OBJECTS}, "
                f"got {lo}:{hi}",
                field="objects",
            )
        if self.timesteps < 2:
            raise BadInputError(f"timesteps must be >= 2, got {self.timesteps}", field="timesteps")
        if not (16 <= self.width <= 4096 and 16 <= self.height <= 4096):
            raise BadInputError(
                f"size must be within 16-4096 pixels per side, got {self.width}x{self.height}",
                field="size",
            )
        if self.scenarios_per_rig < 1:
            raise BadInputError("scenarios_per_rig must be >= 1", field="scenarios_per_rig")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SimConfig:
        """Inverse of :meth:`to_dict`; unknown keys are ignored."""
        kw: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in d:
                v = d[f.name]
                kw[f.name] = tuple(v) if isinstance(v, list) else v
        return cls(**kw)
