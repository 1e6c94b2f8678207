"""What accuracy costs: test accuracy against FLOPs per sample and against training time."""

from __future__ import annotations

from pathlib import Path

from convlab.report.compare import Comparison
from convlab.report.figures import Picture
from convlab.report.plots import accuracy_scatter, left_out

FLOPS_VS_ACCURACY = "flops_vs_accuracy.png"
TIME_VS_ACCURACY = "time_vs_accuracy.png"


def cost_figures(comparison: Comparison, out_dir: Path) -> list[Picture]:
    """Accuracy vs FLOPs/sample (log x) and vs training seconds; a figure only when some job records the cost."""
    pictures = []
    for key, name, xlabel, words in (
        ("flops_per_sample", FLOPS_VS_ACCURACY, "FLOPs per sample (forward pass, log scale)", "FLOPs per sample"),
        ("train_seconds", TIME_VS_ACCURACY, "training time, seconds (log scale)", "training time"),
    ):
        if not any(j.get(key) for j in comparison.finished):
            continue
        path, missing = accuracy_scatter(
            comparison, lambda j, k=key: j.get(k), xlabel, f"{words} vs test accuracy", out_dir / name
        )
        record = "flops_per_sample (runs of older versions)" if key == "flops_per_sample" else key
        caption = f"Test accuracy against {words}; up and to the left is better." + left_out(missing, record)
        pictures.append(Picture(path, caption, "cost"))
    return pictures
