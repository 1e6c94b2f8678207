"""report.html: the comparison's tables and pictures in one self-contained page that opens from disk.

Images are embedded as base64 data URIs; the style sheet and the few lines that sort a table by a clicked
column header are inline: no file or network fetch.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from datetime import datetime
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
    significance_lines,
    status_cell,
)
from convlab.report.figures import Picture

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1600px; }
table { border-collapse: collapse; font-size: 13px; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; }
th { background: #f0f0f0; cursor: pointer; user-select: none; position: sticky; top: 0; }
th[data-dir="asc"]::after { content: " ▲"; } th[data-dir="desc"]::after { content: " ▼"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.configuration, td.overrides { min-width: 20em; } td.repeats { min-width: 16em; }
tr.ok td.status { color: #176317; } tr.diverged td.status, tr.failed td.status, tr.missing td.status { color: #b00; }
tr.interrupted td.status, tr[data-warnings] td.status { color: #a15c00; } tr[data-warnings] { background: #fff6e0; }
code { background: #f4f4f4; padding: 1px 4px; }
figure { margin: 1em 0; } img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 13px; color: #444; max-width: 70em; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 0.5em 1em; }
.grid figure { margin: 0; } .grid img { width: 100%; }
.grid.small { grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); }
.grid.small img { width: 120px; image-rendering: pixelated; }
.scroll { overflow: auto; max-height: 80vh; }
.warning { color: #a15c00; } nav li { margin: 2px 0; } details { margin: 1em 0; }
"""
# Sorts a table by the clicked header: numbers (a cell's data-v, else its text) before text, click again to reverse.
SORT_SCRIPT = """<script>
document.querySelectorAll("table.sortable th").forEach((th) => th.addEventListener("click", () => {
  const table = th.closest("table"), body = table.tBodies[0], col = th.cellIndex;
  const dir = th.dataset.dir === "asc" ? "desc" : "asc";
  table.querySelectorAll("th").forEach((h) => delete h.dataset.dir);
  th.dataset.dir = dir;
  const key = (row) => {
    const cell = row.cells[col], text = cell.dataset.v ?? cell.textContent.trim();
    const number = parseFloat(text.replace(/,/g, ""));
    return isNaN(number) ? text : number;
  };
  const order = (a, b) => typeof a === "number" ? (typeof b === "number" ? a - b : -1)
                                                 : (typeof b === "number" ? 1 : a.localeCompare(b));
  const rows = [...body.rows].sort((a, b) => (dir === "asc" ? 1 : -1) * order(key(a), key(b)));
  body.append(...rows);
}));
</script>"""
# (anchor, heading), in the page's order; a section without content is left out of page and contents.
SECTIONS = [
    ("sec-configurations", "Per configuration, over repeats"),
    ("sec-jobs", "Per job"),
    ("sec-significance", "Which differences are real"),
    ("sec-curves", "Learning curves"),
    ("sec-cost", "Cost: size, FLOPs and training time"),
    ("sec-hyperparameters", "Hyperparameters"),
    ("sec-confusion", "Confusion matrices"),
    ("sec-per_class", "Per-class F1"),
    ("sec-mistakes", "Mistakes"),
    ("sec-chance", f"{WARNING_MARK} Jobs near chance"),
    ("sec-pruned", "Trials pruned by Optuna"),
    ("sec-unfinished", "Jobs that did not finish"),
    ("sec-notes", "Notes"),
]


def _sort_value(value: Any) -> str | None:
    """The number a column sorts by when its text does not say it plainly (1.34 M, 0.91–0.93, 0.4 *)."""
    if isinstance(value, tuple) and value and isinstance(value[0], int | float):
        return repr(float(value[0]))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(float(value))
    return None


def _table(columns: list[tuple[str, str]], rows: list[dict[str, Any]], table_id: str) -> str:
    head = "".join(f'<th title="click to sort">{html.escape(h)}</th>' for _, h in columns)
    body = []
    for row in rows:
        cells = []
        for k, _ in columns:
            text = status_cell(row) if k == "status" else format_cell(k, row[k])
            value = _sort_value(row[k]) if k in NUMERIC else None
            data = f' data-v="{value}"' if value is not None else ""
            cells.append(f'<td class="{"num" if k in NUMERIC else k}"{data}>{html.escape(text)}</td>')
        status = html.escape(str(row.get("status", "")))
        title = f' title="{html.escape(str(row["error"]))}"' if row.get("error") and status != "ok" else ""
        warned = f' data-warnings="{html.escape(row["warnings"])}"' if row.get("warnings") else ""
        body.append(f'<tr class="{status}"{title}{warned}>{"".join(cells)}</tr>')
    rows_html = "".join(body)
    return (  # a wide table scrolls inside its box, the page keeps the window's width
        f'<div class="scroll"><table id="{table_id}" class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows_html}</tbody></table></div>"
    )


def _figure(picture: Picture) -> str:
    data = base64.b64encode(picture.path.read_bytes()).decode("ascii")
    caption = html.escape(picture.caption)
    return (
        f'<figure><img alt="{caption}" data-file="{html.escape(picture.path.name)}" loading="eager" '
        f'src="data:image/png;base64,{data}"><figcaption>{caption}</figcaption></figure>'
    )


def _pictures(pictures: Sequence[Picture], grid: bool) -> str:
    shown = [p for p in pictures if not p.folded]
    folded = [p for p in pictures if p.folded]
    parts = []
    if shown:
        inner = "".join(_figure(p) for p in shown)
        parts.append(f'<div class="grid">{inner}</div>' if grid else inner)
    if folded:
        summary = f"{len(folded)} more"
        parts.append(
            f'<details><summary>{summary}</summary><div class="grid small">'
            f"{''.join(_figure(p) for p in folded)}</div></details>"
        )
    return "".join(parts)


def _inline_code(sentence: str) -> str:
    """Markdown's `code` in a sentence, as html."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(sentence))


FOLD_JOBS_ABOVE = 40  # jobs in a sweep with repeats; more are folded under their configurations' table


def _job_list(rows: list[dict[str, Any]], status: bool) -> str:
    """Jobs as a list: rank, overrides, (status,) why."""
    items = (
        f"<li>#{r['rank']} <code>{html.escape(r['overrides'])}</code>: "
        + (f"<b>{html.escape(r['status'])}</b>: " if status else "")
        + f"{html.escape(str(r['error']))}</li>"
        for r in rows
    )
    return "<ul>" + "".join(items) + "</ul>"


def report_html(comparison: Comparison, pictures: Sequence[Picture]) -> str:
    rows = job_rows(comparison)
    title = f"convlab comparison: {', '.join(p.name for p in comparison.sources) or 'runs'}"
    content: dict[str, str] = {}
    if comparison.groups:
        content["sec-configurations"] = (
            "<p>Test accuracy over the repeats (seeds, folds) of each configuration: mean ± sample standard "
            "deviation, and the 95% Student-t interval of the mean.</p>"
            + _table(GROUP_COLUMNS, group_rows(comparison), "configurations")
        )
    jobs_table = _table(COLUMNS, rows, "jobs")
    if comparison.groups and len(rows) > FOLD_JOBS_ABOVE:  # the configurations above come first; jobs on demand
        jobs_table = f"<details><summary>all {len(rows)} jobs</summary>{jobs_table}</details>"
    content["sec-jobs"] = (
        "<p>Best test accuracy first; click a column header to sort. 95% CI: the Wilson interval of the test "
        "accuracy. vs best: McNemar's exact test against the best job by validation accuracy on the same test "
        "samples, Holm-adjusted p (* below 0.05).</p>" + jobs_table
    )
    significance = significance_lines(comparison)
    if significance:
        content["sec-significance"] = "".join(f"<p>{_inline_code(s)}</p>" for s in significance)
    for section in ("curves", "cost", "hyperparameters", "confusion", "per_class", "mistakes"):
        chosen = [p for p in pictures if p.section == section]
        if chosen:
            content[f"sec-{section}"] = _pictures(chosen, grid=section == "confusion")
    warned = [r for r in rows if r["warnings"]]
    if warned:
        content["sec-chance"] = (
            "<ul>"
            + "".join(
                f"<li>#{r['rank']} <code>{html.escape(r['overrides'])}</code>: {html.escape(r['warnings'])}</li>"
                for r in warned
            )
            + "</ul>"
        )
    pruned = [r for r in rows if r["status"] == "pruned"]
    if pruned:  # apart from failures: stopped early by the pruner, not tested
        content["sec-pruned"] = _job_list(pruned, status=False)
    unfinished = [r for r in rows if r["status"] not in ("ok", "pruned")]
    if unfinished:
        content["sec-unfinished"] = _job_list(unfinished, status=True)
    notes = [*comparison.notes, *comparison.figure_notes]
    if notes:
        content["sec-notes"] = "".join(f"<p>{html.escape(note)}</p>" for note in notes)

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{len(rows)} jobs. Generated {datetime.now():%Y-%m-%d %H:%M:%S} from each job's results.json, "
        "history.csv and predictions.npz.</p>",
    ]
    if comparison.sources:
        sources = ", ".join(f"<code>{html.escape(str(s))}</code>" for s in comparison.sources)
        parts.append(f"<p>Sources: {sources}</p>")
    if comparison.common:
        parts.append(f"<p>Common to every job: <code>{html.escape(' '.join(comparison.common))}</code></p>")
    parts += [f'<p class="warning">warning: {html.escape(p)}</p>' for p in comparison.files.problems]
    links = "".join(f'<li><a href="#{a}">{html.escape(h)}</a></li>' for a, h in SECTIONS if a in content)
    parts.append(f"<nav><h2>Contents</h2><ol>{links}</ol></nav>")
    parts += [f'<h2 id="{a}">{html.escape(h)}</h2>{content[a]}' for a, h in SECTIONS if a in content]
    parts.append(SORT_SCRIPT)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
