"""What a run prints on the terminal: the header before training, the result block after it (a classifier's
figures or a filter run's kernel), and the one line per job of a sweep. Paths and commands are never wrapped or
cut, whatever the terminal's width (Rich cuts lines at 80 columns when stdout is a pipe or a file)."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from convlab.config.runtime import in_multirun
from convlab.report.chance import WARNING_MARK, run_warnings
from convlab.report.confusion import row_normalize
from convlab.runfiles.results import RunRecord

log = logging.getLogger(__name__)

LABEL_WIDTH = 14


class Terminal:
    """A job's screen (convlab.run.train.Screen): a single run shows its header and result block; a sweep's job
    shows nothing itself (convlab.cli.job prints its one line). Either way train.log gets the block's plain copy."""

    def __init__(self) -> None:
        # Field lines are never cut (print_fields); tables get Rich's width.
        self.console = None if in_multirun() else Console()
        self.interactive = self.console is not None

    def header(self, record: RunRecord) -> None:
        if self.console is not None:
            print_header(record, self.console)

    def result(self, record: RunRecord) -> None:
        log.info("summary\n%s", plain_text(lambda c: print_result(record, c)))  # train.log's copy
        if self.console is not None:
            print_result(record, self.console)


def print_fields(console: Console, rows: list[tuple[str, str | Text]]) -> None:
    """``label  value`` lines, labels aligned; a value is printed whole, never wrapped or cropped."""
    for label, value in rows:
        line = Text.assemble((f"{label:<{LABEL_WIDTH}}", "bold"), " ", value)
        console.print(line, soft_wrap=True, crop=False, highlight=False)


def describe_line(record: RunRecord) -> str:
    return f"dataset={record['dataset']} model={record['model']} optim={record['optim']} loss={record['loss']}"


def print_header(record: RunRecord, console: Console) -> None:
    """Before training: what runs and where its files go."""
    rows: list[tuple[str, str | Text]] = [("convlab train", describe_line(record))]
    overrides = " ".join(record.get("overrides") or [])
    if overrides:
        rows.append(("overrides", overrides))
    if record.get("resumed_from"):
        rows.append(("resumed from", str(record["resumed_from"])))
    rows.append(("run dir", f"{record['run_dir']}  (results.json, train.log, model_summary.txt)"))
    print_fields(console, rows)


def status_rows(record: RunRecord) -> list[tuple[str, str | Text]]:
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


def print_summary(results: RunRecord, console: Console) -> None:
    """Model, parameters, test accuracy, macro F1 and the confusion matrix with class names."""
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


def print_result(record: RunRecord, console: Console | None = None) -> None:
    """The end-of-run block of the run's kind: a filter run's kernel, else the classifier's figures."""
    (print_filter_summary if record.get("task") == "filter" else print_summary)(record, console or Console())


def kernel_table(learned: Sequence[Sequence[float]], target: Sequence[Sequence[float]]) -> str:
    """Learned kernel, target and their difference side by side, then max |learned - target|."""
    a, b = np.asarray(learned, dtype=float), np.asarray(target, dtype=float)
    diff = a - b
    width = 2 + 9 * a.shape[1]

    def row(values: np.ndarray, fmt: str) -> str:
        return "".join(format(v, fmt).rjust(9) for v in values).ljust(width)

    lines = ["learned".ljust(width) + "target".ljust(width) + "learned - target"]
    for i in range(a.shape[0]):
        lines.append(row(a[i], ".4f") + row(b[i], ".4f") + row(diff[i], ".1e"))
    lines.append(f"max |learned - target| = {np.abs(diff).max():.2e}")
    return "\n".join(lines)


def print_filter_summary(record: RunRecord, console: Console) -> None:
    filt = record.get("filter") or {}
    rows: list[tuple[str, str | Text]] = [("run", describe_line(record))]
    shape = record.get("image_shape")
    image = f"{record.get('image')} ({shape[0]}x{shape[1]})" if shape else str(record.get("image"))
    rows.append(("image", f"{image}, target kernel {filt.get('target_name', '?')}"))
    if filt.get("steps") is not None:
        rows.append(("training", f"{filt['steps']} steps in {filt['seconds']:.1f} s"))
    rows += status_rows(record)
    if filt.get("mse") is not None:
        reached = filt.get("steps_to_mse_goal")
        goal = f"<= {filt['mse_goal']:g} " + (f"from step {reached} on" if reached is not None else "not reached")
        rows.append(("final MSE", Text.assemble((f"{filt['mse']:.3e}", "bold"), f"  ({goal})")))
    if filt.get("held_out_mse") is not None:
        held_out = (record.get("test") or {}).get("held_out", {}).get("image")
        rows.append(("held-out MSE", f"{filt['held_out_mse']:.3e}  (the learned kernel on {held_out})"))
    if record.get("run_dir"):
        rows.append(("run dir", str(record["run_dir"])))
    print_fields(console, rows)
    if filt.get("kernel") is not None:
        console.print(kernel_table(filt["kernel"], filt["target"]), markup=False, highlight=False, soft_wrap=True)


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


def plain_text(draw: Callable[[Console], None]) -> str:
    """What ``draw`` prints, as plain text without colours or width limit: the copy of the summary in train.log."""
    buffer = io.StringIO()
    draw(Console(file=buffer, width=160, no_color=True, force_terminal=False, highlight=False))
    return buffer.getvalue().rstrip()


def job_line(record: RunRecord | None, job_dir: str | Path, seconds: float) -> str:
    """A sweep job's one line as it finishes: status, test accuracy (or MSE), time, job directory, and what
    went wrong or looks wrong."""
    record = record or {}
    status = str(record.get("status", "failed"))
    test = record.get("test") or {}
    if isinstance(test.get("acc"), (int, float)):
        score = f"test acc {test['acc']:.4f}"
    elif isinstance(test.get("mse"), (int, float)):
        score = f"test mse {test['mse']:.2e}"
    elif status == "pruned" and isinstance((record.get("val") or {}).get("acc"), (int, float)):
        score = f"val acc  {record['val']['acc']:.4f}"  # not tested: the accuracy the pruner judged
    else:
        score = "test acc    –  "
    line = f"{status:<11} {score}  {seconds:7.1f} s  {job_dir}"
    warnings = run_warnings(record)
    if warnings:
        line += f"  {WARNING_MARK} " + "; ".join(warnings)
    if status != "ok" and record.get("error"):
        line += f"  ({record['error']})"
    if status == "pruned":
        line += f"  (after {record.get('pruned_after_epochs')} epochs)"
    return line
