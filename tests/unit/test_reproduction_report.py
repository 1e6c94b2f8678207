"""reproduce.py's statistics and verdicts over seeds, and its tables, from hand-made records (no training)."""

from __future__ import annotations

import pytest

from convlab.report.reproduction import accuracy_stats, confusion_table, markdown_table, per_class_table, verdict
from convlab.report.significance import t_interval


def record(acc: float, seed: int, model: str = "lenet") -> dict:
    matrix = [[8, 2], [1, 9]]
    return {
        "status": "ok",
        "seed": seed,
        "model": model,
        "dataset": "mnist",
        "params": 102_130,
        "epochs": 10,
        "train_seconds": 100.0 + seed,
        "class_names": ["0", "1"],
        "test": {
            "acc": acc,
            "samples": 20,
            "per_class": {"precision": [8 / 9, 9 / 11], "recall": [0.8, 0.9], "f1": [0.842, 0.857]},
            "confusion_matrix": matrix,
        },
    }


def test_stats_are_mean_sample_std_and_the_t_interval() -> None:
    stats = accuracy_stats([0.97, 0.98, 0.99])
    assert stats["mean"] == pytest.approx(0.98) and stats["std"] == pytest.approx(0.01)
    half = 4.302652729749464 * 0.01 / 3**0.5  # t(0.975, 2 degrees of freedom)
    assert (stats["low"], stats["high"]) == pytest.approx((0.98 - half, 1.0))  # 0.98 + half, clipped to 1
    assert accuracy_stats([0.9])["std"] is None


def test_the_interval_is_the_comparison_reports_clipped_to_0_1() -> None:
    """Two seeds far apart: Student's t (12.7 with one degree of freedom) reaches past [0, 1]; reproduce.py and
    the comparison report show the same interval, clipped to what an accuracy can be."""
    stats = accuracy_stats([0.6, 0.9])
    assert (stats["low"], stats["high"]) == (0.0, 1.0) == t_interval([0.6, 0.9], bounds=(0.0, 1.0))


@pytest.mark.parametrize(
    ("published", "accs", "expected"),
    [
        (0.98, [0.984, 0.985, 0.986], "reproduced** (+0.50 pp, within 0.5 pp"),
        (0.96, [0.95, 0.99, 0.97], "reproduced** (+1.00 pp, inside the 95% interval)"),
        (0.967, [0.989, 0.990, 0.991], "gap**: convlab 2.30 pp above the published figure, outside the 95%"),
        (0.984, [0.97], "gap**: convlab 1.40 pp below the published figure"),
        (None, [0.97], "no published figure"),
    ],
)
def test_verdict(published: float | None, accs: list[float], expected: str) -> None:
    assert expected in verdict(published, accuracy_stats(accs))


def test_table_row_has_mean_spread_interval_seeds_and_wall_time() -> None:
    published = {"acc": 0.98, "text": "about 98%", "dataset": "MNIST"}
    records = [record(0.97, 0), record(0.98, 1), record(0.99, 2)]
    row = {"preset": "lenet_tutorial", "records": records, "published": published, "wall_per_run": 123.4}
    (line,) = markdown_table([row]).splitlines()[2:]
    assert line.startswith("| `lenet_tutorial` | lenet | about 98% on MNIST | **98.00%** ± 1.00 pp on mnist")
    assert "| 95.52% – 100.00% | 3 | 102,130 | 10 | 101 | 123 | **reproduced**" in line  # never past 100%


def test_per_class_and_confusion_tables() -> None:
    rec = record(0.85, 0)
    table = per_class_table(rec)
    assert "| 0 | 0.8889 | 0.8000 | 0.8420 | 10 |" in table and "| accuracy | | | 0.8500 | 20 |" in table
    matrix = confusion_table(rec)
    assert "| **0** | **8** | 2 |" in matrix and "| **1** | 1 | **9** |" in matrix
