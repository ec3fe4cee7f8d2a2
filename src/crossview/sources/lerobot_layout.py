"""The on-disk layout of a LeRobot dataset, as LeRobot's own code writes it.

Facts from ``lerobot`` 0.4.4 (PyPI wheel, ``lerobot/datasets/utils.py``,
``lerobot/datasets/lerobot_dataset.py``, ``lerobot/datasets/video_utils.py``,
``lerobot/datasets/v30/convert_dataset_v21_to_v30.py``); docs/adapters.md cites each one.
The importer (:mod:`crossview.sources.adapters.lerobot`) reads both layouts below; the
exporter (``crossview export STORE --format lerobot``) writes version 3.0.

Version 3.0 (``codebase_version: "v3.0"``): episodes are rows of
``meta/episodes/chunk-XXX/file-YYY.parquet`` (``episode_index``, ``tasks``, ``length``,
``dataset_from_index`` / ``dataset_to_index`` into the frame table, ``data/chunk_index``,
``data/file_index``, per video key ``videos/{key}/chunk_index``, ``file_index``,
``from_timestamp``, ``to_timestamp``: several episodes share one data file and one mp4 per
camera, an episode's frames starting at ``from_timestamp`` in it); frames are rows of
``data/chunk-XXX/file-YYY.parquet``; tasks are ``meta/tasks.parquet`` (the task string is the
index, column ``task_index``).

Version 2.x (``v2.0``, ``v2.1``): ``meta/episodes.jsonl`` (``episode_index``, ``tasks``,
``length``), ``meta/tasks.jsonl`` (``task_index``, ``task``), one data file and one mp4 per
episode at the ``data_path`` / ``video_path`` templates of ``info.json`` (``episode_chunk`` =
``episode_index // chunks_size``).
"""

from __future__ import annotations

CODEBASE_VERSION = "v3.0"
"""What the exporter writes (``lerobot_dataset.CODEBASE_VERSION`` in 0.4.4)."""
READABLE_VERSIONS = ("v2.0", "v2.1", "v3.0")

INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
EPISODES_DIR = "meta/episodes"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
EPISODES_PATH = EPISODES_DIR + "/" + CHUNK_FILE + ".parquet"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"
DEFAULT_CHUNK_SIZE = 1000
DEFAULT_DATA_FILE_SIZE_IN_MB = 100
"""A data (and episodes) parquet file is closed past this size (``utils.py``)."""
DEFAULT_VIDEO_FILE_SIZE_IN_MB = 200
"""An mp4 is closed past this size; the next episode starts a new file (``utils.py``)."""

LEGACY_EPISODES_PATH = "meta/episodes.jsonl"
LEGACY_TASKS_PATH = "meta/tasks.jsonl"
LEGACY_DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
LEGACY_VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"

DEFAULT_FEATURES = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
"""Columns every frame row has (``utils.DEFAULT_FEATURES``)."""

STATE = "observation.state"
ACTION = "action"
IMAGES_PREFIX = "observation.images."
"""Camera keys are ``observation.images.<name>`` by LeRobot's convention; crossview takes
every feature of dtype ``video`` or ``image`` as a camera, named by the part after the last
``observation.images.`` (or the whole key)."""

CALIBRATION_PREFIX = "observation.cameras."
"""crossview's own extra features, written by its exporter so that a simulated episode keeps
its calibration: ``observation.cameras.<name>.intrinsics`` (float64, 9: K row-major) and
``observation.cameras.<name>.cam_to_world`` (float64, 16: the OpenCV camera-to-world
transform row-major), per frame. Other datasets do not have them and import uncalibrated."""

TIMESTAMP_S = "observation.timestamp_s"
"""crossview's extra float32 feature (shape [1]): the scene's own time of the frame, seconds
(``timestamp`` is ``frame_index / fps``, as LeRobot requires)."""
EPISODE_SCENE_ID = "crossview/scene_id"
EPISODE_RIG_ID = "crossview/rig_id"
"""crossview's extra string columns of the v3.0 episodes table: the scene an episode was
exported from and its rig id (``""`` when none)."""


def camera_name(key: str) -> str:
    """The crossview camera name of a LeRobot image key (``observation.images.wrist`` ->
    ``wrist``; dots and other unsafe characters become ``_``)."""
    import re

    name = key.split(IMAGES_PREFIX)[-1] if IMAGES_PREFIX in key else key
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "camera"
