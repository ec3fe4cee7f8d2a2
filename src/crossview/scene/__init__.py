"""Scenes: the data model, the on-disk store and its validation.

See docs/scene-format.md for the store layout and docs/conventions.md for frames and units.
"""

from crossview.scene.model import Camera, Instance, Scene, View, ViewMasks, masks_from_arrays
from crossview.scene.store import (
    SCHEMA_VERSION,
    iter_scenes,
    list_scenes,
    read_scene,
    write_scene,
)
from crossview.scene.validate import PROBLEM_KINDS, Problem, ValidationReport, validate_paths

__all__ = [
    "PROBLEM_KINDS",
    "SCHEMA_VERSION",
    "Camera",
    "Instance",
    "Problem",
    "Scene",
    "ValidationReport",
    "View",
    "ViewMasks",
    "iter_scenes",
    "list_scenes",
    "masks_from_arrays",
    "read_scene",
    "validate_paths",
    "write_scene",
]
