"""``python scripts/compare.py SOURCE ... [--out DIR]``: the comparison report on demand."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from convlab.cli.exit import fail
from convlab.config.resolvers import claim_unique_dir
from convlab.config.runtime import invocation, remember_invocation
from convlab.errors import ConvlabError
from convlab.report.compare import build_comparison, collect_jobs
from convlab.report.comparison_report import REPORT_HTML, write_comparison_report
from convlab.runfiles.results import RESULTS_NAME


def default_out_dir(sources: list[Path]) -> Path:
    """A single sweep directory gets its report inside it; anything else a new outputs/comparisons/<stamp>."""
    if len(sources) == 1 and sources[0].is_dir() and not (sources[0] / RESULTS_NAME).exists():
        return sources[0]
    return Path(claim_unique_dir(f"outputs/comparisons/{datetime.now():%Y-%m-%d_%H-%M-%S}_compare"))


def main(argv: list[str] | None = None) -> None:
    """``argv``: the arguments after the command (default: this process's)."""
    argv = sys.argv[1:] if argv is None else argv
    remember_invocation("compare", argv)  # --help and errors name the command as the user typed it
    parser = argparse.ArgumentParser(
        prog=invocation("compare"),
        description="Compare runs from their results.json, history.csv and predictions.npz: comparison.csv/.md, "
        "figures (learning curves, cost, hyperparameters, confusion matrices, mistakes) and a self-contained "
        "report.html. An unreadable history.csv or predictions.npz is a warning; the report is still written.",
    )
    parser.add_argument("sources", nargs="+", type=Path, help="sweep directories, run directories or results.json")
    parser.add_argument(
        "--out",
        type=Path,
        help="where to write (default: the sweep directory when given one, "
        "else a new outputs/comparisons/<date>_<time>_compare)",
    )
    args = parser.parse_args(argv)
    try:
        # Every source read once, and checked, before a directory is made.
        comparison = build_comparison(collect_jobs(args.sources), args.sources)
        out_dir = args.out or default_out_dir(args.sources)
        if out_dir.exists() and not out_dir.is_dir():
            raise ConvlabError(f"--out {out_dir}: exists and is not a directory")
        written = write_comparison_report(args.sources, out_dir, comparison)
    except ConvlabError as e:
        fail(str(e))
    for path in written.values():
        print(path)
    print(f"open {written[REPORT_HTML]}")
