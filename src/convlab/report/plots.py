"""The comparison's pictures of results.json: accuracy against a cost, confusion matrices, per-class F1.

With repeats, a configuration is one point or image (mean ± std, or summed counts); without, a job is.
Jobs a figure cannot show are counted in its caption rather than silently left out.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from convlab.report import figures  # figures.save: tests look inside each figure
from convlab.report.compare import Comparison, Group, Job
from convlab.report.confusion import draw_confusion, row_normalize
from convlab.report.figures import Picture, empty, pyplot, wrap
from convlab.report.labels import place_labels

PARAMS_VS_ACCURACY = "params_vs_accuracy.png"
PER_CLASS_F1 = "per_class_f1.png"
SHOWN_CONFIGURATIONS = 6  # confusion matrices drawn in full; the rest are small heatmaps, folded away
LABELLED_POINTS = 8  # scatter labels for the best few; the table names the rest


def accuracy_scatter(
    comparison: Comparison,
    x_of: Callable[[Job], float | None],
    xlabel: str,
    title: str,
    path: Path,
    log_x: bool = True,
) -> tuple[Path, int]:
    """Test accuracy against a per-job number: faint runs and mean ± std per configuration (or a point per job),
    coloured by model, the best few labelled. Returns the path and how many finished jobs lacked the number."""
    plt = pyplot()
    units = [(g, [j for j in g.finished if x_of(j)]) for g in comparison.units()]
    units = [(g, done) for g, done in units if done]
    shown = sum(len(done) for _, done in units)
    fig, ax = plt.subplots(figsize=(9, 5.5))
    fig.subplots_adjust(left=0.08, right=0.84, bottom=0.1, top=0.93)  # fixed: labels are placed once
    models = sorted({str(j.get("model")) for _, done in units for j in done})
    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(models)}
    points, runs, means = [], [], []  # runs: (x, acc, colour) of repeats; means: (x, mean, std, colour)
    for g, done in units:
        xs = [float(x_of(j)) for j in done]
        accs = [float(j.test["acc"]) for j in done]
        colour = colours[str(done[0].get("model"))]
        x, mean = float(np.mean(xs)), float(np.mean(accs))
        runs += [(xi, ai, colour) for xi, ai in zip(xs, accs, strict=True)] if len(done) > 1 else []
        means.append((x, mean, float(np.std(accs, ddof=1)) if len(done) > 1 else 0.0, colour))
        points.append((x, mean, wrap(g.label + (f" (n={len(done)})" if len(done) > 1 else ""), 40)))
    # One collection per kind of mark: hundreds of separate artists would make the figure slow to draw.
    if runs:
        x, y, c = zip(*runs, strict=True)
        ax.scatter(x, y, c=list(c), alpha=0.25, s=12)
    for colour in colours.values():
        mine = [m for m in means if m[3] == colour]
        if mine:
            x, y, err, _ = zip(*mine, strict=True)
            ax.errorbar(x, y, yerr=err if any(err) else None, fmt="o", color=colour, capsize=4, markersize=6)
    if units:
        if log_x:
            ax.set_xscale("log")
        for model, colour in colours.items():
            ax.scatter([], [], color=colour, label=model)
        ax.legend(title="model", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        ax.margins(x=0.25, y=0.12)  # room for labels beside the outermost points
    else:
        empty(ax, "no finished job records this number")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy" + (" (mean ± std over repeats)" if comparison.groups else ""))
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title, fontsize=10)
    if units:
        place_labels(ax, sorted(points, key=lambda p: -p[1])[:LABELLED_POINTS])
    return figures.save(fig, path), len(comparison.finished) - shown


def left_out(count: int, what: str) -> str:
    return f" {count} finished job{'s' * (count != 1)} without {what} left out." if count else ""


def params_vs_accuracy(comparison: Comparison, out_dir: Path) -> list[Picture]:
    path, missing = accuracy_scatter(
        comparison,
        lambda j: j.get("params"),
        "trainable parameters (log scale)",
        "parameters vs test accuracy",
        out_dir / PARAMS_VS_ACCURACY,
    )
    caption = "Test accuracy against model size; the best configurations are labelled." + left_out(missing, "params")
    return [Picture(path, caption, "cost")]


def summed_confusion(group: Group) -> np.ndarray | None:
    """A configuration's test confusion counts summed over its finished repeats (one job: its own)."""
    matrices = [np.asarray(j.test["confusion_matrix"]) for j in group.finished if j.test.get("confusion_matrix")]
    if not matrices or len({m.shape for m in matrices}) != 1:
        return None
    return np.sum(matrices, axis=0)


def confusion_matrices(comparison: Comparison, out_dir: Path) -> list[Picture]:
    """One image per configuration (job, without repeats): the best few in full with their numbers, the rest
    as small heatmaps folded away. Row-normalised, one colour scale (0..1)."""
    plt = pyplot()
    ranked = sorted(comparison.units(), key=lambda g: -(g.stat("acc")[0] or -1.0))
    pictures = []
    for rank, g in enumerate((g for g in ranked if summed_confusion(g) is not None), 1):
        normalised = row_normalize(summed_confusion(g))
        names = [str(c)[:10] for c in g.finished[0].get("class_names") or range(len(normalised))]
        runs = f", summed over {len(g.finished)} runs" if len(g.finished) > 1 else ""
        caption = f"#{rank} {g.label}: test accuracy {g.stat('acc')[0]:.4f}{runs}"
        path = out_dir / "confusion" / f"{rank:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if rank <= SHOWN_CONFIGURATIONS:
            n = len(names)
            side = max(3.4, 0.3 * n + 1.4)
            fig, ax = plt.subplots(figsize=(side, side + 0.3))
            fig.subplots_adjust(left=0.17, right=0.97, bottom=0.14, top=0.92)  # fixed: cheaper than constrained
            upright = max(len(c) for c in names) <= 3
            percent = normalised * 100  # two digits fit a small cell where "0.98" does not
            draw_confusion(ax, percent, names, "", ".0f", vmax=100.0, text_size=7 if n <= 12 else 0, upright=upright)
            ax.set_title("% of each true class", fontsize=9)
            figures.save(fig, path)
        else:  # a pixel block per cell: thousands of these cost nothing
            cells = np.kron(normalised, np.ones((12, 12)))
            plt.imsave(path, cells, cmap="Blues", vmin=0.0, vmax=1.0)
        pictures.append(Picture(path, caption, "confusion", folded=rank > SHOWN_CONFIGURATIONS))
    return pictures


def per_class_f1(comparison: Comparison, out_dir: Path) -> list[Picture]:
    """Heatmap of per-class F1: a row per configuration (mean over its repeats) or job, a column per class."""
    plt = pyplot()
    by_classes: dict[tuple[str, ...], list[tuple[str, np.ndarray]]] = {}
    for g in comparison.units():
        done = [j for j in g.finished if j.test.get("per_class")]
        if done:
            f1 = np.mean([np.asarray(j.test["per_class"]["f1"], dtype=float) for j in done], axis=0)
            by_classes.setdefault(tuple(map(str, done[0].get("class_names"))), []).append((g.label, f1))
    if not by_classes:
        return []
    panels = list(by_classes.items())
    heights = [len(rows) * 0.3 + 1.4 for _, rows in panels]
    width = max(8.0, 0.55 * max(len(c) for c, _ in panels) + 6)
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(width, sum(heights)), layout="constrained", squeeze=False, height_ratios=heights
    )
    for ax, (classes, rows) in zip(axes.flat, panels, strict=True):
        f1 = np.array([row for _, row in rows])
        image = ax.imshow(f1, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(classes)), [c[:12] for c in classes], rotation=90, fontsize=8)
        ax.set_xlabel("class")
        ax.set_yticks(range(len(rows)), [label[:70] for label, _ in rows], fontsize=7)
        if len(classes) <= 20 and len(rows) <= 16:  # numbers only where the cells are big enough to read
            for (i, k), v in np.ndenumerate(f1):
                colour = "black" if v > 0.6 else "white"
                ax.text(k, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color=colour)
        fig.colorbar(image, ax=ax, label="F1")
    what = "configurations" if comparison.groups else "jobs"
    fig.suptitle(f"per-class test F1 (rows: {what}{', mean over repeats' * bool(comparison.groups)})", fontsize=10)
    path = figures.save(fig, out_dir / PER_CLASS_F1)
    return [Picture(path, f"Per-class test F1: a row per {what[:-1]}, a column per class.", "per_class")]
