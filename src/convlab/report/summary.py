"""The readable end-of-run summary printed to the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from convlab.report.confusion import row_normalize


def print_summary(results: dict[str, Any], console: Console | None = None) -> None:
    """Model, parameters, test accuracy, macro F1 and the confusion matrix with class names."""
    console = console or Console()
    status = results["status"]
    head = Table(show_header=False, box=None, pad_edge=False)
    head.add_row(
        "run",
        f"dataset={results['dataset']} model={results['model']} optim={results['optim']} loss={results['loss']}",
    )
    if results.get("params") is not None:
        head.add_row("parameters", f"{results['params']:,}")
    if results.get("train_seconds") is not None:
        epochs = f"{results['epochs']} epoch{'s' * (results['epochs'] != 1)}"
        head.add_row(
            "training",
            f"{epochs} in {results['train_seconds']:.1f} s ({results.get('samples_per_second') or 0:,.0f} samples/s)",
        )
    head.add_row("status", status if status == "ok" else f"[bold red]{status}[/]: {results.get('error', '')}")
    test = results.get("test")
    if test:
        head.add_row("test accuracy", f"[bold]{test['acc']:.4f}[/]  ({test.get('samples', '?')} samples)")
        head.add_row("macro F1", f"{test['f1_macro']:.4f}")
        head.add_row("test loss", f"{test['loss']:.4f}")
    if results.get("run_dir"):
        head.add_row("run dir", str(results["run_dir"]))
    console.print(head)
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
