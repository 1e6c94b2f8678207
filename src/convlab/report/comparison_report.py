"""Write the whole comparison report: tables, pictures and report.html, each file atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from convlab.fileio import atomic_write_text
from convlab.report.compare import build_comparison, collect_jobs, groups_to_csv, to_csv, to_markdown
from convlab.report.html import report_html
from convlab.report.plots import PLOTS

REPORT_HTML = "report.html"


def write_comparison_report(sources: Sequence[str | Path], out_dir: str | Path) -> dict[str, Path]:
    """Compare every job in ``sources`` (sweep dirs, run dirs, results.json files) into ``out_dir``.

    Bad sources raise ConvlabError before anything is written. Returns the written files by name.
    """
    comparison = build_comparison(collect_jobs(sources), [Path(s) for s in sources])
    out_dir = Path(out_dir)
    written: dict[str, Path] = {}
    written["comparison.csv"] = atomic_write_text(out_dir / "comparison.csv", to_csv(comparison))
    if comparison.groups:
        name = "comparison_by_configuration.csv"
        written[name] = atomic_write_text(out_dir / name, groups_to_csv(comparison))
    images = {name: draw(comparison, out_dir / name) for name, draw in PLOTS.items()}
    written["comparison.md"] = atomic_write_text(out_dir / "comparison.md", to_markdown(comparison, list(images)))
    written.update(images)
    written[REPORT_HTML] = atomic_write_text(out_dir / REPORT_HTML, report_html(comparison, images))
    return written
