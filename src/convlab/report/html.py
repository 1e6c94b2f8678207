"""report.html: the comparison tables and pictures in one self-contained page that opens from disk.

Images are embedded as base64 data URIs and the style sheet is inline: no file or network fetch.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from convlab.report.chance import WARNING_MARK
from convlab.report.compare import (
    COLUMNS,
    GROUP_COLUMNS,
    NUMERIC,
    Comparison,
    format_cell,
    group_rows,
    job_rows,
    status_cell,
)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 13px; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.ok td.status { color: #176317; } tr.diverged td.status, tr.failed td.status, tr.missing td.status { color: #b00; }
tr.interrupted td.status, tr[data-warnings] td.status { color: #a15c00; } tr[data-warnings] { background: #fff6e0; }
code { background: #f4f4f4; padding: 1px 4px; }
figure { margin: 1.5em 0; } img { max-width: 100%; border: 1px solid #ddd; }
"""


def _table(columns: list[tuple[str, str]], rows: list[dict[str, Any]], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h in columns)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{"num" if k in NUMERIC else k}">'
            f"{html.escape(status_cell(row) if k == 'status' else format_cell(k, row[k]))}</td>"
            for k, _ in columns
        )
        status = html.escape(str(row.get("status", "")))
        title = f' title="{html.escape(str(row["error"]))}"' if row.get("error") and status != "ok" else ""
        warned = f' data-warnings="{html.escape(row["warnings"])}"' if row.get("warnings") else ""
        body.append(f'<tr class="{status}"{title}{warned}>{cells}</tr>')
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = html.escape(path.name)
    return f'<figure><img alt="{name}" src="data:image/png;base64,{data}"><figcaption>{name}</figcaption></figure>'


def report_html(comparison: Comparison, images: Mapping[str, Path]) -> str:
    rows = job_rows(comparison)
    title = f"convlab comparison: {', '.join(p.name for p in comparison.sources) or 'runs'}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{len(rows)} jobs, best test accuracy first. Generated {datetime.now():%Y-%m-%d %H:%M:%S} "
        "from each job's results.json.</p>",
    ]
    if comparison.sources:
        sources = ", ".join(f"<code>{html.escape(str(s))}</code>" for s in comparison.sources)
        parts.append(f"<p>Sources: {sources}</p>")
    if comparison.common:
        parts.append(f"<p>Common to every job: <code>{html.escape(' '.join(comparison.common))}</code></p>")
    parts.append(_table(COLUMNS, rows, "jobs"))
    if comparison.groups:
        parts.append("<h2>Per configuration, over repeats (mean ± sample std)</h2>")
        parts.append(_table(GROUP_COLUMNS, group_rows(comparison), "configurations"))
    warned = [r for r in rows if r["warnings"]]
    if warned:
        parts.append(f"<h2>{WARNING_MARK} Jobs that finished with warnings (at chance)</h2><ul>")
        parts += [
            f"<li>#{r['rank']} <code>{html.escape(r['overrides'])}</code>: {html.escape(r['warnings'])}</li>"
            for r in warned
        ]
        parts.append("</ul>")
    unfinished = [r for r in rows if r["status"] != "ok"]
    if unfinished:
        parts.append("<h2>Jobs that did not finish</h2><ul>")
        parts += [
            f"<li>#{r['rank']} <code>{html.escape(r['overrides'])}</code>: <b>{html.escape(r['status'])}</b>: "
            f"{html.escape(str(r['error']))}</li>"
            for r in unfinished
        ]
        parts.append("</ul>")
    parts += [f"<p>{html.escape(note)}</p>" for note in comparison.notes]
    parts += [_image(path) for path in images.values()]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
