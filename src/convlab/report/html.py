"""report.html: the comparison's sections and pictures in one self-contained page that opens from disk.

The page is the Jinja2 template report.html.j2 beside this module; its style sheet (report.css) and the few lines
that sort a table by a clicked column header (sort_table.js) are files of their own, inlined into the page, and
images are embedded as base64 data URIs: no file or network fetch. All three ship as package data.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib.resources import files

from jinja2 import Environment, StrictUndefined, Template

from convlab.report.figures import Picture
from convlab.report.sections import Sections

TEMPLATE, STYLE, SCRIPT = "report.html.j2", "report.css", "sort_table.js"
# (anchor, heading), in the page's order, the lists of jobs (sections.JobList) and the notes last; a section without
# content is left out of page and contents.
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
]
FIGURE_SECTIONS = ("curves", "cost", "hyperparameters", "confusion", "per_class", "mistakes")
FOLD_JOBS_ABOVE = 40  # jobs in a sweep with repeats; more are folded under their configurations' table


@dataclass
class Figure:
    """A picture as the page embeds it."""

    caption: str
    file: str
    data: str  # base64 of the PNG
    folded: bool


def _resource(name: str) -> str:
    """A file shipped beside this module (package data: found in a non-editable install too)."""
    return files("convlab.report").joinpath(name).read_text(encoding="utf-8")


@cache
def _template() -> Template:
    return Environment(autoescape=True, undefined=StrictUndefined).from_string(_resource(TEMPLATE))


def _inline_code(sentence: str) -> list[str]:
    """A sentence with Markdown's `code` as its pieces: text, code, text, ... (the page sets code as <code>)."""
    return re.split(r"`([^`]*)`", sentence)


def _figure(picture: Picture) -> Figure:
    data = base64.b64encode(picture.path.read_bytes()).decode("ascii")
    return Figure(picture.caption, picture.path.name, data, picture.folded)


def report_html(sections: Sections, pictures: Sequence[Picture]) -> str:
    comparison = sections.comparison
    figures = {f"sec-{s}": [_figure(p) for p in pictures if p.section == s] for s in FIGURE_SECTIONS}
    notes = [*comparison.notes, *comparison.figure_notes]
    present = {
        "sec-configurations": sections.configurations is not None,
        "sec-jobs": True,
        "sec-significance": bool(sections.significance),
        **{anchor: bool(chosen) for anchor, chosen in figures.items()},
    }
    shown = [(anchor, heading) for anchor, heading in SECTIONS if present[anchor]]
    shown += [(jl.anchor, jl.page_heading) for jl in sections.lists if jl.jobs]
    shown += [("sec-notes", "Notes")] if notes else []
    page = _template().render(
        title=f"convlab comparison: {', '.join(p.name for p in comparison.sources) or 'runs'}",
        generated=f"{datetime.now():%Y-%m-%d %H:%M:%S}",
        comparison=comparison,
        sections=sections,
        significance=[_inline_code(s) for s in sections.significance],
        fold_jobs=bool(comparison.groups) and len(sections.jobs.rows) > FOLD_JOBS_ABOVE,  # configurations first
        figures=figures,
        notes=notes,
        job_lists={jl.anchor: jl for jl in sections.lists},
        shown=shown,
        style=_resource(STYLE),
        script=_resource(SCRIPT),
    )
    return page + "\n"
