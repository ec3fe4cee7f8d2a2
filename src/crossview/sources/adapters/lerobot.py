"""LeRobot datasets (the format most open robot datasets, Open X-Embodiment ports included, are
published in): one scene per episode, one view per camera per sampled frame.

Layout (v2.0, v2.1 and v3.0, :mod:`crossview.sources.lerobot_layout`): ``meta/info.json``
(``codebase_version``, ``fps``, ``features``: camera keys are the features of dtype ``video``
or ``image``; ``observation.state`` and ``action`` when present), the episodes table, the
tasks table, the frame tables under ``data/`` and one mp4 per camera under ``videos/``.
Frames are decoded with PyAV (extra ``robot``) at the frame's timestamp (plus the episode's
``from_timestamp`` in its mp4 in v3.0), within LeRobot's tolerance of 1e-4 s.

What a scene gets: the episode's task as its ``language``; per sampled frame the robot's
``state`` and ``action`` and the source ``frame_index`` (``Scene.timestep_meta``); cameras
*uncalibrated* (LeRobot records no intrinsics or extrinsics; the task types that need geometry
skip such scenes, counted), unless the dataset carries crossview's calibration features
(written by ``crossview export --format lerobot``); no objects (no masks). The wrist camera is
the one whose key names a wrist, hand or gripper. All episodes of a dataset share one rig
(their cameras keep their names), unless ``rig=episode``.

Episode filters, as the XVR paper does for its robot domain (sec. 3.4, appendix 10): at least
``min_cameras`` cameras (3), at least ``min_seconds`` long (20 s), and not in the bottom
``motion_quantile`` (20%) of action energy ``sum_t ||a_t||^2``; skipped episodes are counted
with the reason. The temporal-verification threshold is the ``motion_percentile`` (80th)
percentile over episodes of the largest state displacement over one second,
``max_t ||s_{t+f} - s_t||`` (XVR eq. 7), recorded as ``provenance["motion_threshold"]``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from crossview.errors import BadInputError, require
from crossview.scene.model import Camera, Scene, View
from crossview.sources import lerobot_layout as L
from crossview.sources.adapters.base import Adapter, SceneSource, register_adapter, safe_id

TOLERANCE_S = 1e-4
"""How far a decoded frame may lie from the asked timestamp (LeRobot's ``tolerance_s``)."""
WRIST_WORDS = ("wrist", "hand", "gripper")


def _read_info(src: Path) -> dict[str, Any]:
    path = src / L.INFO_PATH
    if not path.is_file():
        raise BadInputError(
            f"not a LeRobot dataset: no {L.INFO_PATH} (expected meta/, data/, videos/)", file=src
        )
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"not valid JSON ({exc})", file=path) from None
    if not isinstance(info, dict):
        raise BadInputError("must be a JSON object", file=path)
    version = info.get("codebase_version")
    if version not in L.READABLE_VERSIONS:
        raise BadInputError(
            f"codebase_version {version!r} is not one crossview reads "
            f"({', '.join(L.READABLE_VERSIONS)})",
            file=path,
            field="codebase_version",
        )
    for key, typ in (("fps", (int, float)), ("features", dict)):
        if not isinstance(info.get(key), typ) or (key == "fps" and info[key] <= 0):
            raise BadInputError("missing or invalid", file=path, field=key)
    return info


def camera_keys(info: dict[str, Any]) -> list[str]:
    """The features of dtype ``video`` or ``image``, in the order ``info.json`` lists them."""
    return [k for k, f in info["features"].items() if f.get("dtype") in ("video", "image")]


def _parquet_rows(path: Path, columns: list[str] | None = None) -> list[dict[str, Any]]:
    pq = require("pyarrow.parquet", "robot", "reading LeRobot parquet files")
    if not path.is_file():
        raise BadInputError("file is missing", file=path)
    try:
        table = pq.read_table(path, columns=columns)
    except Exception as exc:
        raise BadInputError(f"not a readable parquet file ({exc})", file=path) from None
    return table.to_pylist()


def _episodes(src: Path, info: dict[str, Any]) -> list[dict[str, Any]]:
    """Every episode's row: ``episode_index``, ``tasks``, ``length`` and where its frames and
    videos are (v3.0 columns; for v2.x the per-episode file paths are filled in)."""
    if info["codebase_version"] == "v3.0":
        files = sorted((src / L.EPISODES_DIR).glob("chunk-*/file-*.parquet"))
        if not files:
            raise BadInputError(f"no episode table under {L.EPISODES_DIR}/", file=src)
        rows = [r for f in files for r in _parquet_rows(f)]
    else:
        path = src / L.LEGACY_EPISODES_PATH
        if not path.is_file():
            raise BadInputError("file is missing", file=path)
        rows = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise BadInputError(
                    f"not valid JSON ({exc})", file=path, record=f"line {n + 1}"
                ) from None
    for n, r in enumerate(rows):
        for key in ("episode_index", "length"):
            if not isinstance(r.get(key), int):
                raise BadInputError(
                    "missing or not an integer", file=src, record=f"episode {n}", field=key
                )
    return sorted(rows, key=lambda r: r["episode_index"])


def _tasks(src: Path, info: dict[str, Any]) -> dict[int, str]:
    """``{task_index: task}``."""
    if info["codebase_version"] == "v3.0":
        path = src / L.TASKS_PATH
        if not path.is_file():
            return {}
        pq = require("pyarrow.parquet", "robot", "reading LeRobot parquet files")
        table = pq.read_table(path)
        names = table.schema.names
        idx_col = next((c for c in names if c not in ("task_index",)), None)
        ids = table.column("task_index").to_pylist()
        texts = table.column(idx_col).to_pylist() if idx_col else [None] * len(ids)
        return {int(i): str(t) for i, t in zip(ids, texts) if t is not None}
    path = src / L.LEGACY_TASKS_PATH
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            out[int(rec["task_index"])] = str(rec["task"])
    return out


def _data_path(src: Path, info: dict[str, Any], ep: dict[str, Any]) -> Path:
    if info["codebase_version"] == "v3.0":
        return src / L.DATA_PATH.format(
            chunk_index=int(ep["data/chunk_index"]), file_index=int(ep["data/file_index"])
        )
    chunk = ep["episode_index"] // int(info.get("chunks_size") or L.DEFAULT_CHUNK_SIZE)
    template = info.get("data_path") or L.LEGACY_DATA_PATH
    return src / template.format(episode_chunk=chunk, episode_index=ep["episode_index"])


def _video_path(src: Path, info: dict[str, Any], ep: dict[str, Any], key: str) -> Path:
    if info["codebase_version"] == "v3.0":
        return src / L.VIDEO_PATH.format(
            video_key=key,
            chunk_index=int(ep[f"videos/{key}/chunk_index"]),
            file_index=int(ep[f"videos/{key}/file_index"]),
        )
    chunk = ep["episode_index"] // int(info.get("chunks_size") or L.DEFAULT_CHUNK_SIZE)
    template = info.get("video_path") or L.LEGACY_VIDEO_PATH
    return src / template.format(
        episode_chunk=chunk, episode_index=ep["episode_index"], video_key=key
    )


def _vector(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.asarray(value, dtype=float).reshape(-1)
    return arr if arr.size else None


def motion_1s(states: np.ndarray, fps: float) -> float:
    """XVR eq. 7: the largest ``||s_{t+f} - s_t||`` over the episode, ``f`` = one second of
    frames (at least 1); 0 for an episode shorter than that. ``states``: (N, D)."""
    f = max(1, round(fps))
    if len(states) <= f:
        return 0.0
    return float(np.linalg.norm(states[f:] - states[:-f], axis=1).max())


def decode_frames(path: Path, times: list[float]) -> list[np.ndarray]:
    """The frames of the mp4 at ``path`` shown at ``times`` (seconds), as (H, W, 3) uint8 RGB.

    Raises:
        BadInputError: the file is missing or unreadable, or has no frame within
            :data:`TOLERANCE_S` of a time.
    """
    av = require("av", "robot", "decoding LeRobot videos")
    if not path.is_file():
        raise BadInputError("video file is missing", file=path)
    out: dict[float, np.ndarray] = {}
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            for t in sorted(set(times)):
                base = stream.time_base
                container.seek(max(0, int((t - 0.5) / base)), stream=stream, backward=True)
                best, gap = None, None
                for frame in container.decode(stream):
                    if frame.pts is None:
                        continue
                    ft = float(frame.pts * base)
                    d = abs(ft - t)
                    if gap is None or d < gap:
                        best, gap = frame, d
                    if ft > t + TOLERANCE_S:
                        break
                if best is None or gap is None or gap > TOLERANCE_S:
                    near = "no frame" if gap is None else f"the nearest frame is {gap:.4f} s away"
                    raise BadInputError(
                        f"no frame at {t:.4f} s ({near}; LeRobot's tolerance is {TOLERANCE_S} s)",
                        file=path,
                    )
                out[t] = best.to_ndarray(format="rgb24")
    except BadInputError:
        raise
    except Exception as exc:  # PyAV raises its own error types for corrupt files
        raise BadInputError(f"cannot decode video ({exc})", file=path) from None
    return [out[t] for t in times]


def _image_cell(value: Any, file: Path, record: str, key: str) -> np.ndarray:
    import io

    from PIL import Image

    data = value.get("bytes") if isinstance(value, dict) else value
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise BadInputError("image cell holds no bytes", file=file, record=record, field=key)
    try:
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    except Exception as exc:
        raise BadInputError(
            f"unreadable image ({exc})", file=file, record=record, field=key
        ) from None


def _image_cells(rows: list[dict[str, Any]], episode: int, key: str) -> list[np.ndarray]:
    """The (H, W, 3) uint8 images of feature ``key`` (dtype ``image``) at ``rows``, read from
    their data file (only that column, only this episode's frames)."""
    file = rows[0]["_file"]
    wanted = {int(r["frame_index"]) for r in rows}
    cells = {
        int(r["frame_index"]): r.get(key)
        for r in _parquet_rows(file, ["episode_index", "frame_index", key])
        if int(r["episode_index"]) == episode and int(r["frame_index"]) in wanted
    }
    return [
        _image_cell(cells.get(int(r["frame_index"])), file, f"frame {r['frame_index']}", key)
        for r in rows
    ]


@register_adapter("lerobot")
class LeRobotAdapter(Adapter):
    """A LeRobotDataset folder (codebase v2.0, v2.1 or v3.0): ``meta/info.json``, the
    episodes and tasks tables under ``meta/``, frames under ``data/`` and one mp4 per camera
    under ``videos/`` -> one scene per episode, its cameras at ``timesteps`` frames spread over
    the episode, the task as the scene's language, state and action per frame."""

    OPTIONS: ClassVar[dict[str, tuple[type, Any, str]]] = {
        "timesteps": (int, 4, "frames per episode, spread evenly from its first to its last"),
        "min_cameras": (int, 3, "skip episodes with fewer cameras (XVR: 3)"),
        "min_seconds": (float, 20.0, "skip shorter episodes (XVR: 20 s)"),
        "motion_quantile": (
            float,
            0.2,
            "skip the episodes in this bottom share of action energy (XVR: 0.2)",
        ),
        "motion_percentile": (
            float,
            80.0,
            "temporal-verification threshold: this percentile of the episodes' largest "
            "1-second state displacement (XVR: 80)",
        ),
        "cameras": (str, "", "comma-separated camera keys to import (default: every one)"),
        "rig": (str, "dataset", "dataset: all episodes share one rig; episode: one each"),
    }

    def scan(self, src: Path) -> list[SceneSource]:
        src = Path(src)
        info = _read_info(src)
        fps = float(info["fps"])
        keys = camera_keys(info)
        wanted = [k.strip() for k in str(self.options.get("cameras") or "").split(",") if k]
        if wanted:
            unknown = [k for k in wanted if k not in keys]
            if unknown:
                raise BadInputError(
                    f"unknown camera key(s) {', '.join(unknown)}; the dataset has "
                    f"{', '.join(keys) or 'none'}",
                    file=src / L.INFO_PATH,
                    field="features",
                )
            keys = wanted
        rig_mode = str(self.options.get("rig") or "dataset")
        if rig_mode not in ("dataset", "episode"):
            raise BadInputError(f"rig must be dataset or episode, got {rig_mode!r}", field="rig")
        episodes = _episodes(src, info)
        tasks = _tasks(src, info)
        frames = self._frames(src, info, episodes)
        energy: dict[int, float] = {}
        motion: dict[int, float] = {}
        for ep in episodes:
            rows = frames.get(ep["episode_index"], [])
            acts = [a for a in (_vector(r.get(L.ACTION)) for r in rows) if a is not None]
            if acts and len(acts) == len(rows):
                energy[ep["episode_index"]] = float(sum(float(a @ a) for a in acts))
            states = [s for s in (_vector(r.get(L.STATE)) for r in rows) if s is not None]
            if states and len(states) == len(rows):
                motion[ep["episode_index"]] = motion_1s(np.stack(states), fps)
        q = float(self.options.get("motion_quantile", 0.2))
        cut = float(np.quantile(list(energy.values()), q)) if energy and q > 0 else None
        pct = float(self.options.get("motion_percentile", 80.0))
        threshold = float(np.percentile(list(motion.values()), pct)) if motion else None
        name = safe_id(src.resolve().name)
        out = []
        for ep in episodes:
            e = ep["episode_index"]
            sid = str(ep.get("crossview/scene_id") or f"{name}_ep{e:06d}")
            rows = frames.get(e, [])
            meta: dict[str, Any] = {
                "episode": ep,
                "rows": rows,
                "keys": keys,
                "fps": fps,
                "info": info,
                "tasks": tasks,
                "threshold": threshold,
                "rig_id": str(ep.get("crossview/rig_id") or name) if rig_mode == "dataset" else sid,
            }
            seconds = ep["length"] / fps
            min_cams = int(self.options.get("min_cameras", 3))
            min_s = float(self.options.get("min_seconds", 20.0))
            if len(keys) < min_cams:
                meta["problem"] = f"{len(keys)} camera(s), fewer than min_cameras={min_cams}"
            elif seconds < min_s:
                meta["problem"] = f"{seconds:.1f} s long, shorter than min_seconds={min_s:g}"
            elif not rows:
                meta["problem"] = "no frame rows in the data files"
            elif cut is not None and e in energy and energy[e] <= cut and len(energy) > 1:
                meta["problem"] = (
                    f"action energy {energy[e]:.4g} in the bottom {q:.0%} of the dataset "
                    f"(<= {cut:.4g}; motion_quantile)"
                )
            out.append(SceneSource(safe_id(sid), src, meta))
        return sorted(out, key=lambda s: s.scene_id)

    def _frames(
        self, src: Path, info: dict[str, Any], episodes: list[dict[str, Any]]
    ) -> dict[int, list[dict[str, Any]]]:
        """Frame rows by episode, in frame order (only the columns crossview reads; image
        cells are read by :meth:`load` for the sampled frames only)."""
        feats = info["features"]
        cols = ["episode_index", "frame_index", "timestamp", "index", "task_index"]
        cols += [k for k in (L.STATE, L.ACTION, "observation.timestamp_s") if k in feats]
        cols += [k for k in feats if k.startswith(L.CALIBRATION_PREFIX)]
        by_file: dict[Path, list[int]] = defaultdict(list)
        for ep in episodes:
            by_file[_data_path(src, info, ep)].append(ep["episode_index"])
        out: dict[int, list[dict[str, Any]]] = defaultdict(list)
        pq = require("pyarrow.parquet", "robot", "reading LeRobot parquet files")
        for path, _ in sorted(by_file.items()):
            if not path.is_file():
                continue  # the episode is skipped (no frame rows), counted in scan
            have = set(pq.ParquetFile(path).schema_arrow.names)
            missing = [c for c in ("episode_index", "frame_index", "timestamp") if c not in have]
            if missing:
                raise BadInputError(f"frame table lacks column(s) {', '.join(missing)}", file=path)
            for row in _parquet_rows(path, [c for c in cols if c in have]):
                row["_file"] = path
                out[int(row["episode_index"])].append(row)
        for rows in out.values():
            rows.sort(key=lambda r: r["frame_index"])
        return out

    def load(self, source: SceneSource) -> Scene:
        m = source.meta
        ep, rows, info, fps = m["episode"], m["rows"], m["info"], m["fps"]
        src = source.path
        n = len(rows)
        k = max(1, min(int(self.options.get("timesteps", 4)), n))
        picks = sorted({int(round(x)) for x in np.linspace(0, n - 1, k)})
        chosen = [rows[i] for i in picks]
        feats = info["features"]
        views: list[View] = []
        for key in m["keys"]:
            name = L.camera_name(key)
            if feats[key]["dtype"] == "video":
                base = float(ep.get(f"videos/{key}/from_timestamp", 0.0) or 0.0)
                times = [base + float(r["timestamp"]) for r in chosen]
                images = decode_frames(_video_path(src, info, ep, key), times)
            else:
                images = _image_cells(chosen, ep["episode_index"], key)
            for t, (row, img) in enumerate(zip(chosen, images)):
                h, w = img.shape[:2]
                camera = self._camera(name, w, h, row, source)
                stamp = row.get("observation.timestamp_s", row["timestamp"])
                views.append(View(camera, t, float(np.asarray(stamp).reshape(-1)[0]), image=img))
        task_ids = {int(r.get("task_index", -1)) for r in chosen}
        episode_tasks = ep.get("tasks") or []
        language = None
        if episode_tasks:
            language = str(episode_tasks[0])
        elif task_ids and min(task_ids) in m["tasks"]:
            language = m["tasks"][min(task_ids)]
        meta_rows = []
        for row in chosen:
            entry: dict[str, Any] = {"frame_index": int(row["frame_index"])}
            for key, out_key in ((L.STATE, "state"), (L.ACTION, "action")):
                vec = _vector(row.get(key))
                if vec is not None:
                    entry[out_key] = [float(x) for x in vec]
            meta_rows.append(entry)
        first = views[0].camera.name if views else None
        stamps = [v.timestamp for v in views if v.camera.name == first]
        provenance: dict[str, Any] = {
            "lerobot": {
                "dataset": str(src),
                "codebase_version": info["codebase_version"],
                "robot_type": info.get("robot_type"),
                "fps": fps,
                "episode_index": ep["episode_index"],
                "frame_indices": [int(r["frame_index"]) for r in chosen],
                "camera_keys": list(m["keys"]),
            },
            "calibration": "present" if all(v.camera.calibrated for v in views) else "absent",
        }
        if m["threshold"] is not None:
            provenance["motion_threshold"] = float(m["threshold"])
        return Scene(
            scene_id=source.scene_id,
            source="lerobot",
            views=views,
            instances={},
            timestamps=stamps or [0.0],
            contacts=None,
            rig_id=m["rig_id"],
            provenance=provenance,
            language=language,
            timestep_meta=meta_rows,
        )

    def _camera(
        self, name: str, width: int, height: int, row: dict[str, Any], source: SceneSource
    ) -> Camera:
        role = "wrist" if any(w in name.lower() for w in WRIST_WORDS) else ""
        k_vec = _vector(row.get(f"{L.CALIBRATION_PREFIX}{name}.intrinsics"))
        t_vec = _vector(row.get(f"{L.CALIBRATION_PREFIX}{name}.cam_to_world"))
        if k_vec is None or t_vec is None:
            return Camera(name, width, height, role=role, calibrated=False)
        if k_vec.size != 9 or t_vec.size != 16:
            raise BadInputError(
                "calibration features must hold 9 (K) and 16 (cam_to_world) numbers",
                file=row["_file"],
                record=f"frame {row['frame_index']}",
                field=f"{L.CALIBRATION_PREFIX}{name}",
            )
        return Camera(name, width, height, k_vec.reshape(3, 3), t_vec.reshape(4, 4), role=role)
