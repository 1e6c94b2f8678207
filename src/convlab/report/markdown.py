"""comparison.md: the report's sections (convlab.report.sections) as Markdown, for a terminal or a repository."""

from __future__ import annotations

from collections.abc import Sequence

from convlab.report.compare import NUMERIC
from convlab.report.sections import Sections, Table


def _md_table(table: Table) -> list[str]:
    def escaped(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(h for _, h in table.columns) + " |"]
    lines.append("|" + "|".join("---:" if k in NUMERIC else "---" for k, _ in table.columns) + "|")
    lines += ["| " + " | ".join(escaped(c.text) for c in row.cells) + " |" for row in table.rows]
    return lines


def to_markdown(sections: Sections, images: Sequence[str] = ()) -> str:
    comparison, rows = sections.comparison, sections.jobs.rows
    lines = [f"# Comparison of {len(rows)} job{'s' * (len(rows) != 1)}", ""]
    lines += [f"Sources: {', '.join(str(s) for s in comparison.sources)}", ""] if comparison.sources else []
    if comparison.common:
        lines += [f"Common to every job: `{' '.join(comparison.common)}`", ""]
    lines += [f"- warning: {problem}" for problem in comparison.files.problems]
    lines += [""] if comparison.files.problems else []
    if sections.configurations:
        lines += ["## Per configuration, over repeats (mean ± sample std, 95% t-interval of the mean)", ""]
        lines += [*_md_table(sections.configurations), ""]
    lines += ["## Per job (test accuracy with its 95% Wilson interval)", ""]
    lines += [*_md_table(sections.jobs), ""]
    if sections.significance:
        lines += ["## Which differences are real", ""]
        lines += [line for sentence in sections.significance for line in (sentence, "")]  # a paragraph each
    for job_list in (jl for jl in sections.lists if jl.jobs):
        lines += [f"## {job_list.heading}", ""]
        status = "**{}**: " if job_list.show_status else ""
        lines += [f"- job {r.job} `{r.overrides}`: {status.format(r.status)}{r.text}" for r in job_list.jobs] + [""]
    lines += [f"- {note}" for note in comparison.notes] + ([""] if comparison.notes else [])
    lines += [f"![{name}]({name})" for name in images]
    return "\n".join(lines).rstrip() + "\n"
