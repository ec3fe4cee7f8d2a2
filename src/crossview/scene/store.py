"""The scene store: a folder of scene folders, each a JSON manifest plus image, depth, masks.

The format is documented in docs/scene-format.md; :data:`SCHEMA_VERSION` is the version this
code writes and the versions it reads are :data:`READABLE_VERSIONS`. Writing is atomic per
scene (a temporary folder renamed into place), so a scene folder with a manifest is always
complete, and an interrupted writer can resume by skipping finished scenes.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from crossview.errors import BadInputError
from crossview.scene.model import Camera, Instance, Scene, View, ViewMasks

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
"""Version 2 adds uncalibrated cameras (``calibrated: false``, ``K`` and ``cam_to_world``
null), ``language`` and ``timestep_meta``; a scene using none of them is written as version 1,
byte for byte as before."""
MANIFEST = "scene.json"
DEPTH_KEY = "depth_m"


# ----------------------------------------------------------------------------- file helpers


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as an (H, W, 3) uint8 RGB array.

    Raises:
        BadInputError: naming the file when it is missing, unreadable or truncated.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError("image file is missing", file=path)
    try:
        with Image.open(path) as im:
            im.load()
            return np.asarray(im.convert("RGB"))
    except OSError as exc:
        kind = "truncated" if "truncated" in str(exc).lower() else "unreadable"
        raise BadInputError(f"image file is {kind} ({exc})", file=path) from exc


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of an image file from its header, without decoding the pixels."""
    with Image.open(path) as im:
        return im.size


def save_image(path: str | Path, image: np.ndarray, compress_level: int = 1) -> None:
    """Write an (H, W, 3) uint8 RGB array; the format follows the suffix (PNG is lossless).

    PNG is written by OpenCV's encoder with zlib level 1 and the run-length strategy: on the
    simulator's 320x240 renders 3.6 ms an image against Pillow's 6.0 ms at the same level
    (and 4x that at Pillow's default level 6), with 7% fewer bytes than Pillow's level 1
    (benchmarks/bench_generate.py), which matters when millions of images are written.
    """
    arr = np.ascontiguousarray(image, dtype=np.uint8)
    if str(path).lower().endswith(".png") and arr.ndim == 3 and arr.shape[2] == 3:
        import cv2

        params = [cv2.IMWRITE_PNG_COMPRESSION, compress_level]
        params += [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
        ok, buf = cv2.imencode(".png", arr[..., ::-1], params)
        if not ok:
            raise OSError(f"could not encode {path} as PNG")
        Path(path).write_bytes(buf.tobytes())
        return
    img = Image.fromarray(arr)
    if str(path).lower().endswith(".png"):
        img.save(path, compress_level=compress_level)
    else:
        img.save(path)


def load_depth(path: str | Path) -> np.ndarray:
    """Read a depth file (``.npz`` with key ``depth_m``, or ``.npy``) as (H, W) float32 metres."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError("depth file is missing", file=path)
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                if DEPTH_KEY not in data.files:
                    raise BadInputError(f"npz has no array '{DEPTH_KEY}'", file=path)
                arr = data[DEPTH_KEY]
        else:
            arr = data
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise BadInputError(f"depth file is unreadable ({exc})", file=path) from exc
    if arr.ndim != 2:
        raise BadInputError(f"depth must be 2-D (H, W), got shape {arr.shape}", file=path)
    return arr.astype(np.float32, copy=False)


def save_depth(path: str | Path, depth_m: np.ndarray) -> None:
    """Write (H, W) float32 camera-frame z in metres as a compressed ``.npz``."""
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **{DEPTH_KEY: np.asarray(depth_m, dtype=np.float32)})


def read_json(path: str | Path) -> Any:
    """Parse a JSON file; BadInputError names the file, line and column of a syntax error."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError("file is missing", file=path)
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise BadInputError(
            f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", file=path
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"unreadable ({exc})", file=path) from exc


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(0-based line number, record)`` of a JSON-lines file, skipping blank lines.

    Raises:
        BadInputError: naming the file and line of a line that is not a JSON object.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError("file is missing", file=path)
    with path.open("r", encoding="utf-8") as f:
        for line_no, line in enumerate(f):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadInputError(
                    f"not valid JSON ({exc.msg} at column {exc.colno})",
                    file=path,
                    record=f"line {line_no + 1}",
                ) from None
            if not isinstance(rec, dict):
                raise BadInputError(
                    "a record must be a JSON object", file=path, record=f"line {line_no + 1}"
                )
            yield line_no, rec


def link_or_copy(src: str | Path, dst: str | Path) -> bool:
    """Place the file ``src`` at ``dst`` without copying it where possible: a hard link (same
    bytes, no extra space), or a copy across file systems. Atomic; an existing ``dst`` is kept.

    Returns:
        True when ``dst`` was created, False when it existed already.
    """
    src, dst = Path(src), Path(dst)
    if dst.exists():
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    # a unique temporary name: jobs on several hosts may place the same file at once
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex}")
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
    # renaming onto another hard link of the same file does nothing: drop the temporary
    tmp.unlink(missing_ok=True)
    return True


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON with sorted keys so that the same object gives the same bytes."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=1, sort_keys=True)
        fh.write("\n")


def _masks_to_json(masks: ViewMasks, height: int, width: int) -> dict[str, Any]:
    ids = sorted(set(masks.visible) | set(masks.amodal or {}))
    objects = []
    for tid in ids:
        rec: dict[str, Any] = {"track_id": tid, "visible": masks.visible.get(tid)}
        if masks.amodal is not None:
            rec["amodal"] = masks.amodal.get(tid)
        if masks.beyond is not None and tid in masks.beyond:
            rec["beyond"] = masks.beyond[tid]
        objects.append(rec)
    out: dict[str, Any] = {"size": [height, width], "has_amodal": masks.amodal is not None}
    if masks.beyond is not None:
        out["has_beyond"] = True
    out["objects"] = objects
    return out


def masks_from_json(obj: Any, path: str | Path) -> ViewMasks:
    """Parse a mask file's content; BadInputError names the file and record on bad structure."""
    if not isinstance(obj, dict) or not isinstance(obj.get("objects"), list):
        raise BadInputError("mask file must be an object with a list 'objects'", file=path)
    visible: dict[int, Any] = {}
    amodal: dict[int, Any] | None = {} if obj.get("has_amodal") else None
    beyond: dict[int, int] | None = {} if obj.get("has_beyond") else None
    for i, rec in enumerate(obj["objects"]):
        if not isinstance(rec, dict) or not isinstance(rec.get("track_id"), int):
            raise BadInputError("needs an integer track_id", file=path, record=f"objects[{i}]")
        tid = rec["track_id"]
        if rec.get("visible") is not None:
            visible[tid] = rec["visible"]
        if amodal is not None and rec.get("amodal") is not None:
            amodal[tid] = rec["amodal"]
        if beyond is not None and rec.get("beyond") is not None:
            n = rec["beyond"]
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise BadInputError(
                    f"beyond must be a pixel count >= 0, got {n!r}",
                    file=path,
                    record=f"objects[{i}]",
                    field="beyond",
                )
            beyond[tid] = n
    return ViewMasks(visible=visible, amodal=amodal, beyond=beyond)


# ----------------------------------------------------------------------------- manifest


def _matrix(x: np.ndarray) -> list[list[float]]:
    return [[float(v) for v in row] for row in np.asarray(x, dtype=np.float64)]


def _calibration(c: Camera, what: str) -> list[list[float]] | None:
    """A camera's ``K`` or ``cam_to_world`` for the manifest; null when uncalibrated."""
    return _matrix(getattr(c, what)) if c.calibrated else None


def scene_to_manifest(scene: Scene) -> dict[str, Any]:
    """The JSON manifest of a scene, with the relative file names its views are written to."""
    cameras: dict[str, dict[str, Any]] = {}
    views = []
    for v in scene.views:
        c = v.camera
        cameras.setdefault(
            c.name,
            {
                "name": c.name,
                "role": c.role,
                "width": c.width,
                "height": c.height,
                "K": _calibration(c, "K"),
                **({} if c.calibrated else {"calibrated": False}),
            },
        )
        rec = {
            "id": v.view_id,
            "camera": c.name,
            "timestep": v.timestep,
            "timestamp": v.timestamp,
            "cam_to_world": _calibration(c, "cam_to_world"),
            "image": f"images/{v.view_id}.png",
            "depth": f"depth/{v.view_id}.npz" if v.has_depth else None,
            "masks": f"masks/{v.view_id}.json",
        }
        first = cameras[c.name]
        if (first["width"], first["height"]) != (c.width, c.height):
            raise ValueError(
                f"camera {c.name} changes image size between views; give each "
                "size its own camera name"
            )
        if first.get("calibrated", True) != c.calibrated:
            raise ValueError(f"camera {c.name} is calibrated in some views and not in others")
        if c.calibrated and not np.array_equal(np.array(first["K"]), c.K):
            rec["K"] = _matrix(c.K)  # intrinsics that change over time (zoom) are per view
        views.append(rec)
    instances = []
    for tid in sorted(scene.instances):
        inst = scene.instances[tid]
        instances.append(
            {
                "track_id": inst.track_id,
                "category": inst.category,
                "attributes": dict(inst.attributes),
                "extent_m": None if inst.extent_m is None else [float(x) for x in inst.extent_m],
                "poses": None if inst.poses is None else [_matrix(p) for p in inst.poses],
            }
        )
    contacts = None
    if scene.contacts is not None:
        contacts = [sorted([int(a), int(b)] for a, b in step) for step in scene.contacts]
    out: dict[str, Any] = {
        "schema_version": 1,
        "scene_id": scene.scene_id,
        "source": scene.source,
        "rig_id": scene.rig_id,
        "timestamps": [float(t) for t in scene.timestamps],
        "cameras": list(cameras.values()),
        "views": views,
        "instances": instances,
        "contacts": contacts,
        "provenance": scene.provenance,
    }
    if scene.language is not None:
        out["language"] = scene.language
    if scene.timestep_meta is not None:
        if len(scene.timestep_meta) != scene.num_timesteps:
            raise ValueError(
                f"scene {scene.scene_id}: timestep_meta has {len(scene.timestep_meta)} entries "
                f"for {scene.num_timesteps} timesteps"
            )
        out["timestep_meta"] = scene.timestep_meta
    if not scene.calibrated or "language" in out or "timestep_meta" in out:
        out["schema_version"] = SCHEMA_VERSION
    return out


def write_scene(scene: Scene, store: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``scene`` into ``store/<scene_id>/`` atomically and return that folder.

    The scene is written to a hidden temporary folder and renamed into place, so a folder
    with a manifest is always complete. An existing scene is kept unless ``overwrite``.
    """
    store = Path(store)
    final = store / scene.scene_id
    if (final / MANIFEST).is_file() and not overwrite:
        return final
    tmp = store / f".{scene.scene_id}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    for sub in ("images", "depth", "masks"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    manifest = scene_to_manifest(scene)
    for v, rec in zip(scene.views, manifest["views"], strict=False):
        save_image(tmp / rec["image"], v.image)
        if rec["depth"] is not None:
            save_depth(tmp / rec["depth"], v.depth_m)
        write_json(tmp / rec["masks"], _masks_to_json(v.masks, v.camera.height, v.camera.width))
    write_json(tmp / MANIFEST, manifest)
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final


def _field(rec: dict[str, Any], key: str, path: Path, record: str) -> Any:
    if key not in rec:
        raise BadInputError("required field is missing", file=path, record=record, field=key)
    return rec[key]


def read_scene(scene_dir: str | Path) -> Scene:
    """Read a scene folder; images, depth and masks load lazily on first use.

    Raises:
        BadInputError: naming the manifest, record and field when the manifest is malformed.
            Per-file problems surface when the file is first used; run
            :func:`crossview.scene.validate.validate_paths` for a full report.
    """
    scene_dir = Path(scene_dir)
    path = scene_dir / MANIFEST
    m = read_json(path)
    if not isinstance(m, dict):
        raise BadInputError("manifest must be a JSON object", file=path)
    version = m.get("schema_version")
    if version not in READABLE_VERSIONS:
        raise BadInputError(
            f"unknown schema version {version!r} (this crossview reads {list(READABLE_VERSIONS)})",
            file=path,
            field="schema_version",
        )
    try:
        cams = {}
        for i, c in enumerate(_field(m, "cameras", path, "")):
            rec = f"cameras[{i}]"
            cams[_field(c, "name", path, rec)] = c
        views = []
        for i, vr in enumerate(_field(m, "views", path, "")):
            rec = f"views[{i}]"
            name = _field(vr, "camera", path, rec)
            if name not in cams:
                raise BadInputError(
                    f"unknown camera {name!r}", file=path, record=rec, field="camera"
                )
            c = cams[name]
            calibrated = c.get("calibrated", True) is not False
            camera = Camera(
                name=name,
                role=c.get("role", ""),
                width=int(_field(c, "width", path, f"camera {name}")),
                height=int(_field(c, "height", path, f"camera {name}")),
                K=np.array(
                    vr["K"] if "K" in vr else _field(c, "K", path, f"camera {name}"),
                    dtype=np.float64,
                )
                if calibrated
                else None,
                cam_to_world=np.array(_field(vr, "cam_to_world", path, rec), dtype=np.float64)
                if calibrated
                else None,
                calibrated=calibrated,
            )
            image_path = scene_dir / _field(vr, "image", path, rec)
            depth_rel = vr.get("depth")
            masks_path = scene_dir / _field(vr, "masks", path, rec)
            views.append(
                View(
                    camera,
                    timestep=int(vr.get("timestep", 0)),
                    timestamp=float(vr.get("timestamp", 0.0)),
                    image_loader=lambda p=image_path: load_image(p),
                    depth_loader=None
                    if depth_rel is None
                    else (lambda p=scene_dir / depth_rel: load_depth(p)),
                    masks_loader=lambda p=masks_path: masks_from_json(read_json(p), p),
                    image_path=image_path,
                )
            )
        instances = {}
        for i, ir in enumerate(m.get("instances", [])):
            rec = f"instances[{i}]"
            inst = Instance(
                track_id=_field(ir, "track_id", path, rec),
                category=ir.get("category", "object"),
                attributes=dict(ir.get("attributes") or {}),
                extent_m=ir.get("extent_m"),
                poses=ir.get("poses"),
            )
            instances[inst.track_id] = inst
        contacts = m.get("contacts")
        if contacts is not None:
            contacts = [[(int(a), int(b)) for a, b in step] for step in contacts]
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"malformed manifest ({exc})", file=path) from exc
    return Scene(
        scene_id=m.get("scene_id", scene_dir.name),
        source=m.get("source", "unknown"),
        views=views,
        instances=instances,
        timestamps=[float(t) for t in m.get("timestamps", [0.0])],
        contacts=contacts,
        rig_id=m.get("rig_id"),
        provenance=m.get("provenance") or {},
        language=m.get("language"),
        timestep_meta=m.get("timestep_meta"),
    )


def is_scene_dir(path: str | Path) -> bool:
    """True when ``path`` is a folder with a scene manifest."""
    return (Path(path) / MANIFEST).is_file()


def list_scenes(store: str | Path) -> list[Path]:
    """Scene folders of a store (or the folder itself when it is one scene), sorted by name."""
    store = Path(store)
    if is_scene_dir(store):
        return [store]
    if not store.is_dir():
        raise BadInputError("not a folder", file=store)
    return sorted(p for p in store.iterdir() if not p.name.startswith(".") and is_scene_dir(p))


def iter_scenes(store: str | Path):
    """Yield every scene of a store, read lazily, in sorted order."""
    for d in list_scenes(store):
        yield read_scene(d)
