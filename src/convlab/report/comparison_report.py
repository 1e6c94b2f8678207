"""Write the whole comparison report: tables, pictures and report.html, each file atomically."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from convlab.fileio import atomic_write_text
from convlab.report.compare import Comparison, build_comparison, collect_jobs, groups_to_csv, to_csv
from convlab.report.cost import cost_figures
from convlab.report.curves import learning_curves
from convlab.report.figures import Picture
from convlab.report.html import report_html
from convlab.report.hyperparams import hyperparameter_figures
from convlab.report.markdown import to_markdown
from convlab.report.mistakes_gallery import mistake_galleries
from convlab.report.plots import confusion_matrices, params_vs_accuracy, per_class_f1
from convlab.report.sections import build_sections

REPORT_HTML = "report.html"
# In the page's order; each returns the pictures it wrote (none when the runs hold nothing to draw).
FIGURES: list[Callable[[Comparison, Path], list[Picture]]] = [
    learning_curves,
    params_vs_accuracy,
    cost_figures,
    hyperparameter_figures,
    confusion_matrices,
    per_class_f1,
    mistake_galleries,
]


def warn(message: str) -> None:
    """One line on stderr per unreadable run file: the report is written for what is whole."""
    print(f"convlab: warning: {message}", file=sys.stderr, flush=True)


def write_comparison_report(
    sources: Sequence[str | Path], out_dir: str | Path, comparison: Comparison | None = None
) -> dict[str, Path]:
    """Compare every job in ``sources`` (sweep dirs, run dirs, results.json files) into ``out_dir``.

    Bad sources raise ConvlabError before anything is written; an unreadable history.csv or predictions.npz
    is a warning on stderr (and on the page), the run stays in without what that file holds. Returns the
    written files by name. ``comparison``: the one a caller built from ``sources`` already (read once).
    """
    if comparison is None:
        comparison = build_comparison(collect_jobs(sources), [Path(s) for s in sources])
    for problem in comparison.files.problems:
        warn(problem)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    written["comparison.csv"] = atomic_write_text(out_dir / "comparison.csv", to_csv(comparison))
    if comparison.groups:
        name = "comparison_by_configuration.csv"
        written[name] = atomic_write_text(out_dir / name, groups_to_csv(comparison))
    pictures = [picture for draw in FIGURES for picture in draw(comparison, out_dir)]
    names = [str(p.path.relative_to(out_dir)) for p in pictures if not p.folded]
    sections = build_sections(comparison)  # each section once, for both comparison.md and report.html
    written["comparison.md"] = atomic_write_text(out_dir / "comparison.md", to_markdown(sections, names))
    written.update({str(p.path.relative_to(out_dir)): p.path for p in pictures})
    written[REPORT_HTML] = atomic_write_text(out_dir / REPORT_HTML, report_html(sections, pictures))
    return written
