"""Write a crossview scene store as a LeRobot dataset in LeRobot's v3.0 layout
(``crossview export STORE --format lerobot --out OUT``).

The ``lerobot`` package does not install beside crossview's torch, so this module writes the
files LeRobot 0.4.4's own writer (``LeRobotDataset.create`` / ``add_frame`` /
``save_episode`` / ``finalize``) would write for the same frames, with PyAV and pyarrow
(extra ``robot``). docs/research/lerobot-format.md gives the file and line of every fact.

What a scene becomes (scenes in sorted scene-id order):

* one **episode** (``episode_index`` 0..N-1), one **frame** per timestep
  (``frame_index`` = timestep, ``timestamp`` = ``frame_index / fps`` seconds: the frames are
  the scene's keyframes, so ``fps`` is nominal, 1 by default); the scene's own timestamps
  (seconds since its first timestep) are the float32 feature ``observation.timestamp_s``;
* one **video** feature per camera, ``observation.images.<camera>``, shape
  ``[H, W, 3]``; the episodes' videos are concatenated into one mp4 per camera per file
  (``videos/<key>/chunk-000/file-000.mp4``), each episode at ``from_timestamp`` in it.
  LeRobot's default encoding (AV1 by ``libsvtav1``, ``yuv420p``, ``g=2``, ``crf=30``,
  ``preset=12``) or, with ``lossless``, H.264 RGB (``libx264rgb``, ``qp=0``, ``rgb24``) which
  decodes to exactly the stored pixels;
* ``observation.state`` float32 ``[3]`` (``x, y, z``): the wrist camera's centre in world
  coordinates, metres (zeros when the scene has no calibrated wrist camera);
* ``action`` float32 ``[6]`` (``start_x .. end_z``): the push that leads from this timestep to
  the next (``provenance["pushes"]``, world metres), zeros on the last frame and when none;
* for each calibrated camera ``observation.cameras.<camera>.intrinsics`` float64 ``[9]``
  (``K`` row-major, pixels) and ``observation.cameras.<camera>.cam_to_world`` float64 ``[16]``
  (the OpenCV camera-to-world transform row-major, metres), per frame;
* the episode's **task**: ``Scene.language``, else a sentence from the pushes ("push the red
  cube, then the blue cylinder"), else "observe the scene".

LeRobot needs every camera at every frame with one image size per camera over the dataset: a
scene where a camera misses a timestep or changes size is refused (BadInputError naming scene
and camera); a scene whose cameras differ from the first episode's is skipped, counted.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crossview import __version__
from crossview.errors import BadInputError, CrossviewError, require
from crossview.files import temp_beside
from crossview.scene.model import Camera, Instance, Scene
from crossview.scene.store import MANIFEST, list_scenes, read_json, read_scene
from crossview.sources import lerobot_layout as L

ROBOT_TYPE_PREFIX = "crossview_"
"""``info.json``'s ``robot_type`` is ``crossview_<source>`` (``crossview_sim``) when every
exported scene has one source, else ``crossview``."""

STATE_NAMES = ["x", "y", "z"]
ACTION_NAMES = ["start_x", "start_y", "start_z", "end_x", "end_y", "end_z"]
INTRINSICS_NAMES = [f"k{r}{c}" for r in range(3) for c in range(3)]
POSE_NAMES = [f"m{r}{c}" for r in range(4) for c in range(4)]
IMAGE_NAMES = ["height", "width", "channels"]
NO_TASK = "observe the scene"
"""The task of a scene with neither a language instruction nor a push."""

METADATA_BUFFER_SIZE = 10
"""Episode rows per row group of the episodes table (LeRobot's ``metadata_buffer_size``)."""
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
QUANTILE_BINS = 5000
MIN_SAMPLES, MAX_SAMPLES, SAMPLE_POWER = 100, 10_000, 0.75
DOWNSAMPLE_TARGET, DOWNSAMPLE_THRESHOLD = 150, 300


@dataclass(frozen=True)
class VideoCodec:
    """How the videos are encoded (PyAV codec name, pixel format, codec options)."""

    name: str
    pix_fmt: str
    options: tuple[tuple[str, str], ...]


DEFAULT_CODEC = VideoCodec("libsvtav1", "yuv420p", (("g", "2"), ("crf", "30"), ("preset", "12")))
"""LeRobot's default: ``encode_video_frames(vcodec="libsvtav1", pix_fmt="yuv420p", g=2,
crf=30)`` with ``_get_codec_options``' preset 12."""
LOSSLESS_CODEC = VideoCodec("libx264rgb", "rgb24", (("g", "2"), ("qp", "0")))
"""Lossless H.264 in RGB: decodes to exactly the encoded pixels (not one of LeRobot's codecs,
but any FFmpeg-based reader, LeRobot's included, decodes it)."""


@dataclass
class LeRobotExportReport:
    """What :func:`export_lerobot` wrote.

    Attributes:
        out: the dataset folder.
        episodes: episodes written (one per scene).
        frames: frames written (one per timestep of each scene).
        cameras: camera names, in feature order (``observation.images.<name>``).
        files: every file written, under ``out``.
        skipped: scenes not exported: reason -> count.
    """

    out: Path
    episodes: int = 0
    frames: int = 0
    cameras: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


# ----------------------------------------------------------------------------- scene -> frames


@dataclass(frozen=True)
class _CameraSpec:
    name: str
    width: int
    height: int
    calibrated: bool


def _camera_views(scene: Scene, manifest: Path) -> dict[str, list[Any]]:
    """The scene's views as ``camera -> [view at t=0, ..., t=T-1]``, checked: every camera at
    every timestep, one image size and one calibration state per camera."""
    T = scene.num_timesteps
    by_cam: dict[str, list[Any]] = {name: [None] * T for name in scene.camera_names}
    where = f"scene {scene.scene_id}"
    for v in scene.views:
        name, t = v.camera.name, v.timestep
        if not 0 <= t < T:
            raise BadInputError(
                f"{where}: camera {name} has a view at timestep {t}, but the scene has {T} "
                "timesteps",
                file=manifest,
            )
        if by_cam[name][t] is not None:
            raise BadInputError(
                f"{where}: camera {name} has two views at timestep {t}", file=manifest
            )
        by_cam[name][t] = v
    for name, views in by_cam.items():
        missing = [t for t, v in enumerate(views) if v is None]
        if missing:
            raise BadInputError(
                f"{where}: camera {name} has no view at timestep(s) "
                f"{', '.join(map(str, missing))}; a LeRobot episode needs every camera at "
                "every frame",
                file=manifest,
            )
        first = views[0].camera
        for v in views[1:]:
            c = v.camera
            if (c.width, c.height) != (first.width, first.height):
                raise BadInputError(
                    f"{where}: camera {name} changes image size ({first.width}x{first.height} "
                    f"at timestep 0, {c.width}x{c.height} at timestep {v.timestep}); a "
                    "LeRobot video has one size",
                    file=manifest,
                )
            if c.calibrated != first.calibrated:
                raise BadInputError(
                    f"{where}: camera {name} is calibrated at some timesteps and not at others",
                    file=manifest,
                )
    return by_cam


def _specs(by_cam: dict[str, list[Any]]) -> tuple[_CameraSpec, ...]:
    out = []
    for name, views in by_cam.items():
        c = views[0].camera
        out.append(_CameraSpec(name, c.width, c.height, c.calibrated))
    return tuple(out)


def _image(view: Any, spec: _CameraSpec, scene_id: str) -> np.ndarray:
    """The view's (H, W, 3) uint8 RGB image, checked against the camera's size."""
    img = np.asarray(view.image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise BadInputError(
            f"scene {scene_id}: camera {spec.name}: image at timestep {view.timestep} is not "
            f"(H, W, 3) uint8 RGB (shape {img.shape}, {img.dtype})",
            file=view.image_path,
        )
    h, w = img.shape[:2]
    if (w, h) != (spec.width, spec.height):
        raise BadInputError(
            f"scene {scene_id}: camera {spec.name} changes image size: the image at timestep "
            f"{view.timestep} is {w}x{h}, the camera's is {spec.width}x{spec.height}; a "
            "LeRobot video has one size",
            file=view.image_path,
        )
    return img


def _wrist(scene: Scene, by_cam: dict[str, list[Any]]) -> str | None:
    """The calibrated wrist camera (named ``wrist``, else of role ``wrist``), or None."""
    names = [n for n in by_cam if n == "wrist"]
    names += [n for n in by_cam if n != "wrist" and by_cam[n][0].camera.role == "wrist"]
    for n in names:
        if by_cam[n][0].camera.calibrated:
            return n
    return None


def _pushes(scene: Scene) -> dict[int, dict[str, Any]]:
    """``provenance["pushes"]`` by the timestep each starts from (``timestep - 1``)."""
    out: dict[int, dict[str, Any]] = {}
    for p in scene.provenance.get("pushes") or []:
        try:
            t = int(p["timestep"]) - 1
            start = [float(x) for x in p["start"]]
            end = [float(x) for x in p["end"]]
        except (KeyError, TypeError, ValueError):
            continue
        if 0 <= t < scene.num_timesteps - 1 and len(start) == 3 and len(end) == 3:
            out[t] = {"start": start, "end": end, "track_id": p.get("track_id")}
    return out


def _words(inst: Instance, keys: tuple[str, ...]) -> str:
    a = inst.attributes
    return " ".join([*(a[k] for k in keys if a.get(k)), a.get("shape") or inst.category])


def describe_instance(inst: Instance, instances: dict[int, Instance]) -> str:
    """The shortest of ``colour shape``, ``size colour shape``, ``size colour material shape``
    that no other instance of the scene shares (the longest when all are shared)."""
    options = (("color",), ("size", "color"), ("size", "color", "material"))
    for keys in options:
        text = _words(inst, keys)
        if sum(_words(o, keys) == text for o in instances.values()) <= 1:
            return text
    return _words(inst, options[-1])


def episode_task(scene: Scene) -> str:
    """The episode's task: the scene's language, else "push the red cube, then the blue
    cylinder" from its pushes, else :data:`NO_TASK`."""
    if scene.language and scene.language.strip():
        return scene.language.strip()
    names = []
    for _, p in sorted(_pushes(scene).items()):
        inst = scene.instances.get(int(p["track_id"])) if p["track_id"] is not None else None
        names.append(
            f"the {describe_instance(inst, scene.instances)}" if inst else f"object {p['track_id']}"
        )
    return "push " + ", then ".join(names) if names else NO_TASK


def _features(specs: tuple[_CameraSpec, ...]) -> dict[str, dict[str, Any]]:
    """The dataset's features in ``info.json`` order: ours, then LeRobot's defaults."""
    feats: dict[str, dict[str, Any]] = {
        L.ACTION: {"dtype": "float32", "shape": [6], "names": list(ACTION_NAMES)},
        L.STATE: {"dtype": "float32", "shape": [3], "names": list(STATE_NAMES)},
        L.TIMESTAMP_S: {"dtype": "float32", "shape": [1], "names": None},
    }
    for s in specs:
        feats[L.IMAGES_PREFIX + s.name] = {
            "dtype": "video",
            "shape": [s.height, s.width, 3],
            "names": list(IMAGE_NAMES),
        }
    for s in specs:
        if s.calibrated:
            base = L.CALIBRATION_PREFIX + s.name
            feats[base + ".intrinsics"] = {
                "dtype": "float64",
                "shape": [9],
                "names": list(INTRINSICS_NAMES),
            }
            feats[base + ".cam_to_world"] = {
                "dtype": "float64",
                "shape": [16],
                "names": list(POSE_NAMES),
            }
    for key, ft in L.DEFAULT_FEATURES.items():
        feats[key] = {"dtype": ft["dtype"], "shape": list(ft["shape"]), "names": ft["names"]}
    bad = [k for k in feats if "/" in k]
    if bad:
        raise BadInputError(f"feature names must not contain '/': {', '.join(bad)}")
    return feats


def _episode_columns(
    scene: Scene,
    by_cam: dict[str, list[Any]],
    specs: tuple[_CameraSpec, ...],
    fps: int,
    episode_index: int,
    first_index: int,
    task_index: int,
) -> dict[str, np.ndarray]:
    """Per non-video feature, the episode's (T, ...) array, in the dtype LeRobot stacks it."""
    T = scene.num_timesteps
    wrist = _wrist(scene, by_cam)
    state = np.zeros((T, 3), dtype=np.float32)
    if wrist is not None:
        for t, v in enumerate(by_cam[wrist]):
            state[t] = v.camera.center
    action = np.zeros((T, 6), dtype=np.float32)
    for t, p in _pushes(scene).items():
        action[t] = [*p["start"], *p["end"]]
    cols: dict[str, np.ndarray] = {
        L.ACTION: action,
        L.STATE: state,
        L.TIMESTAMP_S: np.asarray(scene.timestamps, dtype=np.float32).reshape(T, 1),
    }
    for s in specs:
        if s.calibrated:
            cams: list[Camera] = [v.camera for v in by_cam[s.name]]
            base = L.CALIBRATION_PREFIX + s.name
            cols[base + ".intrinsics"] = np.stack([c.K.reshape(9) for c in cams])
            cols[base + ".cam_to_world"] = np.stack([c.cam_to_world.reshape(16) for c in cams])
    # LeRobot stacks Python floats (timestamp = frame_index / fps) and ints: float64, int64
    cols["timestamp"] = np.array([t / fps for t in range(T)], dtype=np.float64)
    cols["frame_index"] = np.arange(T, dtype=np.int64)
    cols["episode_index"] = np.full(T, episode_index, dtype=np.int64)
    cols["index"] = np.arange(first_index, first_index + T, dtype=np.int64)
    cols["task_index"] = np.full(T, task_index, dtype=np.int64)
    return cols


# ----------------------------------------------------------------------------- statistics


def _quantile(hist: np.ndarray, edges: np.ndarray, target: float) -> float:
    cumsum = np.cumsum(hist)
    idx = int(np.searchsorted(cumsum, target))
    if idx == 0:
        return float(edges[0])
    if idx >= len(cumsum):
        return float(edges[-1])
    before = cumsum[idx - 1]
    in_bin = cumsum[idx] - before
    if in_bin == 0:
        return float(edges[idx])
    return float(edges[idx] + (target - before) / in_bin * (edges[idx + 1] - edges[idx]))


def _vector_stats(
    batch: np.ndarray, count: int, square_dtype: type | None = None
) -> dict[str, np.ndarray]:
    """LeRobot's ``get_feature_stats`` on an (N, D) batch: per column min, max, mean, std,
    ``count`` (shape (1,)) and the quantiles q01..q99 (histograms of 5000 bins); with fewer
    than 2 rows the quantiles are the mean (``_compute_basic_stats``). ``square_dtype``: the
    dtype the batch is squared in for the std (LeRobot squares it in its own dtype)."""
    keys = [f"q{int(q * 100):02d}" for q in QUANTILES]
    if batch.shape[0] < 2:
        stats = {
            "min": np.min(batch, axis=0),
            "max": np.max(batch, axis=0),
            "mean": np.mean(batch, axis=0),
            "std": np.std(batch, axis=0),
            "count": np.array([count]),
        }
        for k in keys:
            stats[k] = stats["mean"].copy()
        return stats
    # RunningQuantileStats after its one update (compute_stats.py)
    mean = np.mean(batch, axis=0)
    squares = batch**2 if square_dtype is None else batch.astype(square_dtype) ** 2
    mean_sq = np.mean(squares, axis=0)
    lo, hi = np.min(batch, axis=0), np.max(batch, axis=0)
    n = batch.shape[0]
    hists, edges = [], []
    for i in range(batch.shape[1]):
        e = np.linspace(lo[i] - 1e-10, hi[i] + 1e-10, QUANTILE_BINS + 1)
        h, _ = np.histogram(batch[:, i], bins=e)
        hists.append(h.astype(np.float64))
        edges.append(e)
    stats = {
        "min": lo.copy(),
        "max": hi.copy(),
        "mean": mean.copy(),
        "std": np.sqrt(np.maximum(0, mean_sq - mean**2)),
        "count": np.array([count]),
    }
    for q, k in zip(QUANTILES, keys):
        stats[k] = np.array([_quantile(h, e, q * n) for h, e in zip(hists, edges)])
    return stats


def feature_stats(data: np.ndarray) -> dict[str, np.ndarray]:
    """Stats of a non-image feature over an episode, as ``compute_episode_stats`` gives them:
    ``data`` (N,) -> every stat of shape (1,); (N, D) -> shape (D,); ``count`` = N."""
    batch = data.reshape(-1, 1) if data.ndim == 1 else data
    return _vector_stats(batch, data.shape[0])


def _sample_indices(n: int) -> list[int]:
    lo = n if n < MIN_SAMPLES else MIN_SAMPLES
    num = max(lo, min(int(n**SAMPLE_POWER), MAX_SAMPLES))
    return np.round(np.linspace(0, n - 1, num)).astype(int).tolist()


def _downsample(img_chw: np.ndarray) -> np.ndarray:
    _, h, w = img_chw.shape
    if max(w, h) < DOWNSAMPLE_THRESHOLD:
        return img_chw
    f = int(w / DOWNSAMPLE_TARGET) if w > h else int(h / DOWNSAMPLE_TARGET)
    return img_chw[:, ::f, ::f]


def image_stats(frames: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Stats of a camera over an episode, as ``compute_episode_stats`` gives them for a video
    feature: frames sampled (all of them below 100), downsampled when a side is >= 300 px,
    per channel, in [0, 1]; every stat of shape (3, 1, 1) but ``count`` (frames sampled, (1,)).

    Everything as LeRobot 0.4.4 computes it from the uint8 pixels, but the std: its pixels
    are squared in float64 here, where LeRobot 0.4.4 squares them as uint8, which wraps and
    zeroes the std (huggingface/lerobot#3682, fixed upstream by #3697)."""
    idx = _sample_indices(len(frames))
    arr = np.stack([_downsample(np.asarray(frames[i]).transpose(2, 0, 1)) for i in idx])
    flat = arr.transpose(0, 2, 3, 1).reshape(-1, arr.shape[1])
    stats = _vector_stats(flat, arr.shape[0], square_dtype=np.float64)
    return {
        k: v if k == "count" else np.squeeze(v.reshape(1, -1, 1, 1) / 255.0, axis=0)
        for k, v in stats.items()
    }


def aggregate_stats(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """LeRobot's ``aggregate_feature_stats`` of two stats of one feature: min of mins, max of
    maxes, count-weighted mean, pooled std, count-weighted quantiles."""
    parts = [a, b]
    means = np.stack([s["mean"] for s in parts])
    variances = np.stack([s["std"] ** 2 for s in parts])
    counts = np.stack([s["count"] for s in parts])
    total = counts.sum(axis=0)
    while counts.ndim < means.ndim:
        counts = np.expand_dims(counts, axis=-1)
    mean = (means * counts).sum(axis=0) / total
    var = ((variances + (means - mean) ** 2) * counts).sum(axis=0) / total
    out = {
        "min": np.min(np.stack([s["min"] for s in parts]), axis=0),
        "max": np.max(np.stack([s["max"] for s in parts]), axis=0),
        "mean": mean,
        "std": np.sqrt(var),
        "count": total,
    }
    for k in a:
        if k.startswith("q") and k[1:].isdigit() and k in b:
            out[k] = (np.stack([s[k] for s in parts]) * counts).sum(axis=0) / total
    return out


def _jsonable(stats: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, Any]]:
    return {f: {k: np.asarray(v).tolist() for k, v in s.items()} for f, s in stats.items()}


# ----------------------------------------------------------------------------- videos


@contextmanager
def _quiet_svt() -> Iterator[None]:
    """Keep SVT-AV1's banner off stderr (``SVT_LOG=1``: errors only) unless the user set it."""
    if "SVT_LOG" in os.environ:
        yield
        return
    os.environ["SVT_LOG"] = "1"
    try:
        yield
    finally:
        os.environ.pop("SVT_LOG", None)


def encode_video(
    av: Any, frames: list[np.ndarray], path: Path, fps: int, codec: VideoCodec
) -> None:
    """Encode (H, W, 3) uint8 RGB frames at ``fps`` into the mp4 ``path`` as LeRobot's
    ``encode_video_frames`` does (one stream at rate ``fps``, the codec's pixel format)."""
    h, w = frames[0].shape[:2]
    try:
        with av.open(str(path), "w") as output:
            stream = output.add_stream(codec.name, fps, options=dict(codec.options))
            stream.pix_fmt = codec.pix_fmt
            stream.width = w
            stream.height = h
            for img in frames:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                output.mux(stream.encode(frame))
            output.mux(stream.encode())
    except Exception as exc:  # PyAV's own error types (unknown codec, bad size)
        raise CrossviewError(f"cannot encode {path.name} with {codec.name} ({exc})") from exc


def video_duration_s(av: Any, path: Path) -> float:
    """``get_video_duration_in_s``: the video stream's duration (else the container's), s."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None:
            return float(stream.duration * stream.time_base)
        return float(container.duration / av.time_base)


def _pixel_channels(pix_fmt: str) -> int:
    """``get_video_pixel_channels``, also knowing the planar RGB formats (``gbrp``: what
    libx264rgb's rgb24 reads back as; LeRobot's function raises on it)."""
    if "gray" in pix_fmt or "depth" in pix_fmt or "monochrome" in pix_fmt:
        return 1
    if "rgba" in pix_fmt or "yuva" in pix_fmt or "gbrap" in pix_fmt:
        return 4
    if "rgb" in pix_fmt or "yuv" in pix_fmt or "gbr" in pix_fmt:
        return 3
    raise CrossviewError(f"unknown pixel format {pix_fmt!r}")


def video_info(av: Any, path: Path) -> dict[str, Any]:
    """A feature's ``info`` as ``get_video_info`` reads it from the mp4."""
    with av.open(str(path), "r") as f:
        stream = f.streams.video[0]
        info: dict[str, Any] = {
            "video.height": stream.height,
            "video.width": stream.width,
            "video.codec": stream.codec.canonical_name,
            "video.pix_fmt": stream.pix_fmt,
            "video.is_depth_map": False,
            "video.fps": int(stream.base_rate),
            "video.channels": _pixel_channels(stream.pix_fmt),
        }
        if not f.streams.audio:
            info["has_audio"] = False
        else:  # pragma: no cover - crossview writes no audio
            a = f.streams.audio[0]
            info.update(
                {
                    "audio.channels": a.channels,
                    "audio.codec": a.codec.canonical_name,
                    "audio.bit_rate": a.bit_rate,
                    "audio.sample_rate": a.sample_rate,
                    "audio.bit_depth": a.format.bits,
                    "audio.channel_layout": a.layout.name,
                    "has_audio": True,
                }
            )
    return info


def concatenate_videos(av: Any, inputs: list[Path], output: Path) -> None:
    """``concatenate_video_files``: FFmpeg's concat demuxer, packets copied (no re-encoding),
    ``movflags=faststart``."""
    with tempfile.NamedTemporaryFile("w", suffix=".ffconcat", delete=False, dir=output.parent) as f:
        f.write("ffconcat version 1.0\n")
        for p in inputs:
            quoted = str(p.resolve()).replace("'", "'\\''")
            f.write(f"file '{quoted}'\n")
        listing = Path(f.name)
    tmp = output.with_name(f".{output.name}.concat.mp4")
    try:
        src = av.open(str(listing), mode="r", format="concat", options={"safe": "0"})
        dst = av.open(str(tmp), mode="w", options={"movflags": "faststart"})
        try:
            streams = {}
            for s in src.streams:
                if s.type in ("video", "audio", "subtitle"):
                    streams[s.index] = dst.add_stream_from_template(template=s, opaque=True)
                    streams[s.index].time_base = s.time_base
            for packet in src.demux():
                if packet.stream.index not in streams or packet.dts is None:
                    continue
                packet.stream = streams[packet.stream.index]
                dst.mux(packet)
        finally:
            src.close()
            dst.close()
        tmp.replace(output)
    finally:
        listing.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)


def _next_file(chunk: int, file: int, chunks_size: int) -> tuple[int, int]:
    """``update_chunk_file_indices``."""
    return (chunk + 1, 0) if file == chunks_size - 1 else (chunk, file + 1)


@dataclass
class _VideoFile:
    """The mp4 one camera's episodes are being gathered into."""

    chunk: int = 0
    file: int = 0
    parts: list[Path] = field(default_factory=list)
    size_mb: float = 0.0
    duration_s: float = 0.0


# ----------------------------------------------------------------------------- parquet


def _arrow_type(pa: Any, dtype: str) -> Any:
    return {"float32": pa.float32(), "float64": pa.float64(), "int64": pa.int64()}[dtype]


def _frame_schema(pa: Any, feats: dict[str, dict[str, Any]]) -> Any:
    """The frame table's schema as ``datasets`` writes it from LeRobot's hf features: shape
    (1,) -> ``Value``, (n,) -> fixed-size ``List``; videos have no column; the features are
    recorded in the schema's ``huggingface`` metadata."""
    fields, hf = [], {}
    for key, ft in feats.items():
        if ft["dtype"] in ("video", "image"):
            continue
        value = {"dtype": ft["dtype"], "_type": "Value"}
        if list(ft["shape"]) == [1]:
            fields.append(pa.field(key, _arrow_type(pa, ft["dtype"])))
            hf[key] = value
        else:
            n = int(ft["shape"][0])
            fields.append(pa.field(key, pa.list_(_arrow_type(pa, ft["dtype"]), n)))
            hf[key] = {"feature": value, "length": n, "_type": "List"}
    meta = {b"huggingface": json.dumps({"info": {"features": hf}}).encode()}
    return pa.schema(fields, metadata=meta)


def _frame_table(pa: Any, schema: Any, cols: dict[str, np.ndarray]) -> Any:
    arrays = []
    for f in schema:
        data = cols[f.name]
        if pa.types.is_fixed_size_list(f.type):
            n = f.type.list_size
            flat = pa.array(np.ascontiguousarray(data).reshape(-1), type=f.type.value_type)
            arrays.append(pa.FixedSizeListArray.from_arrays(flat, n))
        else:
            arrays.append(pa.array(np.asarray(data).reshape(-1), type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _tasks_table(pa: Any, tasks: list[str]) -> Any:
    """``meta/tasks.parquet`` as ``write_tasks`` (pandas ``to_parquet``) writes the tasks
    DataFrame: column ``task_index``, the task strings as the (unnamed) index, stored as
    ``__index_level_0__`` and named so in the ``pandas`` metadata."""
    pandas_meta = {
        "index_columns": ["__index_level_0__"],
        "column_indexes": [
            {
                "name": None,
                "field_name": None,
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": {"encoding": "UTF-8"},
            }
        ],
        "columns": [
            {
                "name": "task_index",
                "field_name": "task_index",
                "pandas_type": "int64",
                "numpy_type": "int64",
                "metadata": None,
            },
            {
                "name": None,
                "field_name": "__index_level_0__",
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": None,
            },
        ],
        "attributes": {},
        "creator": {"library": "pyarrow", "version": pa.__version__},
    }
    schema = pa.schema(
        [pa.field("task_index", pa.int64()), pa.field("__index_level_0__", pa.string())],
        metadata={b"pandas": json.dumps(pandas_meta).encode()},
    )
    return pa.Table.from_arrays(
        [pa.array(range(len(tasks)), type=pa.int64()), pa.array(tasks, type=pa.string())],
        schema=schema,
    )


# ----------------------------------------------------------------------------- the export


def _scene_dirs(store: Path, limit: int | None, report: LeRobotExportReport) -> list[Path]:
    """The store's scene folders in scene-id order (duplicates skipped), the first ``limit``."""
    dirs = []
    for d in list_scenes(store):
        m = read_json(d / MANIFEST)
        sid = m.get("scene_id", d.name) if isinstance(m, dict) else d.name
        dirs.append((str(sid), d))
    dirs.sort()
    out, seen = [], set()
    for sid, d in dirs[: None if limit is None else max(0, limit)]:
        if sid in seen:
            report.skip("duplicate scene id")
            continue
        seen.add(sid)
        out.append(d)
    return out


def _prepare_out(store: Path, out: Path, overwrite: bool) -> None:
    s, o = store.resolve(), out.resolve()
    if o == s or s in o.parents or o in s.parents:
        raise BadInputError(
            "the output folder must lie outside the scene store (and not contain it)", file=out
        )
    if out.exists() and not out.is_dir():
        raise BadInputError("output exists and is not a folder", file=out)
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise BadInputError(
                "output folder is not empty (pass overwrite=True / --overwrite to replace a "
                "LeRobot dataset there)",
                file=out,
            )
        if not (out / L.INFO_PATH).is_file():
            raise BadInputError(
                f"output folder is not empty and holds no LeRobot dataset ({L.INFO_PATH}); "
                "refusing to delete it",
                file=out,
            )


def _card(
    info: dict[str, Any],
    store: Path,
    sources: list[str],
    provenance: dict[str, list[Any]],
    lossless: bool,
) -> str:
    """README.md in the shape of LeRobot's dataset card (``card_template.md``), with where the
    episodes come from (LeRobot's files have no place for it)."""
    lines = [
        "---",
        "tags:",
        "- LeRobot",
        "- crossview",
        "task_categories:",
        "- robotics",
        "configs:",
        "- config_name: default",
        "  data_files: data/*/*.parquet",
        "---",
        "",
        "This dataset was created using [LeRobot](https://github.com/huggingface/lerobot)'s "
        f"v3.0 layout, written by crossview {__version__} (`crossview export --format lerobot`).",
        "",
        "## Dataset Description",
        "",
        f"{info['total_episodes']} episodes, one per crossview scene of the store `{store}` "
        f"(sources: {', '.join(sorted(set(sources)))}); one frame per scene timestep "
        f"(`timestamp = frame_index / fps`, fps {info['fps']} nominal; the scene's own times "
        "are `observation.timestamp_s`). The episodes table's `crossview/scene_id` and "
        "`crossview/rig_id` columns name each episode's scene.",
        "",
        "- `observation.state`: the wrist camera's centre, world metres (zeros without a "
        "calibrated wrist camera).",
        "- `action`: the push from this frame to the next (start xyz, end xyz, world metres; "
        "zeros when none).",
        "- `observation.cameras.<camera>.intrinsics` / `.cam_to_world`: K (row-major) and the "
        "OpenCV camera-to-world pose (row-major, metres) of each calibrated camera.",
        "- videos: "
        + (
            "lossless H.264 RGB (libx264rgb, qp 0)."
            if lossless
            else "AV1 (libsvtav1, yuv420p, g 2, crf 30), LeRobot's default."
        ),
        "",
        "Provenance of the scenes (distinct values):",
        "",
        "```json",
        json.dumps(provenance, indent=2, sort_keys=True),
        "```",
        "",
        "## Dataset Structure",
        "",
        "[meta/info.json](meta/info.json):",
        f"```json\n{json.dumps(info, indent=4)}\n```",
        "",
    ]
    return "\n".join(lines)


class _DatasetWriter:
    """Writes episodes into ``root`` as LeRobot's ``save_episode`` does, one after another:
    frame rows into the data file, each camera's episode video (concatenated per file when
    closed), the episode's row (buffered, :data:`METADATA_BUFFER_SIZE` per row group), the
    running aggregate stats; :meth:`finish` writes tasks, info.json and stats.json."""

    def __init__(self, av: Any, pa: Any, pq: Any, root: Path, fps: int, codec: VideoCodec):
        self.av, self.pa, self.pq = av, pa, pq
        self.root, self.fps, self.codec = root, fps, codec
        self.work = root / ".encode"
        self.work.mkdir(parents=True)
        self.chunks_size = L.DEFAULT_CHUNK_SIZE
        self.specs: tuple[_CameraSpec, ...] | None = None
        self.features: dict[str, dict[str, Any]] = {}
        self.schema: Any = None
        self.tasks: dict[str, int] = {}
        self.stats: dict[str, dict[str, np.ndarray]] = {}
        self.videos: dict[str, _VideoFile] = {}
        self.data_writer: Any = None
        self.data_index = (0, 0)
        self.data_path = root
        self.file_first_frame = 0
        self.ep_rows: list[dict[str, Any]] = []
        self.ep_writer: Any = None
        self.ep_schema: Any = None
        self.episodes = 0
        self.frames = 0
        self.sources: list[str] = []
        self.provenance: dict[str, list[Any]] = {}

    # -- per scene

    def accepts(self, specs: tuple[_CameraSpec, ...]) -> bool:
        """Fix the dataset's features from the first scene; later scenes must match them."""
        if self.specs is None:
            self.specs = specs
            self.features = _features(specs)
            self.schema = _frame_schema(self.pa, self.features)
            self.videos = {L.IMAGES_PREFIX + s.name: _VideoFile() for s in specs}
        return specs == self.specs

    def add(self, scene: Scene, by_cam: dict[str, list[Any]]) -> None:
        """Write ``scene`` as the next episode (its cameras already :meth:`accepts`-ed)."""
        assert self.specs is not None
        T, episode = scene.num_timesteps, self.episodes
        task = episode_task(scene)
        self.tasks.setdefault(task, len(self.tasks))
        cols = _episode_columns(
            scene, by_cam, self.specs, self.fps, episode, self.frames, self.tasks[task]
        )
        ep_stats: dict[str, dict[str, np.ndarray]] = {}
        video_meta: dict[str, Any] = {}
        for s in self.specs:
            key = L.IMAGES_PREFIX + s.name
            images = [_image(v, s, scene.scene_id) for v in by_cam[s.name]]
            ep_stats[key] = image_stats(images)
            video_meta.update(self._add_video(key, s.name, images))
            for v in by_cam[s.name]:
                v.release()
        for key, data in cols.items():
            ep_stats[key] = feature_stats(data)
        ep_stats = {k: ep_stats[k] for k in self.features}  # LeRobot's order: the features'
        data_meta = self._add_frames(cols, T)
        row: dict[str, Any] = {
            "episode_index": episode,
            "tasks": [task],
            "length": T,
            **data_meta,
            **video_meta,
        }
        for f, st in ep_stats.items():
            for k, v in st.items():
                row[f"stats/{f}/{k}"] = np.asarray(v).tolist()
        row["meta/episodes/chunk_index"] = 0
        row["meta/episodes/file_index"] = 0
        row[L.EPISODE_SCENE_ID] = scene.scene_id
        row[L.EPISODE_RIG_ID] = scene.rig_id or ""
        self.ep_rows.append(row)
        if len(self.ep_rows) >= METADATA_BUFFER_SIZE:
            self._flush_episodes()
        self.stats = (
            {k: aggregate_stats(self.stats[k], ep_stats[k]) for k in ep_stats}
            if self.stats
            else ep_stats
        )
        self.episodes += 1
        self.frames += T
        self.sources.append(scene.source)
        for k in ("generator", "generator_version", "mujoco_version", "seed"):
            value = scene.provenance.get(k)
            if value is not None and value not in self.provenance.get(k, []):
                self.provenance.setdefault(k, []).append(value)

    def _add_video(self, key: str, name: str, images: list[np.ndarray]) -> dict[str, Any]:
        """Encode the episode's frames of one camera and place them in the camera's current
        file (a new one past ``video_files_size_in_mb``: ``_save_episode_video``)."""
        part = self.work / f"{name}_{self.episodes:06d}.mp4"
        encode_video(self.av, images, part, self.fps, self.codec)
        size_mb = part.stat().st_size / 1024**2
        duration = video_duration_s(self.av, part)
        vf = self.videos[key]
        if self.episodes == 0:
            self.features[key]["info"] = video_info(self.av, part)
            start = 0.0
        elif vf.size_mb + size_mb >= L.DEFAULT_VIDEO_FILE_SIZE_IN_MB:
            self._close_video(key)
            vf.chunk, vf.file = _next_file(vf.chunk, vf.file, self.chunks_size)
            vf.size_mb, start = 0.0, 0.0
        else:
            start = vf.duration_s
        vf.parts.append(part)
        vf.size_mb += size_mb
        vf.duration_s = start + duration
        return {
            f"videos/{key}/chunk_index": vf.chunk,
            f"videos/{key}/file_index": vf.file,
            f"videos/{key}/from_timestamp": start,
            f"videos/{key}/to_timestamp": start + duration,
        }

    def _close_video(self, key: str) -> None:
        vf = self.videos[key]
        if not vf.parts:
            return
        path = self.root / L.VIDEO_PATH.format(
            video_key=key, chunk_index=vf.chunk, file_index=vf.file
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        if len(vf.parts) == 1:
            shutil.move(str(vf.parts[0]), str(path))
        else:
            concatenate_videos(self.av, vf.parts, path)
            for p in vf.parts:
                p.unlink()
        vf.parts = []

    def _add_frames(self, cols: dict[str, np.ndarray], T: int) -> dict[str, int]:
        """Append the episode's rows to the data file (a new one when this one would pass
        ``data_files_size_in_mb``: ``_save_episode_data``); its data/... columns."""
        if self.data_writer is not None:
            size = self.data_path.stat().st_size / 1024**2
            in_file = self.frames - self.file_first_frame
            per_frame = size / in_file if in_file > 0 else 0.0
            if size + per_frame * T >= L.DEFAULT_DATA_FILE_SIZE_IN_MB:
                self.data_writer.close()
                self.data_writer = None
                self.data_index = _next_file(*self.data_index, self.chunks_size)
                self.file_first_frame = self.frames
        chunk, file = self.data_index
        if self.data_writer is None:
            self.data_path = self.root / L.DATA_PATH.format(chunk_index=chunk, file_index=file)
            self.data_path.parent.mkdir(parents=True, exist_ok=True)
            self.data_writer = self.pq.ParquetWriter(
                self.data_path, schema=self.schema, compression="snappy", use_dictionary=True
            )
        self.data_writer.write_table(_frame_table(self.pa, self.schema, cols))
        return {
            "data/chunk_index": chunk,
            "data/file_index": file,
            "dataset_from_index": self.frames,
            "dataset_to_index": self.frames + T,
        }

    def _flush_episodes(self) -> None:
        """Write the buffered episode rows as one row group (``_flush_metadata_buffer``)."""
        if not self.ep_rows:
            return
        table = self.pa.Table.from_pydict(
            {k: [r[k] for r in self.ep_rows] for k in self.ep_rows[0]}
        )
        if self.ep_writer is None:
            path = self.root / L.EPISODES_PATH.format(chunk_index=0, file_index=0)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.ep_schema = table.schema
            self.ep_writer = self.pq.ParquetWriter(
                path, schema=self.ep_schema, compression="snappy", use_dictionary=True
            )
        self.ep_writer.write_table(table.cast(self.ep_schema))
        self.ep_rows.clear()

    # -- the end

    def finish(self) -> dict[str, Any]:
        """Close every file; write tasks, info.json and stats.json; return info.json."""
        for key in self.videos:
            self._close_video(key)
        self._flush_episodes()
        self.close()
        shutil.rmtree(self.work)
        self.pq.write_table(_tasks_table(self.pa, list(self.tasks)), self.root / L.TASKS_PATH)
        sources = set(self.sources)
        info = {
            "codebase_version": L.CODEBASE_VERSION,
            "robot_type": ROBOT_TYPE_PREFIX + self.sources[0] if len(sources) == 1 else "crossview",
            "total_episodes": self.episodes,
            "total_frames": self.frames,
            "total_tasks": len(self.tasks),
            "chunks_size": self.chunks_size,
            "data_files_size_in_mb": L.DEFAULT_DATA_FILE_SIZE_IN_MB,
            "video_files_size_in_mb": L.DEFAULT_VIDEO_FILE_SIZE_IN_MB,
            "fps": self.fps,
            "splits": {"train": f"0:{self.episodes}"},
            "data_path": L.DATA_PATH,
            "video_path": L.VIDEO_PATH,
            "features": self.features,
        }
        for name, obj in ((L.INFO_PATH, info), (L.STATS_PATH, _jsonable(self.stats))):
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                json.dump(obj, f, indent=4, ensure_ascii=False)
        return info

    def close(self) -> None:
        """Close the open parquet writers (also after a failure)."""
        for w in (self.data_writer, self.ep_writer):
            if w is not None:
                w.close()
        self.data_writer = self.ep_writer = None


def export_lerobot(
    store: Path,
    out: Path,
    *,
    fps: int = 1,
    lossless: bool = False,
    limit: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> LeRobotExportReport:
    """Write the scene store ``store`` as a LeRobot v3.0 dataset in the folder ``out``.

    Args:
        store: a scene store (folders of scenes; or one scene folder).
        out: the dataset folder to create. Refused when it is not empty, unless ``overwrite``
            and it holds a LeRobot dataset (``meta/info.json``), which is then replaced. The
            dataset is written beside ``out`` and renamed into place at the end, so a failed
            export leaves nothing behind.
        fps: the dataset's frame rate (``timestamp = frame_index / fps`` seconds); the frames
            are the scenes' keyframes, so it only sets the time axis of rows and videos.
        lossless: encode the videos losslessly (libx264rgb, qp 0, rgb24) instead of LeRobot's
            default AV1 (libsvtav1, yuv420p, g 2, crf 30).
        limit: export only the first ``limit`` scenes (in scene-id order).
        overwrite: replace an existing LeRobot dataset at ``out``.
        progress: show a progress bar over the scenes (stderr).

    Returns:
        What was written. Scenes whose cameras (names, image sizes, calibration) differ from
        the first exported scene's are skipped, counted by reason.

    Raises:
        BadInputError: ``fps`` < 1, no scene, an unusable output folder, or a scene where a
            camera misses a timestep or changes image size (naming the scene and camera).
        MissingExtraError: PyAV or pyarrow missing (extra ``robot``).
    """
    av = require("av", "robot", "the LeRobot export (videos)")
    pa = require("pyarrow", "robot", "the LeRobot export (parquet)")
    pq = require("pyarrow.parquet", "robot", "the LeRobot export (parquet)")
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    store, out = Path(store), Path(out)
    if isinstance(fps, bool) or not isinstance(fps, int) or fps < 1:
        raise BadInputError(f"fps must be a whole number >= 1, got {fps!r}", field="fps")
    if not store.exists():
        raise BadInputError("scene store does not exist", file=store)
    _prepare_out(store, out, overwrite)
    report = LeRobotExportReport(out=out)
    dirs = _scene_dirs(store, limit, report)
    if not dirs:
        raise BadInputError("no scene to export (is this a scene store?)", file=store)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(out)
    if tmp.exists():
        shutil.rmtree(tmp)
    writer = _DatasetWriter(av, pa, pq, tmp, fps, LOSSLESS_CODEC if lossless else DEFAULT_CODEC)
    cols = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    bar = Progress(*cols, console=Console(stderr=True), transient=False, disable=not progress)
    try:
        with _quiet_svt(), bar:
            task = bar.add_task("export lerobot", total=len(dirs))
            for d in dirs:
                scene = read_scene(d)
                by_cam = _camera_views(scene, d / MANIFEST)
                if writer.accepts(_specs(by_cam)):
                    writer.add(scene, by_cam)
                else:
                    report.skip(
                        "cameras (names, image sizes or calibration) differ from the first "
                        "episode's; a LeRobot dataset has one set"
                    )
                bar.advance(task)
            info = writer.finish()
        card = _card(info, store, writer.sources, writer.provenance, lossless)
        (tmp / "README.md").write_text(card, encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        writer.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report.episodes, report.frames = writer.episodes, writer.frames
    report.cameras = [s.name for s in writer.specs or ()]
    report.files = sorted(p for p in out.rglob("*") if p.is_file())
    return report
