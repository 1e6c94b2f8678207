"""Outputs of a filter-regression run: the kernel beside its target, the MSE curve, the output's evolution."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.text import Text

from convlab.fileio import atomic_savefig, atomic_write_text
from convlab.report.summary import describe_line, print_fields, status_rows


def kernel_table(learned: Sequence[Sequence[float]], target: Sequence[Sequence[float]]) -> str:
    """Learned kernel, target and their difference side by side, then max |learned - target|."""
    a, b = np.asarray(learned, dtype=float), np.asarray(target, dtype=float)
    diff = a - b
    width = 2 + 9 * a.shape[1]

    def row(values: np.ndarray, fmt: str) -> str:
        return "".join(format(v, fmt).rjust(9) for v in values).ljust(width)

    lines = ["learned".ljust(width) + "target".ljust(width) + "learned - target"]
    for i in range(a.shape[0]):
        lines.append(row(a[i], ".4f") + row(b[i], ".4f") + row(diff[i], ".1e"))
    lines.append(f"max |learned - target| = {np.abs(diff).max():.2e}")
    return "\n".join(lines)


def print_filter_summary(record: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    filt = record.get("filter") or {}
    rows: list[tuple[str, str | Text]] = [("run", describe_line(record))]
    shape = record.get("image_shape")
    image = f"{record.get('image')} ({shape[0]}x{shape[1]})" if shape else str(record.get("image"))
    rows.append(("image", f"{image}, target kernel {filt.get('target_name', '?')}"))
    if filt.get("steps") is not None:
        rows.append(("training", f"{filt['steps']} steps in {filt['seconds']:.1f} s"))
    rows += status_rows(record)
    if filt.get("mse") is not None:
        reached = filt.get("steps_to_mse_goal")
        goal = f"<= {filt['mse_goal']:g} " + (f"from step {reached} on" if reached is not None else "not reached")
        rows.append(("final MSE", Text.assemble((f"{filt['mse']:.3e}", "bold"), f"  ({goal})")))
    if filt.get("held_out_mse") is not None:
        held_out = (record.get("test") or {}).get("held_out", {}).get("image")
        rows.append(("held-out MSE", f"{filt['held_out_mse']:.3e}  (the learned kernel on {held_out})"))
    if record.get("run_dir"):
        rows.append(("run dir", str(record["run_dir"])))
    print_fields(console, rows)
    if filt.get("kernel") is not None:
        console.print(kernel_table(filt["kernel"], filt["target"]), markup=False, highlight=False, soft_wrap=True)


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
