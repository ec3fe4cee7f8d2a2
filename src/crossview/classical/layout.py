"""Whole-image layout cues for naming a camera from a description (language-conditioned
localization): how much open sky an image shows, whether the robot's dark base is in view,
and how strongly the table texture shrinks towards the top of the image.

- A camera close to the table's height looks across it: the horizon is in the image and the
  smooth, unsaturated, bluish background above the far edge fills a large share of it; the
  table texture shrinks strongly with height in the image (features near the top are small).
- A camera looking straight down sees no horizon and no texture gradient.
- The wrist camera rides on the arm: it cannot see the robot's base, the largest very dark
  region of every fixed view.

All three are read from pixels; which rule applies comes from the description's words.
"""

from __future__ import annotations

import cv2
import numpy as np

from crossview.classical.common import Solver, handles, image_number, pick
from crossview.classical.query import Answer, Query, no_answer


def sky_fraction(image: np.ndarray) -> float:
    """Share of the image that is smooth, unsaturated, bright and bluish (open background)."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    r, b = image[..., 0].astype(np.int16), image[..., 2].astype(np.int16)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    smooth = np.abs(cv2.Laplacian(grey, cv2.CV_16S)) < 6
    sky = (b - r > 12) & (hsv[..., 1] < 90) & (hsv[..., 2] > 110) & smooth
    return float(sky.mean())


def dark_region_px(image: np.ndarray) -> int:
    """Pixels of the largest very dark connected region (value < 35), scaled to 320x240."""
    h, w = image.shape[:2]
    dark = (cv2.cvtColor(image, cv2.COLOR_RGB2HSV)[..., 2] < 35).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    big = int(stats[1:, cv2.CC_STAT_AREA].max()) if n > 1 else 0
    return int(round(big * 320 * 240 / (w * h)))


def texture_gradient(s: Solver, k: int) -> float | None:
    """Median SIFT scale of the bottom 40% of image k over that of the top 40% (1 when the
    texture does not shrink with height: a view straight down), None with too few features."""
    f = s.features(k)
    pts, sizes, h = f.sift_pts, f.sift_sizes, s.q.images[k].shape[0]
    top, bottom = sizes[pts[:, 1] < 0.4 * h], sizes[pts[:, 1] > 0.6 * h]
    if len(top) < 10 or len(bottom) < 10:
        return None
    return float(np.median(bottom) / np.median(top))


def camera_kind(text: str) -> str | None:
    """``wrist``, ``top-down`` or ``low`` from a camera description, None if none applies."""
    low = text.lower()
    if any(w in low for w in ("wrist", "gripper", "on the robot arm", "moves with the robot")):
        return "wrist"
    if any(w in low for w in ("straight down", "top-down", "overhead", "bird", "from above")):
        return "top-down"
    if any(
        w in low for w in ("low angle", "low camera", "nearly horizontal", "close to its height")
    ):
        return "low"
    return None


@handles("language_conditioned_localization")
def language_localization(s: Solver, q: Query) -> Answer:
    """The candidate image whose layout fits the described camera (see the module doc)."""
    kind = camera_kind(q.question)
    if kind is None:
        return no_answer("the description names no camera kind this solver knows")
    ks = [image_number(o, len(q.images)) for o in q.options]
    if any(k is None for k in ks):
        return no_answer("the options are not images")
    imgs = [q.images[k] for k in ks]  # type: ignore[index]
    if kind == "wrist":
        # the one view without the robot's base; the others must clearly show it
        dark = [dark_region_px(im) for im in imgs]
        scores: list[float | None] = [float(d) + 5.0 for d in dark]
        return pick(scores, 8.0, q.letters, "the robot's base is out of view")
    if kind == "low":
        sky = [sky_fraction(im) for im in imgs]
        if max(sky) < 0.1:
            return no_answer("no image shows the horizon")
        return pick([1.0 / (x + 0.02) for x in sky], 1.8, q.letters, "open background above")
    grads = [texture_gradient(s, k) for k in ks]  # type: ignore[arg-type]
    sky = [sky_fraction(im) for im in imgs]
    flat: list[float | None] = [
        None if g is None else abs(float(np.log(g))) + 0.05 + 2.0 * x for g, x in zip(grads, sky)
    ]
    return pick(flat, 2.0, q.letters, "no texture gradient and no horizon")
