"""Confusion-matrix pictures. matplotlib is imported on use: it is slow to import."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from convlab.fileio import atomic_savefig


def row_normalize(cm: Sequence[Sequence[int]]) -> np.ndarray:
    """Each row (true class) divided by its total: the diagonal is per-class recall."""
    m = np.asarray(cm, dtype=float)
    totals = m.sum(axis=1, keepdims=True)
    return np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)


def draw_confusion(
    ax: Any,
    matrix: np.ndarray,
    class_names: Sequence[str],
    title: str,
    fmt: str,
    vmax: float | None = None,
    text_size: float | None = None,
    upright: bool | None = None,
) -> Any:
    """One annotated heatmap: rows are true classes, columns predicted. ``text_size`` sets the cell numbers'
    size (0: none) and ``upright`` the column names' (False: vertical), for small images."""
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=vmax if vmax is not None else max(matrix.max(), 1e-9))
    n = len(class_names)
    ticks = range(n)
    # Short names (digits, up to 3 characters) stand upright; long ones (Fashion-MNIST's) lean to fit.
    leaning = upright is None and max((len(str(c)) for c in class_names), default=0) > 3
    tick_size = (11 if n <= 12 else 8) if text_size is None else 8
    rotation, ha = (35, "right") if leaning else (0 if upright is not False else 90, "center")
    ax.set_xticks(ticks, class_names, rotation=rotation, ha=ha)
    ax.set_yticks(ticks, class_names)
    ax.tick_params(labelsize=tick_size)
    label_size = 11 if text_size is None else 8
    ax.set_xlabel("predicted", fontsize=label_size)
    ax.set_ylabel("true", fontsize=label_size)
    ax.set_title(title, fontsize=12)
    if n <= 20 and text_size != 0:
        cell_size = text_size or (10 if n <= 12 else 7)  # legible at a glance for 10 classes
        threshold = (vmax if vmax is not None else matrix.max()) / 2
        for (i, j), v in np.ndenumerate(matrix):
            ax.text(
                j,
                i,
                format(v, fmt),
                ha="center",
                va="center",
                fontsize=cell_size,
                color="white" if v > threshold else "black",
            )
    return image


def confusion_matrix_png(
    cm: Sequence[Sequence[int]], class_names: Sequence[str], path: str | Path, title: str = ""
) -> Path:
    """Counts and row-normalised matrices side by side, class names on both axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.asarray(cm)
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 6.4), layout="constrained")
    draw_confusion(left, counts, class_names, "counts", "d")
    image = draw_confusion(
        right, row_normalize(counts), class_names, "row-normalised (recall on the diagonal)", ".2f", vmax=1.0
    )
    fig.colorbar(image, ax=right, shrink=0.8)
    if title:
        fig.suptitle(title, fontsize=13)
    return atomic_savefig(fig, path, dpi=110)
