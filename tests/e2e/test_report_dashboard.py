"""The sweep report as a dashboard, on synthetic runs: intervals and paired tests from predictions.npz,
learning curves from history.csv, cost and hyperparameter figures, mistake galleries, older and broken runs,
and its size and legibility (no two labels of a figure overlap) at 300 runs."""

from __future__ import annotations

import csv
import re
import shutil
import warnings
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli
from synthetic_runs import make_test_set, write_run, write_sweep

from convlab.report import figures
from convlab.report.comparison_report import write_comparison_report
from convlab.runfiles.predictions import write_predictions
from convlab.runfiles.results import read_results, write_results

MAX_PAGE = 3_000_000


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def text_problems(fig) -> list[str]:
    """Overlapping pairs of visible texts, and texts that stick out of the figure."""
    from convlab.report.labels import overlapping_texts, text_boxes

    problems = [f"overlap: {a!r} / {b!r}" for a, b in overlapping_texts(fig)]
    page = fig.bbox.padded(1)
    for text, box in text_boxes(fig):
        if box.width and not (page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1):
            problems.append(f"outside the figure: {text.get_text()!r}")
    return problems


@pytest.fixture
def checked_figures(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Every figure the report saves, looked at just before: its text problems by file name."""
    found: dict[str, list[str]] = {}
    save = figures.save

    def checking_save(fig, path: Path, **kwargs):
        found[str(path)] = text_problems(fig)
        return save(fig, path, **kwargs)

    monkeypatch.setattr(figures, "save", checking_save)
    return found


def test_the_overlap_check_sees_overlapping_labels() -> None:
    plt = figures.pyplot()
    fig, ax = plt.subplots()
    ax.text(0.5, 0.5, "one label")
    ax.text(0.5, 0.5, "another label")
    assert any("overlap" in p for p in text_problems(fig))
    plt.close(fig)


def test_a_small_sweep_report_has_every_section_and_no_overlapping_labels(
    tmp_path: Path, checked_figures: dict[str, list[str]]
) -> None:
    sweep = write_sweep(tmp_path / "sweep", runs=30, configurations=10, samples=400)
    written = write_comparison_report([sweep], sweep)
    page = written["report.html"].read_text()
    for heading in ("Contents", "Per configuration, over repeats", "Per job", "Which differences are real",
                    "Learning curves", "Cost: size, FLOPs and training time", "Hyperparameters",
                    "Confusion matrices", "Mistakes"):  # fmt: skip
        assert f">{heading}</h2>" in page, heading
    assert page.index('id="configurations"') < page.index('id="jobs"')  # aggregates first
    expected = ["learning_curves", "flops_vs_accuracy", "time_vs_accuracy", "params_vs_accuracy",
                "accuracy_vs_hyperparameters", "parallel_coordinates", "mistakes/hard_examples"]  # fmt: skip
    for name in expected:
        assert f"{name}.png" in written, name
    assert "<details>" in page and page.count('<div class="grid') >= 2  # 10 configurations: 6 shown, 4 folded
    assert len(page.encode()) < MAX_PAGE
    assert "95% CI" in page and "FLOPs/sample" in page and re.search(r"\d\.\d+ M<", page)
    assert "wrong in" not in page  # the gallery's words are in its image; the caption says what it is
    assert checked_figures and {p: v for p, v in checked_figures.items() if v} == {}

    rows = read_csv(sweep / "comparison.csv")
    best = [r for r in rows if r["vs_best"] == "best"]
    assert len(best) == 1 and float(best[0]["val_acc"]) == max(float(r["val_acc"]) for r in rows)
    for row in rows:  # the record's own interval, quoted
        interval = read_results(Path(row["run_dir"]))["test"]["acc_ci95"]
        assert [float(row["acc_ci95_low"]), float(row["acc_ci95_high"])] == pytest.approx(interval)
    groups = read_csv(sweep / "comparison_by_configuration.csv")
    assert all(float(g["acc_t95_low"]) <= float(g["acc_mean"]) <= float(g["acc_t95_high"]) for g in groups)


def _job(root: Path, name: str, val_acc: float, correct: np.ndarray, predictions: bool = True) -> Path:
    """A finished job on a 16-sample test set with the given per-sample correctness."""
    run_dir = root / name
    labels = np.arange(len(correct)) % 10
    pred = np.where(correct, labels, (labels + 1) % 10)
    cm = np.zeros((10, 10), dtype=int)
    np.add.at(cm, (labels, pred), 1)
    record = {
        "status": "ok",
        "dataset": "digits",
        "model": "mlp",
        "optim": "sgd",
        "loss": "ce",
        "overrides": [f"model={name}"],
        "params": 1000,
        "class_names": [str(c) for c in range(10)],
        "val": {"acc": val_acc, "loss": 0.5},
        "test": {"acc": float(correct.mean()), "samples": len(correct), "confusion_matrix": cm.tolist()},
    }
    if predictions:
        images = np.zeros((len(correct), 28, 28), dtype=np.uint8)
        write_predictions(run_dir, labels, pred, np.full(len(correct), 0.9), images, "sha256:same")
        record["predictions"] = "predictions.npz"
        record["test"]["fingerprint"] = "sha256:same"
    write_results(run_dir, record)
    return run_dir


def test_mcnemar_against_the_best_by_validation_accuracy_with_holm(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    _job(sweep, "0_best_on_val", 0.95, np.array([1] * 10 + [0] * 6, dtype=bool))
    _job(sweep, "1_best_on_test", 0.90, np.array([1] * 16, dtype=bool))  # 6 right only here: b=6, c=0
    _job(sweep, "2_close", 0.50, np.array([1] * 9 + [0] + [1] + [0] * 5, dtype=bool))  # b=1, c=1
    _job(sweep, "3_old", 0.40, np.array([1] * 8 + [0] * 8, dtype=bool), predictions=False)  # an older run
    write_comparison_report([sweep], sweep)
    rows = {r["overrides"]: r for r in read_csv(sweep / "comparison.csv")}
    assert rows["model=0_best_on_val"]["vs_best"] == "best"
    test_best = rows["model=1_best_on_test"]
    assert (test_best["mcnemar_b"], test_best["mcnemar_c"]) == ("6", "0")
    assert float(test_best["mcnemar_p"]) == pytest.approx(0.03125)
    assert float(test_best["vs_best"]) == pytest.approx(0.0625)  # Holm over 2 comparisons
    assert float(rows["model=2_close"]["vs_best"]) == pytest.approx(1.0)
    assert rows["model=3_old"]["vs_best"] == "" and rows["model=3_old"]["acc_ci95_low"]  # Wilson from acc, samples
    page = (sweep / "report.html").read_text()
    assert "Not significantly different from the best" in page and "Holm-adjusted p=0.062" in page
    assert "No paired test (no predictions.npz" in page and "3_old" in page.split("No paired test")[1]


def test_broken_run_files_are_one_warning_line_each_and_the_report_is_still_written(tmp_path: Path) -> None:
    test = make_test_set(300)
    sweep = tmp_path / "sweep"
    for seed in range(3):
        write_run(sweep / f"{seed}_seed={seed}", test, "lenet", 0.1, 64, seed)
    (sweep / "1_seed=1" / "predictions.npz").write_bytes(b"PK\x03\x04 not really a zip")
    (sweep / "2_seed=2" / "history.csv").write_text("epoch,step,train_loss,train_acc,val_loss,val_acc,seconds\n1,x,y\n")
    old = sweep / "3_seed=3"  # a run of an older version: neither file, nor the keys naming them
    write_run(old, test, "lenet", 0.1, 64, 3)
    record = read_results(old)
    for key in ("history", "predictions"):
        (old / record.pop(key)).unlink()
    write_results(old, record)

    proc = run_cli("scripts/compare.py", str(sweep), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert any(line.startswith("convlab: warning: ") and "1_seed=1/predictions.npz" in line for line in lines)
    assert any("2_seed=2/history.csv: line 2 is not numeric" in line for line in lines)
    page = (sweep / "report.html").read_text()
    assert page.count('<tr class="ok"') == 4 and "1_seed=1/predictions.npz" in page
    assert "without a history.csv" in page  # the old run and the broken one: no curve, said so


def test_an_optuna_sweep_gets_optunas_own_plots(tmp_path: Path) -> None:
    from optuna.exceptions import ExperimentalWarning

    test = make_test_set(200)
    sweep = tmp_path / "optuna"
    for n, (lr, batch) in enumerate([(0.001, 32), (0.01, 64), (0.1, 128), (1.0, 256), (0.05, 64)]):
        write_run(sweep / f"{n}_trial", test, "lenet", lr, batch, 0)
    (sweep / "optimization_results.yaml").write_text("name: optuna\nbest_params:\n  optim.lr: 0.1\nbest_value: 0.98\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = write_comparison_report([sweep], sweep)
    assert not [w for w in caught if issubclass(w.category, ExperimentalWarning)]
    assert "optuna_history.png" in written
    page = written["report.html"].read_text()
    # Optuna's own importance plot with its default evaluator (fANOVA), no workaround, no note.
    assert "optuna_importance.png" in written and "not drawn" not in page


@pytest.mark.slow
def test_300_runs_make_a_page_under_3_mb_with_no_overlapping_labels(
    tmp_path: Path, checked_figures: dict[str, list[str]]
) -> None:
    sweep = write_sweep(tmp_path / "sweep", runs=300, configurations=48, samples=2000)
    written = write_comparison_report([sweep], tmp_path / "report")
    assert written["report.html"].stat().st_size < MAX_PAGE
    page = written["report.html"].read_text()
    assert page.index('id="configurations"') < page.index(
        "<details><summary>all 300 jobs</summary>"
    )  # aggregates first
    assert len(read_csv(tmp_path / "report" / "comparison.csv")) == 300
    assert len(checked_figures) >= 10 and {p: v for p, v in checked_figures.items() if v} == {}
    shutil.rmtree(sweep)


def test_labels_of_one_figure_never_overlap_pairwise() -> None:
    from convlab.report.labels import place_labels

    plt = figures.pyplot()
    fig, ax = plt.subplots(figsize=(4, 3))
    fig.subplots_adjust(left=0.1, right=0.9, bottom=0.1, top=0.9)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    points = [(0.3 + 0.001 * i, 0.5, f"configuration {i}") for i in range(20)]  # all on one spot
    placed = place_labels(ax, points)
    assert 1 <= placed < 20
    boxes = [t.get_window_extent(fig.canvas.get_renderer()) for t in ax.texts]
    assert not any(a.overlaps(b) for a, b in combinations(boxes, 2))
    plt.close(fig)


def test_one_epoch_runs_are_drawn_as_points_not_empty_panels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = {}
    save = figures.save
    monkeypatch.setattr(figures, "save", lambda fig, path, **kw: drawn.setdefault(path.name, fig) and save(fig, path))
    test = make_test_set(200)
    sweep = tmp_path / "sweep"
    for job, (model, seed) in enumerate([("mlp", 0), ("mlp", 1), ("lenet", 0), ("lenet", 1), ("cnn8", 0)]):
        write_run(sweep / f"{job}_model={model},seed={seed}", test, model, 0.1, 64, seed, epochs=1)
    write_comparison_report([sweep], sweep)
    fig = drawn["learning_curves.png"]
    for ax in fig.axes[:4]:
        lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 1]
        assert len(lines) == 3, ax.get_title()  # a line per configuration, each one point
        assert all(line.get_marker() == "o" and line.get_markersize() > 0 for line in lines), ax.get_title()
        assert len(ax.collections) == 2  # the min-max over two seeds: a bar at the one epoch
        assert all(float(t).is_integer() for t in ax.get_xticks())  # epochs: no 0.98, 1.02
