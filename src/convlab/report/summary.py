"""What a run prints on the terminal: the header before training, the result block after it, and the one
line per job of a sweep. Paths and commands are never wrapped or cut, whatever the terminal's width (Rich
cuts lines at 80 columns when stdout is a pipe or a file)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from convlab.report.chance import WARNING_MARK, run_warnings
from convlab.report.confusion import row_normalize

LABEL_WIDTH = 14


def print_fields(console: Console, rows: list[tuple[str, str | Text]]) -> None:
    """``label  value`` lines, labels aligned; a value is printed whole, never wrapped or cropped."""
    for label, value in rows:
        line = Text.assemble((f"{label:<{LABEL_WIDTH}}", "bold"), " ", value)
        console.print(line, soft_wrap=True, crop=False, highlight=False)


def describe_line(record: dict[str, Any]) -> str:
    return f"dataset={record['dataset']} model={record['model']} optim={record['optim']} loss={record['loss']}"


def print_header(record: dict[str, Any], console: Console | None = None) -> None:
    """Before training: what runs and where its files go."""
    console = console or Console()
    rows: list[tuple[str, str | Text]] = [("convlab train", describe_line(record))]
    overrides = " ".join(record.get("overrides") or [])
    if overrides:
        rows.append(("overrides", overrides))
    if record.get("resumed_from"):
        rows.append(("resumed from", str(record["resumed_from"])))
    rows.append(("run dir", f"{record['run_dir']}  (results.json, train.log, model_summary.txt)"))
    print_fields(console, rows)


def status_rows(record: dict[str, Any]) -> list[tuple[str, str | Text]]:
    """The status line, the warnings of a run at chance, and how to resume an interrupted run."""
    status = record["status"]
    if status == "ok":
        rows: list[tuple[str, str | Text]] = [("status", Text("ok", style="green"))]
    elif status == "interrupted":
        rows = [("status", Text(f"interrupted: {record.get('error', '')}", style="bold yellow"))]
    else:
        rows = [("status", Text(f"{status}: {record.get('error', '')}", style="bold red"))]
    rows += [("warning", Text(f"{WARNING_MARK} {w}", style="bold yellow")) for w in run_warnings(record)]
    if status == "interrupted":
        rows.append(("resume", record.get("resume_command") or "no checkpoint to resume from: run it again"))
    return rows


def print_summary(results: dict[str, Any], console: Console | None = None) -> None:
    """Model, parameters, test accuracy, macro F1 and the confusion matrix with class names."""
    console = console or Console()
    rows: list[tuple[str, str | Text]] = [("run", describe_line(results))]
    if results.get("params") is not None:
        rows.append(("parameters", f"{results['params']:,}"))
    if results.get("train_seconds") is not None:
        epochs = f"{results['epochs']} epoch{'s' * (results['epochs'] != 1)}"
        speed = f"{results.get('samples_per_second') or 0:,.0f} samples/s"
        steps = f"{results.get('steps', 0)} steps"
        rows.append(("training", f"{epochs}, {steps} in {results['train_seconds']:.1f} s ({speed})"))
    rows += status_rows(results)
    test = results.get("test")
    if test:
        interval = test.get("acc_ci95")  # Wilson's, recorded by the run (older records have none)
        shown = f"; 95% CI {interval[0]:.4f}-{interval[1]:.4f}" if interval else ""
        rows.append(
            ("test accuracy", Text(f"{test['acc']:.4f}  ({test.get('samples', '?')} samples{shown})", style="bold"))
        )
        rows.append(("macro F1", f"{test['f1_macro']:.4f}"))
        rows.append(("test loss", f"{test['loss']:.4f}"))
    if results.get("run_dir"):
        rows.append(("run dir", str(results["run_dir"])))
    print_fields(console, rows)
    if test:
        console.print(confusion_table(test["confusion_matrix"], results["class_names"]))


def confusion_table(cm: list[list[int]], class_names: list[str]) -> Table:
    """Counts, rows = true class, columns = predicted; the last column is per-class recall."""
    recall = row_normalize(cm).diagonal()
    table = Table(title="confusion matrix (rows: true, columns: predicted)", title_justify="left")
    table.add_column("true \\ pred", style="bold")
    for name in class_names:
        table.add_column(name[:9], justify="right")
    table.add_column("recall", justify="right")
    for i, (name, row) in enumerate(zip(class_names, cm, strict=True)):
        cells = [f"[bold green]{v}[/]" if i == j else (str(v) if v else "[dim]0[/]") for j, v in enumerate(row)]
        table.add_row(name, *cells, f"{recall[i]:.3f}")
    return table


def terminal_console() -> Console:
    """The console of a run's own output. Field lines are never cut (print_fields); tables get Rich's width."""
    return Console()


def plain_text(draw: Callable[[Console], None]) -> str:
    """What ``draw`` prints, as plain text without colours or width limit: the copy of the summary in train.log."""
    buffer = io.StringIO()
    draw(Console(file=buffer, width=160, no_color=True, force_terminal=False, highlight=False))
    return buffer.getvalue().rstrip()


def job_line(record: dict[str, Any] | None, job_dir: str | Path, seconds: float) -> str:
    """A sweep job's one line as it finishes: status, test accuracy (or MSE), time, job directory, and what
    went wrong or looks wrong."""
    record = record or {}
    status = str(record.get("status", "failed"))
    test = record.get("test") or {}
    if isinstance(test.get("acc"), (int, float)):
        score = f"test acc {test['acc']:.4f}"
    elif isinstance(test.get("mse"), (int, float)):
        score = f"test mse {test['mse']:.2e}"
    else:
        score = "test acc    –  "
    line = f"{status:<11} {score}  {seconds:7.1f} s  {job_dir}"
    warnings = run_warnings(record)
    if warnings:
        line += f"  {WARNING_MARK} " + "; ".join(warnings)
    if status != "ok" and record.get("error"):
        line += f"  ({record['error']})"
    return line
