"""The mistakes gallery: a classification run's most confident wrong test predictions, drawn from predictions.npz."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

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
    """A grid of the ``limit`` most confident mistakes, captioned; a run with none gets a figure that says so."""
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
    width = 2.2 if max(len(str(c)) for c in class_names) <= 3 else 3.0
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, 2.4 * rows + 0.6), squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, predictions.mistake_images, captions, strict=False):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        ax.text(0.5, -0.04, caption, transform=ax.transAxes, ha="center", va="top", fontsize=8)  # under the image
    wrong = int((~predictions.correct).sum())
    which = (
        f"all {wrong} mistakes" if len(captions) == wrong else f"the {len(captions)} most confident of {wrong} mistakes"
    )
    fig.suptitle(f"{which} on {len(predictions)} test samples, most confident first", fontsize=11)
    return atomic_savefig(fig, path, dpi=90)
