"""The classic filters applied to a photo, each shown min-max scaled to [0, 255], in one labelled panel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from convlab.data.kernels import cross_correlate, kernel_from_spec, mean_blur, minmax_uint8, random_kernel
from convlab.data.photos import load_grayscale
from convlab.fileio import atomic_savefig


def classic_kernels(seed: int = 0) -> list[tuple[str, torch.Tensor]]:
    """(label, kernel) for the panel: mean blur 3x3 and 9x9, Sobel x and y, a random 9x9."""
    return [
        ("mean blur 3x3 (all 1/9)", mean_blur(3)),
        ("mean blur 9x9 (all 1/81)", mean_blur(9)),
        ("Sobel x (vertical edges)", kernel_from_spec("sobel_x")),
        ("Sobel y (horizontal edges)", kernel_from_spec("sobel_y")),
        (f"random 9x9 (normal, seed {seed})", random_kernel(9, seed)),
    ]


def filtered_images(image: torch.Tensor, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """The photo and each classic filter's 'valid' cross-correlation of it, min-max mapped to uint8 0-255."""
    out = [("original", minmax_uint8(image))]
    out += [(label, minmax_uint8(cross_correlate(image.double(), k.double()))) for label, k in classic_kernels(seed)]
    return out


def classic_filter_panel(image_spec: str, path: str | Path, seed: int = 0) -> Path:
    """Write the labelled panel PNG for a bundled photo's name or an image file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image = load_grayscale(image_spec, key="image")
    panels = filtered_images(image, seed)
    fig, axes = plt.subplots(2, 3, figsize=(13, 9.2), layout="constrained")
    for ax, (label, pixels) in zip(axes.flat, panels, strict=True):
        ax.imshow(pixels, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{label}\n{pixels.shape[1]}x{pixels.shape[0]}, min-max to 0-255", fontsize=10)
        ax.axis("off")
    fig.suptitle(f"classic filters on {Path(image_spec).name}", fontsize=12)
    return atomic_savefig(fig, path, dpi=90)
