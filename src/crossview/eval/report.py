"""Reports over run folders: a markdown table in the papers' style and an HTML page.

The markdown has a row per run with overall (micro), macro-over-types and per-category
accuracy in percent. The HTML adds per-type bar charts (inline SVG, no JavaScript) and a gallery
of failed items (wrong or no answer) with their images as embedded thumbnails.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crossview.errors import BadInputError
from crossview.eval.runner import PREDICTIONS, SUMMARY, read_predictions


def load_run(run_dir: Path) -> dict[str, Any]:
    """Read a run folder's summary.json (and run.json)."""
    path = Path(run_dir) / SUMMARY
    if not path.is_file():
        raise BadInputError("not a run folder: summary.json is missing", file=run_dir)
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BadInputError(f"summary.json is not valid JSON: {exc.msg}", file=path) from None
    summary["_dir"] = str(run_dir)
    return summary


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _ci(table: dict[str, Any]) -> str:
    """The scene-clustered 95% interval in percent (Wilson's for runs older than it)."""
    lo, hi = table.get("ci95_clustered") or table.get("ci95") or (None, None)
    if lo is None:
        return "-"
    return f"{_pct(lo)}-{_pct(hi)}"


_VERDICT = {"A better": "better", "B better": "worse"}


def paired_table(run_dirs: Sequence[str | Path]) -> str:
    """Markdown: every run after the first compared with the first on their shared items."""
    from crossview.eval.runner import compare_runs

    if len(run_dirs) < 2:
        return ""
    lines = [
        "",
        f"Paired with the first run ({Path(run_dirs[0]).name}) on the items both answered: "
        "difference in points, 95% interval clustered by scene.",
        "",
        "| Model | N | Difference | 95% CI | Verdict |",
        "|---|---|---|---|---|",
    ]
    for d in run_dirs[1:]:
        c = compare_runs(Path(d), Path(run_dirs[0]))
        o = c["overall"]
        lo, hi = o["ci95"]
        lines.append(
            f"| {c['a']['model']} | {o['n']} | {100 * o['difference']:+.1f} | "
            f"{100 * lo:+.1f} to {100 * hi:+.1f} | {_VERDICT.get(o['verdict'], o['verdict'])} |"
        )
    return "\n".join(lines) + "\n"


def _md_to_html(md: str) -> str:
    """Pipe tables of ``md`` as HTML tables (first row the header), other lines as paragraphs."""
    out, rows = [], []

    def flush() -> None:
        if rows:
            head, *body = rows
            out.append(
                "<table><tr>"
                + "".join(f"<th>{html.escape(c)}</th>" for c in head)
                + "</tr>"
                + "".join(
                    "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                    for r in body
                )
                + "</table>"
            )
            rows.clear()

    for line in md.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= {"-", ":"} for c in cells):
                rows.append(cells)
            continue
        flush()
        if line.strip():
            out.append(f"<p>{html.escape(line)}</p>")
    flush()
    return "".join(out)


def markdown_table(runs: Sequence[dict[str, Any]]) -> str:
    """A row per run: model, n, overall, macro, then one column per category (union)."""
    cats = sorted({c for r in runs for c in r.get("by_category", {})})
    head = ["Model", "N", "Overall", "95% CI (scenes)", "Macro", *cats, "No answer", "Complete"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    has_circ = any("circular" in r for r in runs)
    for r in runs:
        row = [
            r.get("model", "?"),
            str(r["overall"]["n"]),
            _pct(r["overall"]["accuracy"]),
            _ci(r["overall"]),
            _pct(r.get("macro_over_types")),
        ]
        row += [_pct(r.get("by_category", {}).get(c, {}).get("accuracy")) for c in cats]
        row += [_pct(r["overall"]["no_answer_rate"]), "yes" if r.get("complete") else "NO"]
        lines.append("| " + " | ".join(row) + " |")
    if runs:
        base = runs[0]
        row = [
            "Random (chance)",
            "",
            _pct(base["overall"].get("random_baseline")),
            "",
            _pct(base.get("random_baseline_macro")),
        ]
        row += [_pct(base.get("by_category", {}).get(c, {}).get("random_baseline")) for c in cats]
        lines.append("| " + " | ".join([*row, "", ""]) + " |")
    official = [r for r in runs if "official" in r]
    if official:
        lines += [
            "",
            "Official score (the benchmark's own parser and scoring on the same responses) beside"
            " crossview's robust extraction:",
            "",
            "| Model | Benchmark | Official | crossview | Disagree | Official higher "
            "| crossview higher | Official parser read nothing | Flagged (an LLM step not run) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in official:
            o, d = r["official"], r["official"]["disagreements"]
            lines.append(
                f"| {r.get('model')} | {o['benchmark']} | {_pct(o['overall'])} "
                f"| {_pct(r['overall']['accuracy'])} | {d['n']} | {d['official_higher']} "
                f"| {d['robust_higher']} | {o['unparsed']} | {_flags(o)} |"
            )
    if has_circ:
        lines += [
            "",
            "Circular evaluation (an item counts only when every rotation is right):",
            "",
            "| Model | Plain | Circular |",
            "|---|---|---|",
        ]
        for r in runs:
            if "circular" in r:
                lines.append(
                    f"| {r.get('model')} | {_pct(r['overall']['accuracy'])} | "
                    f"{_pct(r['circular']['overall']['accuracy'])} |"
                )
    return "\n".join(lines) + "\n"


def _bars_svg(by_type: dict[str, Any]) -> str:
    rows = sorted(by_type.items())
    w, bar_h, label_w = 560, 18, 220
    h = bar_h * len(rows) + 10
    parts = [f'<svg width="{w}" height="{h}" role="img">']
    for k, (name, t) in enumerate(rows):
        y = 5 + k * bar_h
        acc, base = t.get("accuracy", 0.0), t.get("random_baseline", 0.0)
        span = w - label_w - 60
        parts.append(f'<text x="0" y="{y + 13}" font-size="12">{html.escape(name)}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y + 2}" width="{span * acc:.1f}" '
            f'height="{bar_h - 5}" fill="#4a7fb5"/>'
        )
        parts.append(
            f'<line x1="{label_w + span * base:.1f}" x2="{label_w + span * base:.1f}" '
            f'y1="{y}" y2="{y + bar_h}" stroke="#c33" stroke-width="2"/>'
        )
        parts.append(
            f'<text x="{label_w + span * acc + 4:.1f}" y="{y + 13}" font-size="11">'
            f"{100 * acc:.1f}% (n={t.get('n', 0)})</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _thumb(src: Any, size: int = 200) -> str:
    try:
        im = src.open()
        im.thumbnail((size, size))
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    except Exception:  # a missing image must not break the report
        return ""


def _gallery(run: dict[str, Any], limit: int) -> str:
    from crossview.eval.loaders import load_benchmark

    ident = run.get("run", {}).get("identity", {})
    try:
        bench = load_benchmark(
            ident["bench"], protocol=ident.get("protocol"), fmt=ident.get("format", "auto")
        )
    except Exception as exc:  # the benchmark may have moved; the report still has the tables
        return f"<p>gallery unavailable: {html.escape(str(exc))}</p>"
    items = {it.id: it for it in bench.items}
    records = read_predictions(Path(run["_dir"]) / PREDICTIONS)
    cards = []
    for (iid, variant), rec in sorted(records.items()):
        if variant != 0 or rec.get("status") != "answered" or rec.get("correct"):
            continue
        it = items.get(iid)
        if it is None:
            continue
        imgs = "".join(
            f'<img src="{_thumb(s)}" alt="Image {k + 1}">' for k, s in enumerate(it.images)
        )
        note = rec.get("note") or f"answered {rec.get('extracted')}, gold {rec.get('gold')}"
        cards.append(
            f'<div class="card"><b>{html.escape(iid)}</b> ({html.escape(it.type)}) - '
            f"{html.escape(note)}<div>{imgs}</div><pre>{html.escape(it.question[:600])}</pre>"
            f"<pre>response: {html.escape(str(rec.get('response', ''))[:600])}</pre></div>"
        )
        if len(cards) >= limit:
            break
    return "".join(cards) or "<p>no failed items</p>"


def write_report(
    run_dirs: Sequence[str | Path], out: str | Path, gallery: int = 24
) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` for the runs into ``out``; return both paths."""
    if not run_dirs:
        raise BadInputError("give at least one run folder")
    runs = [load_run(Path(d)) for d in run_dirs]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md = markdown_table(runs) + paired_table([Path(d) for d in run_dirs])
    md_path = out / "report.md"
    md_path.write_text("# Evaluation report\n\nAccuracy in percent.\n\n" + md, encoding="utf-8")
    body = []
    for r in runs:
        body.append(f"<h2>{html.escape(str(r.get('model')))}</h2>")
        body.append(
            f"<p>overall {_pct(r['overall']['accuracy'])}% on {r['overall']['n']} items;"
            f" red line = random baseline; run folder {html.escape(r['_dir'])}</p>"
        )
        if not r.get("complete"):
            body.append(f"<p><b>incomplete</b>: failed {html.escape(str(r.get('failed_ids')))}</p>")
        body.append(_bars_svg(r.get("by_type", {})))
        body.append("<h3>Failed items</h3>" + _gallery(r, gallery))
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>crossview report</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px}.card{border:1px solid #ddd;margin:8px 0;"
        "padding:6px}.card img{margin:2px;border:1px solid #999}pre{white-space:pre-wrap}"
        "</style></head><body><h1>Evaluation report</h1>"
        f"{_md_to_html(md)}{''.join(body)}</body></html>"
    )
    html_path = out / "report.html"
    html_path.write_text(page, encoding="utf-8")
    return md_path, html_path


def _flags(official: dict) -> str:
    """``needs_llm_judge 3``: flagged responses by flag, or ``-``."""
    flags = official.get("flags") or {}
    return ", ".join(f"{k} {v['n']}" for k, v in sorted(flags.items())) or "-"
