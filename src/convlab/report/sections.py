"""The report's sections, built once from a comparison; comparison.md (report.markdown) and report.html
(report.html) render the same objects, so the two files cannot disagree on what a section holds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
from convlab.report.significance import ALPHA


@dataclass
class Cell:
    key: str
    text: str  # as both files show it
    sort: str | None  # the number the page sorts by when the text does not say it plainly (1.34 M, 0.91–0.93)
    numeric: bool  # right-aligned


@dataclass
class Row:
    cells: list[Cell]
    status: str
    error: str | None  # the page's tooltip for a job that did not finish
    warnings: str | None


@dataclass
class Table:
    id: str
    columns: list[tuple[str, str]]  # (key, header)
    rows: list[Row]


@dataclass
class Listed:
    """A job named in a list section: its number and label, and what happened."""

    job: str
    overrides: str
    status: str
    text: str


@dataclass
class JobList:
    """A section that lists jobs (warned, unfinished): left out of both files when it lists none."""

    anchor: str  # the page's id for it
    heading: str  # comparison.md's heading
    page_heading: str  # report.html's, shorter: it is also the contents' entry
    jobs: list[Listed]
    show_status: bool  # the status before the reason


@dataclass
class Sections:
    comparison: Comparison
    jobs: Table
    configurations: Table | None  # only when some configuration was repeated
    significance: list[str]  # sentences; job labels as Markdown inline code
    lists: list[JobList]  # in both files' order, after the tables and figures


def _sort_value(value: Any) -> str | None:
    if isinstance(value, tuple) and value and isinstance(value[0], int | float):
        return repr(float(value[0]))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(float(value))
    return None


def table(table_id: str, columns: list[tuple[str, str]], rows: list[dict[str, Any]]) -> Table:
    def cell(key: str, row: dict[str, Any]) -> Cell:
        text = status_cell(row) if key == "status" else format_cell(key, row[key])
        return Cell(key, text, _sort_value(row[key]) if key in NUMERIC else None, key in NUMERIC)

    built = [
        Row([cell(k, row) for k, _ in columns], str(row.get("status", "")), row.get("error"), row.get("warnings"))
        for row in rows
    ]
    return Table(table_id, columns, built)


def build_sections(comparison: Comparison) -> Sections:
    rows = job_rows(comparison)
    configurations = table("configurations", GROUP_COLUMNS, group_rows(comparison)) if comparison.groups else None
    warned = listed(rows, "warnings", lambda r: bool(r["warnings"]))
    # Pruned trials apart from failures: the pruner's verdict, not a fault (and left out of the comparisons).
    pruned = listed(rows, "error", lambda r: r["status"] == "pruned")
    unfinished = listed(rows, "error", lambda r: r["status"] not in ("ok", "pruned"))
    chance = f"{WARNING_MARK} Jobs that finished with warnings (at chance)"
    lists = [
        JobList("sec-chance", chance, f"{WARNING_MARK} Jobs near chance", warned, show_status=False),
        JobList(
            "sec-pruned",
            "Trials pruned by Optuna (stopped early, not tested)",
            "Trials pruned by Optuna",
            pruned,
            show_status=False,
        ),
        JobList("sec-unfinished", "Jobs that did not finish", "Jobs that did not finish", unfinished, show_status=True),
    ]
    return Sections(comparison, table("jobs", COLUMNS, rows), configurations, significance_lines(comparison), lists)


def listed(rows: list[dict[str, Any]], why: str, chosen: Callable[[dict[str, Any]], bool]) -> list[Listed]:
    """The chosen job rows as list items, each with its ``why`` column as the reason."""
    return [Listed(r["job"], r["overrides"], r["status"], str(r[why])) for r in rows if chosen(r)]


def significance_lines(comparison: Comparison, limit: int = 12) -> list[str]:
    """What the paired tests found, in sentences (markdown inline code for job names)."""
    rank = {j.run_dir: i for i, j in enumerate(comparison.jobs, 1)}
    by_dir = {j.run_dir: j for j in comparison.jobs}

    def name(run_dir: Path) -> str:
        return f"job {comparison.number(by_dir[run_dir])} `{comparison.label(by_dir[run_dir])}`"

    def listed(dirs: list[Path], text: Any) -> str:
        shown = ", ".join(f"{name(d)} ({text(d)})" for d in dirs[:limit])
        return shown + (f" and {len(dirs) - limit} more (see the table)" if len(dirs) > limit else "")

    lines = []
    for fingerprint, best in comparison.best.items():
        family = [d for d, p in comparison.paired.items() if p.best == str(best)]
        job = by_dir[best]
        lines.append(
            f"Best by validation accuracy on test set {fingerprint}: {name(best)} (val acc {job.val_acc:.4f}, "
            f"test acc {float(job.test['acc']):.4f}). Each of the {len(family)} other jobs tested on the same "
            f"{len(comparison.files.predictions[best]):,} samples is compared with it by McNemar's exact test, "
            f"Holm-corrected over the {len(family)} comparisons at α = {ALPHA}."
        )
        same = sorted((d for d in family if not comparison.paired[d].significant), key=lambda d: rank[d])
        differ = [d for d in family if comparison.paired[d].significant]
        if same:
            adjusted = {d: f"Holm-adjusted p={comparison.paired[d].p_holm:.2g}" for d in same}
            lines.append(f"Not significantly different from the best: {listed(same, adjusted.get)}.")
        lines.append(f"Significantly different from the best: {len(differ)} job{'s' * (len(differ) != 1)}.")
    untested = [j.run_dir for j in comparison.finished if j.run_dir not in comparison.files.predictions]
    if untested:
        lines.append(
            "No paired test (no predictions.npz: a run from an older version, or its file was unreadable): "
            + listed(untested, lambda d: "test acc only")
            + "."
        )
    return lines
