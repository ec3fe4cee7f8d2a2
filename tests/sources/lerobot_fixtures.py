"""A LeRobot dataset in the v2.1 layout, written file by file as LeRobot's code lays it out.

The ``lerobot`` package does not install here (it pins torch < 2.11), so its writer cannot be
used; the layout follows lerobot 0.4.4's reading of v2.1 datasets
(``datasets/v30/convert_dataset_v21_to_v30.py``: ``meta/episodes.jsonl``, ``meta/tasks.jsonl``,
``meta/episodes_stats.jsonl``, the ``data_path`` / ``video_path`` templates of ``info.json``)
and the v2.1 ``info.json`` keys; docs/research/lerobot-format.md has the sources.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from crossview.sources import lerobot_layout as L

CAMERAS = ("cam_high", "cam_left_wrist", "cam_right_wrist")  # ALOHA's camera keys


def frame(cam: int, t: int, size: tuple[int, int] = (48, 32)) -> np.ndarray:
    """A synthetic (H, W, 3) frame: a textured background per camera and a bright square that
    moves with the frame index ``t`` (so frames far apart in time differ)."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack(
        [(xx * 5 + cam * 60) % 256, (yy * 7 + cam * 30) % 256, ((xx + yy) * 3) % 256], axis=-1
    ).astype(np.uint8)
    x0 = (t * 2) % (w - 10)
    img[8:18, x0 : x0 + 10] = (250, 250, 40)
    return img


def write_mp4(path: Path, frames: list[np.ndarray], fps: int) -> None:
    """Lossless H.264 (libx264rgb, qp 0): decodes to exactly these pixels."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264rgb", rate=fps, options={"qp": "0"})
        stream.width, stream.height, stream.pix_fmt = w, h, "rgb24"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def write_v21(
    root: Path,
    episodes: list[dict],
    *,
    fps: int = 10,
    cameras: tuple[str, ...] = CAMERAS,
    size: tuple[int, int] = (48, 32),
    images_in_parquet: bool = False,
) -> Path:
    """Write a v2.1 dataset (cameras as mp4 files, or with ``images_in_parquet`` as
    ``image`` features: PNG ``{bytes, path}`` cells of the frame table, as LeRobot stores
    them). Each episode: ``{"length": N, "task": str, "motion": float}``;
    its state is a 3-vector moving ``motion`` units per second along x, its action the next
    state minus this one, camera ``c`` at frame ``t`` is :func:`frame` ``(c, t)``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    w, h = size
    features = {
        **{
            f"{L.IMAGES_PREFIX}{cam}": {
                "dtype": "image" if images_in_parquet else "video",
                "shape": [h, w, 3],
                "names": ["height", "width", "channels"],
                "info": {
                    "video.fps": float(fps),
                    "video.height": h,
                    "video.width": w,
                    "video.channels": 3,
                    "video.codec": "h264",
                    "video.pix_fmt": "rgb24",
                    "video.is_depth_map": False,
                    "has_audio": False,
                },
            }
            for cam in cameras
        },
        L.STATE: {"dtype": "float32", "shape": [3], "names": ["x", "y", "z"]},
        L.ACTION: {"dtype": "float32", "shape": [3], "names": ["dx", "dy", "dz"]},
        **L.DEFAULT_FEATURES,
    }
    tasks = sorted({e["task"] for e in episodes})
    task_index = {t: i for i, t in enumerate(tasks)}
    total = sum(e["length"] for e in episodes)
    info = {
        "codebase_version": "v2.1",
        "robot_type": "aloha",
        "total_episodes": len(episodes),
        "total_frames": total,
        "total_tasks": len(tasks),
        "total_videos": 0 if images_in_parquet else len(episodes) * len(cameras),
        "total_chunks": 1,
        "chunks_size": L.DEFAULT_CHUNK_SIZE,
        "fps": fps,
        "splits": {"train": f"0:{len(episodes)}"},
        "data_path": L.LEGACY_DATA_PATH,
        "video_path": L.LEGACY_VIDEO_PATH,
        "features": features,
    }
    (root / "meta").mkdir(parents=True, exist_ok=True)
    (root / L.INFO_PATH).write_text(json.dumps(info, indent=4))
    lines, stats, index = [], [], 0
    for e, ep in enumerate(episodes):
        n = ep["length"]
        lines.append({"episode_index": e, "tasks": [ep["task"]], "length": n})
        ts = np.arange(n, dtype=np.float32) / fps
        state = np.stack([ts * ep["motion"], np.zeros(n), np.full(n, 0.3)], 1).astype(np.float32)
        action = np.vstack([np.diff(state, axis=0), np.zeros((1, 3), np.float32)])
        cells = {}
        if images_in_parquet:
            cell = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
            for c, cam in enumerate(cameras):
                pngs = [{"bytes": _png(frame(c, t, size)), "path": None} for t in range(n)]
                cells[f"{L.IMAGES_PREFIX}{cam}"] = pa.array(pngs, cell)
        table = pa.table(
            {
                **cells,
                L.STATE: pa.array(state.tolist(), pa.list_(pa.float32())),
                L.ACTION: pa.array(action.tolist(), pa.list_(pa.float32())),
                "timestamp": pa.array(ts, pa.float32()),
                "frame_index": pa.array(np.arange(n), pa.int64()),
                "episode_index": pa.array(np.full(n, e), pa.int64()),
                "index": pa.array(np.arange(index, index + n), pa.int64()),
                "task_index": pa.array(np.full(n, task_index[ep["task"]]), pa.int64()),
            }
        )
        index += n
        path = root / L.LEGACY_DATA_PATH.format(episode_chunk=0, episode_index=e)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        for c, cam in enumerate(cameras if not images_in_parquet else ()):
            key = f"{L.IMAGES_PREFIX}{cam}"
            write_mp4(
                root / L.LEGACY_VIDEO_PATH.format(episode_chunk=0, episode_index=e, video_key=key),
                [frame(c, t, size) for t in range(n)],
                fps,
            )
        stats.append(
            {
                "episode_index": e,
                "stats": {
                    L.STATE: _stats(state),
                    L.ACTION: _stats(action),
                },
            }
        )
    _jsonl(root / L.LEGACY_EPISODES_PATH, lines)
    _jsonl(
        root / L.LEGACY_TASKS_PATH, [{"task_index": i, "task": t} for t, i in task_index.items()]
    )
    _jsonl(root / "meta" / "episodes_stats.jsonl", stats)
    return root


def _png(img: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def _stats(x: np.ndarray) -> dict:
    return {
        "min": x.min(0).tolist(),
        "max": x.max(0).tolist(),
        "mean": x.mean(0).tolist(),
        "std": x.std(0).tolist(),
        "count": [len(x)],
    }


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
