"""The mistakes gallery: a classification run's most confident wrong test predictions, drawn from predictions.npz."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from convlab.fileio import atomic_savefig
from convlab.report.figures import pyplot
from convlab.runfiles.predictions import Predictions, displayable

MISTAKES_NAME = "mistakes.png"


def mistake_captions(predictions: Predictions, class_names: Sequence[str], limit: int) -> list[str]:
    """ "true X → pred Y (p=0.97)" for the first ``limit`` stored mistakes, most confident first."""
    captions = []
    for i in predictions.mistake_index[:limit]:
        true, pred = class_names[predictions.label[i]], class_names[predictions.pred[i]]
        captions.append(f"true {true} → pred {pred} (p={predictions.prob[i]:.2f})")
    return captions


def image_grid(
    images: Sequence[np.ndarray],
    captions: Sequence[str],
    cols: int,
    cell_inches: tuple[float, float],
    caption_lines: int = 1,
    fontsize: float = 8,
    title_inches: float = 0.0,
) -> Any:
    """uint8 images (C x H x W with C 1 or 3, or H x W) pasted into one picture drawn on one axes, a caption under
    each, ``cols`` to a row; RGB images in colour, grayscale ones in gray. Returns the figure for the caller to save.
    One draw however many images: an axes per image took over a second for 32.
    """
    images = [displayable(image) for image in images]
    cols = max(1, min(cols, len(images)))
    rows = math.ceil(len(images) / cols)
    cell_w, cell_h = cell_inches
    h, w = images[0].shape[:2]
    row_px = h + max(4, round(h * 0.3)) * caption_lines  # the image, then a band for its caption
    col_px = max(w + 2, round(row_px * cell_w / cell_h))
    colour = any(image.ndim == 3 for image in images)
    canvas = np.full((rows * row_px, cols * col_px, *((3,) if colour else ())), 255, dtype=np.uint8)
    fig = pyplot().figure(figsize=(cell_w * cols, cell_h * rows + title_inches))
    ax = fig.add_axes((0.0, 0.0, 1.0, cell_h * rows / (cell_h * rows + title_inches)))
    for n, (image, caption) in enumerate(zip(images, captions, strict=True)):
        top, left = (n // cols) * row_px, (n % cols) * col_px + (col_px - w) // 2
        canvas[top : top + h, left : left + w] = image[..., None] if colour and image.ndim == 2 else image
        ax.text(left + w / 2, top + h + 0.5, caption, ha="center", va="top", fontsize=fontsize)  # under the image
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_axis_off()
    return fig


def mistakes_png(predictions: Predictions, class_names: Sequence[str], path: str | Path, limit: int = 32) -> Path:
    """A grid of the ``limit`` most confident mistakes, captioned; a run with none gets a figure that says so."""
    captions = mistake_captions(predictions, class_names, limit)
    if not captions:
        fig, ax = pyplot().subplots(figsize=(5, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, f"no mistakes on the {len(predictions)} test samples", ha="center", va="center")
        return atomic_savefig(fig, path, dpi=110)
    # Long class names (Fashion-MNIST's "Ankle boot") need a wider cell for their caption.
    cell = (2.2 if max(len(str(c)) for c in class_names) <= 3 else 3.0), 2.4  # inches
    images = predictions.mistake_images[: len(captions)]
    fig = image_grid(images, captions, cols=8, cell_inches=cell, title_inches=0.5)
    wrong = int((~predictions.correct).sum())
    which = (
        f"all {wrong} mistakes" if len(captions) == wrong else f"the {len(captions)} most confident of {wrong} mistakes"
    )
    fig.suptitle(f"{which} on {len(predictions)} test samples, most confident first", fontsize=11)
    return atomic_savefig(fig, path, dpi=90)
