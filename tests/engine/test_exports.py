"""Training and tool exports, read back: the same questions, options, answers and images."""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crossview.engine.config import GenerateConfig
from crossview.engine.exports import export, export_formats
from crossview.engine.pipeline import generate
from crossview.errors import BadInputError
from crossview.eval.loaders import load_benchmark
from crossview.eval.runner import EvalConfig, run_eval
from crossview.geometry import rle_decode
from tests.engine.toys import toy_store


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every family, three rigs (so train, val and test all exist), open-ended variants."""
    root = tmp_path_factory.mktemp("exports")
    store = toy_store(root / "store", 6, seed=11)
    out = root / "ds"
    generate(store, out, GenerateConfig(family="all", per_task=3, open_ended_fraction=0.3))
    return out


def _records(ds: Path) -> dict[str, dict]:
    lines = (ds / "questions.jsonl").read_text().splitlines()
    return {r["sample_id"]: r for r in map(json.loads, lines)}


def _shown(rec: dict) -> tuple[str, list[str], list[str], str]:
    """(question, options, images, answer) an ordinary model is shown under protocol auto."""
    have = rec["protocols"]
    name = "overlay" if "overlay" in have else "marker" if "marker" in have else None
    if name is None:
        return (
            rec["question"],
            rec["options"],
            [v["image_path"] for v in rec["views"]],
            rec["answer"],
        )
    e = have[name]
    return e["question"], e["options"], e["images"], e.get("answer", rec["answer"])


def _check_conversation(
    ds: Path, out: Path, rec: dict, text: str, images: list[str], item: dict, reply: str
) -> None:
    question, options, want_images, answer = _shown(rec)
    assert question in text
    for opt in options:
        assert opt in text
    assert images == want_images
    for rel in images:
        assert (out / rel).read_bytes() == (ds / rel).read_bytes()
    assert item["answer"] == answer and item["answer_kind"] == rec["answer_kind"]
    if rec["answer_kind"] == "choice":
        assert reply == options[ord(answer) - ord("A")] and reply.startswith(f"{answer}. ")
    elif rec["answer_kind"] == "free":
        assert reply == answer
    else:
        u, v = rec["gold"]["point"]
        assert reply == f"({round(u)}, {round(v)})"


def test_registry_lists_every_format_and_refuses_unknown_names(ds: Path, tmp_path: Path) -> None:
    assert set(export_formats()) >= {
        "llava",
        "sharegpt",
        "qwen",
        "parquet",
        "crossviewer",
        "vlmevalkit",
        "lmms-eval",
    }
    with pytest.raises(BadInputError, match="valid: llava, sharegpt, qwen, parquet"):
        export(ds, "webdataset", tmp_path)
    with pytest.raises(BadInputError, match="protocol"):
        export(ds, "llava", tmp_path, protocol="arrows")
    with pytest.raises(BadInputError, match=r"questions\.jsonl"):
        export(tmp_path, "llava", tmp_path / "out")


def test_llava_round_trip(ds: Path, tmp_path: Path) -> None:
    native = _records(ds)
    report = export(ds, "llava", tmp_path)
    items = json.loads((tmp_path / "llava.json").read_text())
    assert report.written == len(items) == len(native) and not report.skipped
    assert {x["id"] for x in items} == set(native)
    for x in items:
        human, gpt = x["conversations"]
        assert (human["from"], gpt["from"]) == ("human", "gpt")
        n = len(x["image"])
        assert human["value"].startswith("<image>\n" * n) and human["value"].count("<image>") == n
        _check_conversation(
            ds, tmp_path, native[x["id"]], human["value"], x["image"], x, gpt["value"]
        )


def test_sharegpt_round_trip(ds: Path, tmp_path: Path) -> None:
    native = _records(ds)
    export(ds, "sharegpt", tmp_path)
    items = json.loads((tmp_path / "sharegpt.json").read_text())
    info = json.loads((tmp_path / "dataset_info.json").read_text())["crossview"]
    assert info["file_name"] == "sharegpt.json" and info["formatting"] == "sharegpt"
    assert info["columns"] == {"messages": "messages", "images": "images"}
    assert len(items) == len(native)
    for x in items:
        user, assistant = x["messages"]
        assert (user["role"], assistant["role"]) == ("user", "assistant")
        assert user["content"].count("<image>") == len(x["images"])  # LLaMA-Factory checks this
        _check_conversation(
            ds, tmp_path, native[x["id"]], user["content"], x["images"], x, assistant["content"]
        )


def test_qwen_round_trip(ds: Path, tmp_path: Path) -> None:
    native = _records(ds)
    export(ds, "qwen", tmp_path)
    items = [json.loads(x) for x in (tmp_path / "qwen.jsonl").read_text().splitlines()]
    assert len(items) == len(native)
    for x in items:
        user, assistant = x["messages"]
        kinds = [c["type"] for c in user["content"]]
        assert kinds == ["image"] * (len(kinds) - 1) + ["text"]  # images first, then the text
        images = [c["image"] for c in user["content"][:-1]]
        reply = assistant["content"][0]["text"]
        text = user["content"][-1]["text"]
        _check_conversation(ds, tmp_path, native[x["id"]], text, images, x, reply)


def _check_parquet_rows(ds: Path, rows: list[dict], native: dict[str, dict], decode) -> None:
    for row in rows:
        rec = native[row["id"]]
        question, options, images, answer = _shown(rec)
        assert (row["question"], list(row["options"]), row["answer"]) == (question, options, answer)
        assert (row["question_type"], row["split"], row["family"]) == (
            rec["question_type"],
            rec["split"],
            rec["family"],
        )
        assert json.loads(row["record"]) == rec
        assert len(row["images"]) == len(images)
        for img, rel in zip(row["images"], images, strict=True):
            want = np.asarray(Image.open(ds / rel))
            np.testing.assert_array_equal(decode(img), want)


def test_parquet_round_trip_with_pyarrow(ds: Path, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    import io

    native = _records(ds)
    report = export(ds, "parquet", tmp_path)
    splits = {r["split"] for r in native.values()}
    assert {p.name for p in report.files} == {f"{s}.parquet" for s in splits} and len(splits) >= 3
    rows = [row for p in report.files for row in pq.read_table(p).to_pylist()]
    assert len(rows) == len(native) == report.written
    for p in report.files:
        assert {r["split"] for r in pq.read_table(p, columns=["split"]).to_pylist()} == {p.stem}
    _check_parquet_rows(
        ds, rows, native, lambda img: np.asarray(Image.open(io.BytesIO(img["bytes"])))
    )


def test_parquet_loads_in_hf_datasets_with_decoded_images(ds: Path, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    datasets = pytest.importorskip(
        "datasets", reason="Hugging Face datasets not installed; the pyarrow round trip ran"
    )
    native = _records(ds)
    report = export(ds, "parquet", tmp_path / "pq")
    files = {p.stem: str(p) for p in report.files}
    loaded = datasets.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "hf"))
    assert set(loaded) == set(files)
    feats = loaded["train"].features
    assert isinstance(feats["images"].feature, datasets.Image)  # typed, no features= needed
    rows = [row for split in loaded.values() for row in split]
    assert len(rows) == len(native)
    assert all(isinstance(img, Image.Image) for row in rows for img in row["images"])
    _check_parquet_rows(ds, rows, native, np.asarray)


def test_crossviewer_export_scores_100_with_the_oracle(ds: Path, tmp_path: Path) -> None:
    native = _records(ds)
    report = export(ds, "crossviewer", tmp_path)
    path = tmp_path / "crossviewer.jsonl"
    grounded = [r for r in native.values() if r["region_refs"] and r["answer_kind"] != "point"]
    assert report.written == len(grounded) > 0
    assert sum(report.skipped.values()) == len(native) - len(grounded)
    assert set(report.skipped) <= {
        "not mask-grounded (no <region> references)",
        "coordinate answer (CrossViewer items are choice or free text)",
    }
    bench = load_benchmark(path, fmt="crossviewer")
    assert len(bench.items) == len(grounded)
    for item in bench.items:
        rec = native[item.id]
        assert item.question == rec["question"] and item.answer == rec["answer"]
        assert [f"{'ABCDEFGH'[k]}. {o}" for k, o in enumerate(item.options)] == rec["options"]
        assert len(item.regions) == len(rec["region_refs"])
        for reg in item.regions:
            want = rec["views"][reg["view"]]["objects"][reg["object"]]
            np.testing.assert_array_equal(rle_decode(reg["mask_rle"]), rle_decode(want["mask_rle"]))
            assert reg["track_id"] == want["track_id"]
        for img, v in zip(item.images, rec["views"], strict=True):
            assert img.path.read_bytes() == (ds / v["image_path"]).read_bytes()
    summary = run_eval(
        EvalConfig(bench=path, fmt="crossviewer", model="oracle", out=tmp_path / "r")
    )
    assert summary["overall"]["accuracy"] == 1.0 and summary["overall"]["n"] == len(grounded)


def _colorless(text: str) -> str:
    from crossview.render.palette import PALETTE

    return re.sub(rf"\b({'|'.join(PALETTE)})\b", "COLOR", text, flags=re.IGNORECASE)


def test_crossviewer_file_under_the_overlay_protocol_reads_like_the_native_one(
    ds: Path, tmp_path: Path
) -> None:
    """A published CrossViewer file (masks, ``<region>`` text) under ``--protocol overlay``: the
    text a model reads is the native overlay protocol's up to the colour chosen, each named
    colour outlines its region's mask on its image, and the oracle still scores 100%."""
    from crossview.render.overlay import contour_band, contour_thickness
    from crossview.render.palette import PALETTE

    native = _records(ds)
    export(ds, "crossviewer", tmp_path)
    path = tmp_path / "crossviewer.jsonl"
    bench = load_benchmark(path, fmt="crossviewer", protocol="overlay")
    assert bench.protocol == "overlay" and bench.items
    checked = 0
    for item in bench.items:
        rec = native[item.id]
        over = rec["protocols"]["overlay"]
        assert not item.regions and "<region>" not in item.question
        assert _colorless(item.question) == _colorless(over["question"])
        got = [f"{'ABCDEFGH'[k]}. {o}" for k, o in enumerate(item.options)]
        assert [_colorless(o) for o in got] == [_colorless(o) for o in over["options"]]
        texts = [item.question, *got, item.answer if item.answer_kind == "free" else ""]
        want = [over["question"], *over["options"], over.get("answer", "")]
        if item.answer_kind == "free":
            assert _colorless(item.answer) == _colorless(over["answer"])
        # the colours named, word by word, pair a native colour with one of ours ...
        pat = rf"\b({'|'.join(PALETTE)})\b"
        ours = [c.lower() for t in texts for c in re.findall(pat, t, re.I)]
        theirs = [c.lower() for t in want[: len(texts)] for c in re.findall(pat, t, re.I)]
        pairs = set(zip(theirs, ours, strict=True))
        # ... and every object drawn is a native mark whose colour is paired with ours. Ours
        # is one colour per (image, object): a native colour group (one object marked in
        # several images, where the text gives the correspondence) gets one per image, and
        # only referenced masks are drawn (a published file may list every object)
        native_marks = {(m["view"], m["track_id"]): m["color"] for m in over["marks"]}
        drawn_colors = set()
        for v, img in enumerate(item.images):
            tid = {json.dumps(o["mask_rle"]): o["track_id"] for o in rec["views"][v]["objects"]}
            for rle, color in img.overlay:
                assert (native_marks[(v, tid[rle])], color) in pairs
                drawn_colors.add(color)
                checked += 1
        assert drawn_colors == set(ours)
        # the drawn image is a PNG whose contour bands hold the named colours
        for img in item.images:
            if not img.overlay:
                continue
            assert img.mime() == "image/png"
            shown = np.asarray(Image.open(io.BytesIO(img.read_bytes())).convert("RGB"))
            th = contour_thickness(shown.shape[1], shown.shape[0])
            for rle, color in img.overlay:
                band, _ = contour_band(rle_decode(json.loads(rle)), th)
                share = (shown[band] == PALETTE[color]).all(-1).mean()
                assert share > 0.25, (item.id, color, share)  # neighbours draw over a part
        names = [c for img in item.images for _, c in img.overlay]
        assert len(set(names)) == len(names)  # one colour per region
    assert checked > 0
    summary = run_eval(
        EvalConfig(
            bench=path, fmt="crossviewer", protocol="overlay", model="oracle", out=tmp_path / "r"
        )
    )
    assert summary["overall"]["accuracy"] == 1.0 and summary["overall"]["n"] == len(bench.items)


def test_crossviewer_file_offers_region_and_overlay_only(ds: Path, tmp_path: Path) -> None:
    export(ds, "crossviewer", tmp_path)
    with pytest.raises(BadInputError, match="'region' or 'overlay'; protocol 'marker'"):
        load_benchmark(tmp_path / "crossviewer.jsonl", protocol="marker")
    assert load_benchmark(tmp_path / "crossviewer.jsonl").protocol == "region"


def _toliststr(cell: str) -> list[str]:
    """VLMEvalKit's ``toliststr`` (vlmeval/smp): a cell ``"[...]"`` is a Python list."""
    import ast

    if cell.startswith("[") and cell.endswith("]"):
        return [str(x) for x in ast.literal_eval(cell)]
    return [cell]


def test_vlmevalkit_tsv_reads_as_vlmevalkit_reads_it(ds: Path, tmp_path: Path) -> None:
    """VLMEvalKit's custom MCQ path, reproduced (vlmevalkit is not installed here: it pulls
    torch and model code): pandas ``read_csv(sep='\\t')`` as its ``load``, ``toliststr`` on
    ``image`` and ``image_path`` as ``ImageBaseDataset``, option columns A.. not NaN as
    ``ImageMCQDataset.build_prompt``; then our own TSV loader, scored 100% by the oracle."""
    import base64

    import pandas as pd

    native = _records(ds)
    report = export(ds, "vlmevalkit", tmp_path)
    path = tmp_path / "CrossViewBench.tsv"
    assert report.files == [path]
    choice = [r for r in native.values() if r["answer_kind"] == "choice"]
    assert report.written == len(choice) > 0
    assert sum(report.skipped.values()) == len(native) - len(choice)
    data = pd.read_csv(path, sep="\t")
    assert list(data["index"].astype(str)) == [r["sample_id"] for r in choice]
    for _, row in data.iterrows():
        rec = native[str(row["index"])]
        question, options, images, answer = _shown(rec)
        assert row["question"] == question and row["answer"] == answer
        got = [f"{c}. {row[c]}" for c in "ABCDEFGH" if c in row and not pd.isna(row[c])]
        assert got == options
        b64 = _toliststr(row["image"])
        names = _toliststr(row["image_path"])
        assert len(b64) == len(names) == len(images)  # dump_image zips image with image_path
        for cell, rel in zip(b64, images, strict=True):
            assert base64.b64decode(cell) == (ds / rel).read_bytes()
        assert row["category"] == rec["question_type"] and row["l2-category"] == rec["family"]
    bench = load_benchmark(path)
    assert bench.format == "tsv" and len(bench.items) == len(choice)
    summary = run_eval(EvalConfig(bench=path, model="oracle", out=tmp_path / "r"))
    assert summary["overall"]["accuracy"] == 1.0 and summary["overall"]["n"] == len(choice)


def _lmms_function_loader(task_dir: Path):
    """A YAML loader whose ``!function utils.name`` loads ``name`` from the task folder's
    ``utils.py`` (lmms_eval.utils.import_function: relative file import by module name)."""
    import importlib.util

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def function(loader: yaml.SafeLoader, node: yaml.Node):
        module, name = loader.construct_scalar(node).rsplit(".", 1)  # type: ignore[arg-type]
        spec = importlib.util.spec_from_file_location(module, task_dir / f"{module}.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return getattr(mod, name)

    Loader.add_constructor("!function", function)
    return Loader


def _gold_reply(item) -> str:
    from crossview.eval.prompts import _oracle_text

    return _oracle_text(item, item.answer, "absolute")


def test_lmms_eval_task_asks_and_scores_as_crossview_eval(ds: Path, tmp_path: Path) -> None:
    """The task folder read the way lmms-eval 0.7 reads it (reproduced here: lmms-eval is not
    installed in our tests, it pulls torchvision and every model's code; the same folder was
    run through lmms-eval 0.7.3's own ConfigurableTask by hand, see docs/exports.md):
    ``load_yaml_config`` with ``!function``, ``datasets.load_dataset("parquet", data_files)``
    relative to the task folder, then doc_to_text / doc_to_visual / process_results and the
    aggregations."""
    import yaml

    datasets = pytest.importorskip("datasets")
    from crossview.eval.prompts import build_tasks

    native = _records(ds)
    report = export(ds, "lmms-eval", tmp_path)
    task_dir = tmp_path / "crossviewbench"
    cfg = yaml.load(
        (task_dir / "crossviewbench.yaml").read_text(), Loader=_lmms_function_loader(task_dir)
    )
    assert cfg["task"] == "crossviewbench" and cfg["output_type"] == "generate_until"
    assert cfg["dataset_path"] == "parquet" and cfg["test_split"] == "test"
    files = {k: str(task_dir / v) for k, v in cfg["dataset_kwargs"]["data_files"].items()}
    data = datasets.load_dataset("parquet", data_files=files)
    docs = list(data[cfg["test_split"]])
    test = [r for r in native.values() if r["split"] == "test"]
    assert len(docs) == len(test) > 0 and report.written == len(native)
    items = {it.id: it for it in load_benchmark(ds / "questions.jsonl").items}
    kwargs = cfg["lmms_eval_specific_kwargs"]["default"]
    results: dict[str, list] = {}
    for doc in docs:
        item = items[doc["id"]]
        # the prompt crossview eval sends, and the images of that protocol, in order
        assert cfg["doc_to_text"](doc, kwargs) == build_tasks(item)[0].prompt.text
        shown = cfg["doc_to_visual"](doc)
        assert [im.size for im in shown] == [im.open().size for im in item.images]
        assert cfg["doc_to_target"](doc) == item.answer
        right = cfg["process_results"](doc, [_gold_reply(item)])
        wrong = cfg["process_results"](doc, ["I cannot tell."])
        assert right["accuracy"]["correct"] and not wrong["accuracy"]["correct"]
        for name, entry in right.items():
            results.setdefault(name, []).append(entry)
    metrics = {m["metric"]: m["aggregation"] for m in cfg["metric_list"]}
    assert set(metrics) == set(results)
    from crossview.engine.lmms_eval_task import slug

    present = {"accuracy", *(f"acc_{slug(r['question_type'])}" for r in test)}
    for name, fn in metrics.items():
        got = fn(results[name])
        assert got == 100.0 if name in present else math.isnan(got), (name, got)
    assert (
        metrics["accuracy"]([{"correct": True, "type": "Q1"}, {"correct": False, "type": "Q2"}])
        == 50.0
    )


def test_crosspoint_export_loads_in_the_harness(ds: Path, tmp_path: Path) -> None:
    native = _records(ds)
    report = export(ds, "crosspoint", tmp_path)
    want = [r for r in native.values() if r["family"] == "crosspoint" and not r["open_ended"]]
    assert report.written == len(want) > 0
    assert sum(report.skipped.values()) == len(native) - len(want)
    bench = load_benchmark(report.files[0])
    assert bench.format == "crosspoint" and len(bench.items) == len(want)


def test_split_open_and_protocol_selection(ds: Path, tmp_path: Path) -> None:
    native = _records(ds)
    report = export(ds, "qwen", tmp_path / "a", split="test", include_open=False)
    want = [r for r in native.values() if r["split"] == "test" and not r["open_ended"]]
    assert report.written == len(want) > 0
    # an explicit protocol exports the items that carry it and counts the others as skipped
    report = export(ds, "llava", tmp_path / "b", protocol="overlay")
    has = [r for r in native.values() if "overlay" in r["protocols"]]
    assert report.written == len(has) and report.skipped == {
        "no overlay protocol": len(native) - len(has)
    }
    items = json.loads((tmp_path / "b" / "llava.json").read_text())
    assert all(x["protocol"] == "overlay" for x in items)
    # region: the scene images and the <region> text
    report = export(ds, "llava", tmp_path / "c", protocol="region")
    items = json.loads((tmp_path / "c" / "llava.json").read_text())
    assert report.written == len(native)
    for x in items:
        assert x["image"] == [v["image_path"] for v in native[x["id"]]["views"]]


def test_export_command(ds: Path, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from crossview.engine.export_commands import export_cmd

    app = typer.Typer()
    app.command()(export_cmd)
    res = CliRunner().invoke(
        app, [str(ds), "--format", "crossviewer", "--out", str(tmp_path), "--no-open"]
    )
    assert res.exit_code == 0, res.output
    assert "skipped" in res.output and (tmp_path / "crossviewer.jsonl").is_file()
    lines = (tmp_path / "crossviewer.jsonl").read_text().splitlines()
    assert lines and not any(json.loads(x)["sample_id"].endswith("-open") for x in lines)


def test_parquet_without_pyarrow_names_the_extra(
    ds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from crossview.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(MissingExtraError, match=r"crossview\[export\]"):
        export(ds, "parquet", tmp_path)


def test_record_choice_kind_agrees_with_the_wording_on_every_family(ds: Path) -> None:
    """The structural rule (Record.choice_kind) and the wording rule (infer_choice_kind, for
    published files) agree on every generated record under every protocol it carries."""
    from crossview.dataset.record import Record
    from crossview.eval.loaders import infer_choice_kind

    seen = set()
    for raw in _records(ds).values():
        rec = Record.from_json(raw)
        for p in rec.available():
            pv = rec.view(p)
            assert pv is not None
            texts = [o.split(". ", 1)[1] for o in pv.options]
            assert rec.choice_kind() == infer_choice_kind(texts), (rec.sample_id, p)
            seen.add(rec.choice_kind())
    assert seen == {"letter", "color", "image", "yesno"}
