"""The comparison's pictures: parameters vs accuracy, every confusion matrix, per-class F1.

Each figure is drawn from the jobs' results.json records and saved atomically. Jobs without test
results are named in the figure's title rather than silently left out.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from convlab.fileio import atomic_savefig
from convlab.report.compare import Comparison, Job
from convlab.report.confusion import draw_confusion, row_normalize

PARAMS_VS_ACCURACY = "params_vs_accuracy.png"
CONFUSION_MATRICES = "confusion_matrices.png"
PER_CLASS_F1 = "per_class_f1.png"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    return atomic_savefig(fig, path, dpi=110)


def _not_shown(comparison: Comparison, shown: list[Job]) -> str:
    missing = len(comparison.jobs) - len(shown)
    return f"  ({missing} job{'s' * (missing != 1)} without test results not shown)" if missing else ""


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False)) or text


def _empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def params_vs_accuracy(comparison: Comparison, path: Path) -> Path:
    """Parameter count (log scale) against test accuracy: one labelled marker per job; with repeats,
    each configuration's mean ± std as an error bar over its faint individual runs."""
    plt = _pyplot()
    finished = [j for j in comparison.jobs if j.status == "ok" and j.get("params")]
    fig, ax = plt.subplots(figsize=(9, 6), layout="constrained")
    models = sorted({str(j.get("model")) for j in finished})
    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(models)}
    if comparison.groups:
        for g in comparison.groups:
            done = [j for j in g.finished if j.get("params")]
            if not done:
                continue
            mean, std = g.stat("acc")
            colour = colours[str(done[0].get("model"))]
            ax.scatter([j.get("params") for j in done], [j.test["acc"] for j in done], color=colour, alpha=0.3, s=18)
            ax.errorbar(done[0].get("params"), mean, yerr=std, fmt="o", color=colour, capsize=5, markersize=7)
            ax.annotate(
                _wrap(f"{g.label} (n={len(done)})", 40),
                (done[0].get("params"), mean),
                textcoords="offset points",
                xytext=(7, 4),
                fontsize=7,
            )
    else:
        for job in finished:
            x, y = job.get("params"), job.test["acc"]
            ax.scatter([x], [y], color=colours[str(job.get("model"))], s=40, zorder=3)
            ax.annotate(_wrap(comparison.label(job), 40), (x, y), textcoords="offset points", xytext=(7, 4), fontsize=7)
    for model, colour in colours.items():
        ax.scatter([], [], color=colour, label=model)
    if finished:
        ax.set_xscale("log")
        ax.legend(title="model", fontsize=8, loc="lower right")
        lo = min(j.get("params") for j in finished)
        hi = max(j.get("params") for j in finished)
        ax.set_xlim(lo / 2, hi * 4)  # room for the labels right of the markers
    else:
        _empty(ax, "no job finished with test results")
    ax.set_xlabel("trainable parameters (log scale)")
    ax.set_ylabel("test accuracy" + (" (mean ± std over repeats)" if comparison.groups else ""))
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title("parameters vs test accuracy" + _not_shown(comparison, finished), fontsize=10)
    return _save(fig, path)


def confusion_matrices(comparison: Comparison, path: Path) -> Path:
    """Every job's row-normalised confusion matrix in one grid, on one colour scale (0..1)."""
    plt = _pyplot()
    jobs = [j for j in comparison.jobs if j.test.get("confusion_matrix")]
    cols = min(4, max(len(jobs), 1))
    rows = max(math.ceil(len(jobs) / cols), 1)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.4 * rows), layout="constrained", squeeze=False)
    image = None
    for ax, job in zip(axes.flat, jobs, strict=False):
        names = [str(c)[:10] for c in job.get("class_names")]
        title = _wrap(f"{comparison.label(job)}  acc {job.test['acc']:.3f}", 46)
        image = draw_confusion(ax, row_normalize(job.test["confusion_matrix"]), names, title, ".2f", vmax=1.0)
    for ax in list(axes.flat)[len(jobs) :]:
        ax.set_axis_off()
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.6, label="fraction of the true class")
    else:
        _empty(axes.flat[0], "no job finished with test results")
    title = "row-normalised test confusion matrices (rows: true, columns: predicted)"
    fig.suptitle(title + _not_shown(comparison, jobs))
    return _save(fig, path)


def per_class_f1(comparison: Comparison, path: Path) -> Path:
    """Heatmap of per-class F1: one row per job, one column per class (one panel per set of classes)."""
    plt = _pyplot()
    jobs = [j for j in comparison.jobs if j.test.get("per_class")]
    by_classes: dict[tuple[str, ...], list[Job]] = {}
    for job in jobs:
        by_classes.setdefault(tuple(map(str, job.get("class_names"))), []).append(job)
    panels = list(by_classes.items()) or [((), [])]
    heights = [max(len(js), 1) * 0.45 + 1.6 for _, js in panels]
    width = max(8.0, 0.6 * max(len(c) for c, _ in panels) + 4)
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(width, sum(heights)), layout="constrained", squeeze=False, height_ratios=heights
    )
    for ax, (classes, group) in zip(axes.flat, panels, strict=True):
        if not group:
            _empty(ax, "no job finished with test results")
            continue
        f1 = np.array([job.test["per_class"]["f1"] for job in group], dtype=float)
        image = ax.imshow(f1, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(classes)), [c[:12] for c in classes], rotation=45, ha="right", fontsize=8)
        ax.set_xlabel("class")
        ax.set_yticks(range(len(group)), [_wrap(comparison.label(j), 60) for j in group], fontsize=7)
        for (i, k), v in np.ndenumerate(f1):
            ax.text(k, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color="black" if v > 0.6 else "white")
        fig.colorbar(image, ax=ax, label="F1")
    fig.suptitle("per-class test F1 (rows: jobs, best accuracy first)" + _not_shown(comparison, jobs), fontsize=10)
    return _save(fig, path)


PLOTS = {PARAMS_VS_ACCURACY: params_vs_accuracy, CONFUSION_MATRICES: confusion_matrices, PER_CLASS_F1: per_class_f1}
