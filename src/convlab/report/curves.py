"""Learning curves from each run's history.csv: train and validation loss and accuracy per epoch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from convlab.report import figures  # figures.save: tests look inside each figure
from convlab.report.compare import Comparison, Group
from convlab.report.figures import Picture, pyplot, wrap

LEARNING_CURVES = "learning_curves.png"
COLOURED = 8  # configurations with their own colour and legend entry; the rest are thin grey lines
FEW_POINTS = 5  # epochs up to which each point is also marked: one point is no line, and a short line hides its points
PANELS = (("train_loss", "train loss"), ("val_loss", "validation loss"), ("train_acc", "train accuracy"),
          ("val_acc", "validation accuracy"))  # fmt: skip


def _series(rows: list[dict], metric: str) -> dict[int, float]:
    return {int(r["epoch"]): float(r[metric]) for r in rows if r.get("epoch") is not None and r.get(metric) is not None}


def _band(histories: list[list[dict]], metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Epochs, and the mean, min and max over the repeats that reached each epoch."""
    per_run = [_series(rows, metric) for rows in histories]
    epochs = np.array(sorted({e for s in per_run for e in s}))
    values = [[s[e] for s in per_run if e in s] for e in epochs]
    return epochs, *(np.array([f(v) for v in values]) for f in (np.mean, np.min, np.max))


def _pairs(items: list) -> list[list]:
    """The legend's rows: two entries side by side."""
    return [items[i : i + 2] for i in range(0, len(items), 2)]


def learning_curves(comparison: Comparison, out_dir: Path) -> list[Picture]:
    """Four panels; a line per configuration (mean over repeats, min–max band) or per job. None without history."""
    units: list[tuple[Group, list[list[dict]]]] = []
    for g in comparison.units():
        histories = [comparison.files.histories.get(j.run_dir) for j in g.finished]
        if any(histories):
            units.append((g, [h for h in histories if h]))
    if not units:
        return []
    # Best validation accuracy first: those get the colours, the legend and the top of the draw order.
    units.sort(key=lambda u: -(u[0].val_mean if u[0].val_mean is not None else -1.0))
    plt = pyplot()
    labels = {id(g): wrap(f"{g.label} (n={len(h)})" if len(h) > 1 else g.label, 70) for g, h in units[:COLOURED]}
    legend_lines = sum(max(labels[id(g)].count("\n") + 1 for g, _ in pair) for pair in _pairs(units[:COLOURED]))
    height = 6.6 + 0.16 * legend_lines
    fig, axes = plt.subplots(2, 2, figsize=(11, height), sharex=True)
    # Fixed margins (the legend's rows below): constrained layout costs a second per figure at 300 runs.
    fig.subplots_adjust(left=0.06, right=0.98, top=1 - 0.55 / height, bottom=(1.0 + 0.16 * legend_lines) / height)
    fig.subplots_adjust(hspace=0.22, wspace=0.15)
    axes.flat[0].xaxis.set_major_locator(plt.MaxNLocator(integer=True, min_n_ticks=1))  # epochs: no 0.98, 1.02
    for ax, (metric, title) in zip(axes.flat, PANELS, strict=True):
        for rank, (g, histories) in reversed(list(enumerate(units))):
            epochs, mean, low, high = _band(histories, metric)
            if not len(epochs):
                continue
            coloured = rank < COLOURED
            colour = plt.get_cmap("tab10")(rank % 10) if coloured else "0.7"
            marker = {"marker": "o", "ms": 5 if coloured else 3} if len(epochs) <= FEW_POINTS else {}
            label = labels[id(g)] if coloured else None
            ax.plot(epochs, mean, color=colour, lw=1.6 if coloured else 0.7, label=label, **marker)
            if len(histories) > 1 and coloured and len(epochs) > 1:
                ax.fill_between(epochs, low, high, color=colour, alpha=0.15, lw=0)
            elif len(histories) > 1 and coloured:  # one epoch: the min–max band is a bar
                ax.vlines(epochs, low, high, color=colour, alpha=0.5, lw=2)
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("epoch")
    handles, names = axes.flat[-1].get_legend_handles_labels()
    fig.legend(handles[::-1], names[::-1], loc="lower center", ncols=2, fontsize=7, frameon=False)
    repeats = "mean over repeats, band: min–max" if comparison.groups else "one line per job"
    fig.suptitle(f"learning curves ({repeats})", fontsize=10)
    path = figures.save(fig, out_dir / LEARNING_CURVES)
    grey = len(units) - COLOURED
    without = len(comparison.finished) - sum(len(h) for _, h in units)
    caption = (
        "Loss and accuracy per epoch on the training and validation sets, from each run's history.csv; "
        f"the {min(COLOURED, len(units))} best by validation accuracy in colour"
        + (f", the other {grey} in grey" if grey > 0 else "")
        + "."
        + (f" {without} finished run{'s' * (without != 1)} without a history.csv (older versions) not drawn."
           if without else "")
    )  # fmt: skip
    return [Picture(path, caption, "curves")]
