"""Camera geometry for crossview: pure numpy functions, arrays in and arrays out.

Conventions used by every function of this package:

* Camera frame: OpenCV, x right, y down, z forward (along the optical axis).
* ``cam_to_world``: a 4x4 rigid transform ``[R | t; 0 0 0 1]`` taking camera-frame points to
  the world frame; ``t`` is the camera centre in world coordinates.
* ``K``: 3x3 pinhole intrinsics ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` in pixels; no lens
  distortion.
* Pixel coordinates ``uv = (u, v)`` = (column, row) with pixel-centre convention: the centre
  of pixel ``(row 0, col 0)`` is ``uv = (0, 0)``, and a W x H image covers
  ``[-0.5, W - 0.5) x [-0.5, H - 0.5)`` (the OpenCV convention).
* Units: metres for positions and depth; depth is the camera-frame ``z`` (not the ray length).
  Angles are reported in degrees.
* Shapes: ``*`` stands for any number of leading batch axes, which broadcast across arguments
  with numpy rules. Results are float64 (bool for predicates).
* Bad input shapes raise :class:`ValueError` naming the argument, the expected shape and the
  shape received.

Modules: :mod:`~crossview.geometry.transforms` (rigid transforms, ``look_at``),
:mod:`~crossview.geometry.projection` (projection, unprojection, depth-map visibility),
:mod:`~crossview.geometry.epipolar` (two-view geometry), :mod:`~crossview.geometry.relations`
(where one camera is relative to another) and :mod:`~crossview.geometry.masks` (COCO RLE and
mask measures).
"""

from crossview.geometry.epipolar import (
    epipolar_distance,
    epipolar_lines,
    epipole,
    essential_matrix,
    fundamental_matrix,
    relative_pose,
    triangulate,
)
from crossview.geometry.masks import (
    mask_area,
    mask_bbox,
    mask_centroid,
    mask_iou,
    rle_area,
    rle_decode,
    rle_encode,
    touches_border,
    visible_fraction,
)
from crossview.geometry.projection import (
    in_front,
    in_image,
    point_visibility,
    project_points,
    unproject,
    unproject_depth_map,
)
from crossview.geometry.relations import (
    CameraRelation,
    camera_centers_in_frame,
    camera_relation,
)
from crossview.geometry.transforms import (
    camera_to_world,
    invert_rigid,
    is_rotation,
    look_at,
    transform_points,
    world_to_camera,
)

__all__ = [
    "CameraRelation",
    "camera_centers_in_frame",
    "camera_relation",
    "camera_to_world",
    "epipolar_distance",
    "epipolar_lines",
    "epipole",
    "essential_matrix",
    "fundamental_matrix",
    "in_front",
    "in_image",
    "invert_rigid",
    "is_rotation",
    "look_at",
    "mask_area",
    "mask_bbox",
    "mask_centroid",
    "mask_iou",
    "point_visibility",
    "project_points",
    "relative_pose",
    "rle_area",
    "rle_decode",
    "rle_encode",
    "touches_border",
    "transform_points",
    "triangulate",
    "unproject",
    "unproject_depth_map",
    "visible_fraction",
    "world_to_camera",
]
