"""One folder holding every public benchmark in its published layout: ``crossview suite``
finds each one as itself (no parquet or JSON release is taken for another's) and scores it."""

from __future__ import annotations

import json

from tests.eval.public_fixtures import write_mmsi_parquet, write_viewspatial
from tests.eval.test_bench_allangles import _records as allangles_records
from tests.eval.test_bench_allangles import write_allangles
from tests.eval.test_bench_blink import _snapshot as blink_snapshot
from tests.eval.test_bench_mindcube import _rec as mindcube_rec
from tests.eval.test_bench_mindcube import write_mindcube
from tests.eval.test_bench_robospatial import RECORDS as ROBOSPATIAL
from tests.eval.test_bench_robospatial import write_annotations, write_hub_parquet
from tests.eval.test_bench_spar import _rows as spar_rows
from tests.eval.test_bench_spar import write_spar_shards
from tests.eval.test_public_benchmarks import _mmsi_rows, _viewspatial_records


def test_suite_tells_every_public_benchmark_apart(tmp_path):
    from crossview.cli import main
    from crossview.eval.suite import discover

    root = tmp_path / "benchmarks"
    write_mmsi_parquet(root / "MMSI-Bench" / "MMSI_Bench.parquet", _mmsi_rows())
    write_viewspatial(root / "ViewSpatial-Bench", _viewspatial_records())
    write_mindcube(root / "MindCube", [mindcube_rec("among_group002_q0_1_1", "C")])
    write_annotations(root / "RoboSpatial-Home", ROBOSPATIAL)
    write_hub_parquet(root / "RoboSpatial-Home-hub", ROBOSPATIAL)
    write_spar_shards(root / "SPAR-Bench", spar_rows())
    blink_snapshot(root / "BLINK")
    write_allangles(root / "All-Angles-Bench", allangles_records())
    found = {s: f for s, _, f in discover(root)}
    assert found == {
        "allangles-All-Angles-Bench": "allangles",
        "blink-BLINK": "blink",
        "mindcube-MindCube": "mindcube",
        "mmsi-MMSI-Bench": "mmsi",
        "robospatial-RoboSpatial-Home": "robospatial",
        "robospatial-RoboSpatial-Home-hub": "robospatial",
        "spar-SPAR-Bench": "spar",
        "viewspatial-ViewSpatial-Bench": "viewspatial",
    }
    out = tmp_path / "runs" / "oracle"
    assert main(["suite", "--model", "oracle", "--benchmarks", str(root), "--out", str(out)]) == 0
    rows = {r["benchmark"]: r for r in json.loads((out / "suite.json").read_text())["benchmarks"]}
    assert set(rows) == set(found)
    for slug, row in rows.items():
        assert row["status"] == "complete", slug
        assert row["accuracy"] == 1.0, slug  # the oracle is right under crossview's extraction
        assert "overall" in row["official"], slug
    # the official parsers read the oracle's "Answer: X" their own way
    assert rows["mmsi-MMSI-Bench"]["official"]["overall"] == 1.0
    assert rows["robospatial-RoboSpatial-Home"]["official"]["overall"] < 1.0  # "Answer: A"
    md = (out / "suite.md").read_text()
    for slug in found:
        assert f"## {slug}" in md
    # each benchmark also in its paper's form: one row, the overall then every category
    assert "| Model (official) | Overall | Multi-view_Reasoning | Visual_Correspondence |" in md
