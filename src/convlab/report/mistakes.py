"""The mistakes gallery: a classification run's most confident wrong test predictions, drawn from predictions.npz."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from convlab.fileio import atomic_savefig
from convlab.run.predictions import Predictions

MISTAKES_NAME = "mistakes.png"


def mistake_captions(predictions: Predictions, class_names: Sequence[str], limit: int) -> list[str]:
    """ "true X → pred Y (p=0.97)" for the first ``limit`` stored mistakes, most confident first."""
    captions = []
    for i in predictions.mistake_index[:limit]:
        true, pred = class_names[predictions.label[i]], class_names[predictions.pred[i]]
        captions.append(f"true {true} → pred {pred} (p={predictions.prob[i]:.2f})")
    return captions


def mistakes_png(predictions: Predictions, class_names: Sequence[str], path: str | Path, limit: int = 32) -> Path:
    """A grid of the ``limit`` most confident mistakes, captioned; a run with none gets a figure that says so.

    The tiles are pasted into one image drawn on one axes: 32 axes of their own took over a second to lay out
    and save, at the end of every run.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    captions = mistake_captions(predictions, class_names, limit)
    if not captions:
        fig, ax = plt.subplots(figsize=(5, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, f"no mistakes on the {len(predictions)} test samples", ha="center", va="center")
        return atomic_savefig(fig, path, dpi=110)
    cols = min(8, len(captions))
    rows = math.ceil(len(captions) / cols)
    # Long class names (Fashion-MNIST's "Ankle boot") need a wider cell for their caption.
    cell_w, cell_h = (2.2 if max(len(str(c)) for c in class_names) <= 3 else 3.0), 2.4  # inches
    h, w = predictions.mistake_images.shape[1:]
    row_px = h + max(4, round(h * 0.3))  # the image, then a band for its caption
    col_px = max(w + 2, round(row_px * cell_w / cell_h))
    canvas = np.full((rows * row_px, cols * col_px), 255, dtype=np.uint8)
    title_in = 0.5
    fig = plt.figure(figsize=(cell_w * cols, cell_h * rows + title_in))
    ax = fig.add_axes((0.0, 0.0, 1.0, cell_h * rows / (cell_h * rows + title_in)))
    for n, (image, caption) in enumerate(zip(predictions.mistake_images, captions, strict=False)):
        top, left = (n // cols) * row_px, (n % cols) * col_px + (col_px - w) // 2
        canvas[top : top + h, left : left + w] = image
        ax.text(left + w / 2, top + h + 0.5, caption, ha="center", va="top", fontsize=8)  # under the image
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_axis_off()
    wrong = int((~predictions.correct).sum())
    which = (
        f"all {wrong} mistakes" if len(captions) == wrong else f"the {len(captions)} most confident of {wrong} mistakes"
    )
    fig.suptitle(f"{which} on {len(predictions)} test samples, most confident first", fontsize=11)
    return atomic_savefig(fig, path, dpi=90)
