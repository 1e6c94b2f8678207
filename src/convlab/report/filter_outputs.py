"""Outputs of a filter-regression run: the MSE curve and the output's evolution (the kernel table printed at the
end of the run: convlab.cli.summary)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from convlab.fileio import atomic_savefig, atomic_write_text


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def mse_curve_csv(curve: Sequence[float], path: str | Path) -> Path:
    """Every step's MSE as ``step,mse`` rows (``step`` s: the MSE after s steps), full precision."""
    lines = ["step,mse", *(f"{step},{float(mse)!r}" for step, mse in enumerate(curve))]
    return atomic_write_text(path, "\n".join(lines) + "\n")


def mse_curve_png(curve: Sequence[float], path: str | Path, goal: float | None = None, title: str = "") -> Path:
    """MSE against steps on a log scale; ``curve[s]`` is the MSE after ``s`` steps."""
    plt = _pyplot()
    values = np.asarray(curve, dtype=float)
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    positive = np.where(values > 0, values, np.nan)  # an exact 0 has no place on a log axis
    ax.semilogy(np.arange(len(values)), positive, lw=1.2, label="MSE")
    if goal is not None:
        ax.axhline(goal, color="tab:red", ls="--", lw=1, label=f"{goal:g}")
    ax.set_xlabel("step")
    ax.set_ylabel("MSE (log scale)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title(f"MSE of the conv output against the target {title}".strip(), fontsize=10)
    return atomic_savefig(fig, path, dpi=110)


def evolution_png(
    snapshots: Sequence[tuple[int, torch.Tensor]],
    curve: Sequence[float],
    target: torch.Tensor,
    path: str | Path,
    columns: int = 4,
) -> Path:
    """The output at the start, every few steps and at the end, then the target: one grey scale for all."""
    plt = _pyplot()
    panels = [(f"step {s}" + (f"\nMSE {curve[s]:.1e}" if s < len(curve) else ""), img) for s, img in snapshots]
    panels.append(("target", target))
    # The target's range for every panel: early outputs then show how far off they are.
    vmin, vmax = float(target.min()), float(target.max())
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3.2 * rows), layout="constrained", squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (label, image) in zip(axes.flat, panels, strict=False):
        ax.imshow(image.numpy(), cmap="gray", vmin=vmin, vmax=vmax)
        ax.set_title(label, fontsize=9)
    fig.suptitle("conv output during training, and the target", fontsize=11)
    return atomic_savefig(fig, path, dpi=80)
