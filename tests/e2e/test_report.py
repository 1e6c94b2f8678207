"""The comparison report on hand-made sweeps: aggregation over seeds and folds, unfinished jobs,
scripts/compare.py over several sweeps, bad input, and the sweep directory's name."""

from __future__ import annotations

import csv
import pickle
import re
import statistics
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import open_dict

from convlab.cli.compare import main as compare_main
from convlab.config import CONFIG_DIR
from convlab.report.comparison_report import write_comparison_report
from convlab.runfiles.results import write_results

CLASSES = ["cat", "dog", "bird"]


def record(overrides: list[str], cm: list[list[int]], model: str = "mlp", params: int = 1000, **extra) -> dict:
    """A results.json record whose metrics agree with its confusion matrix, as a real run's do."""
    m = np.array(cm, dtype=float)
    precision = np.diag(m) / np.maximum(m.sum(0), 1)
    recall = np.diag(m) / np.maximum(m.sum(1), 1)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)
    return {
        "status": "ok",
        "dataset": "digits",
        "model": model,
        "optim": "sgd",
        "loss": "ce",
        "overrides": overrides,
        "params": params,
        "seed": 0,
        "epochs": 3,
        "train_seconds": 2.5,
        "samples_per_second": 1234.5,
        "class_names": CLASSES,
        "test": {
            "acc": float(np.trace(m) / m.sum()),
            "f1_macro": float(f1.mean()),
            "loss": 0.5,
            "samples": int(m.sum()),
            "per_class": {"precision": precision.tolist(), "recall": recall.tolist(), "f1": f1.tolist()},
            "confusion_matrix": cm,
        },
        "val": {"acc": 0.7, "loss": 0.6},
        **extra,
    }


def matrix(correct: int) -> list[list[int]]:
    """3 classes x 10 samples; ``correct`` of each class right, the rest predicted as the next class."""
    return [[correct if j == i else (10 - correct if j == (i + 1) % 3 else 0) for j in range(3)] for i in range(3)]


def make_sweep(root: Path, records: list[dict]) -> Path:
    for num, rec in enumerate(records):
        write_results(root / f"{num}_{'_'.join(rec['overrides'])}", rec)
    return root


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_seeds_are_aggregated_to_mean_and_std_per_configuration(tmp_path: Path) -> None:
    accuracy = {("mlp", 0): 7, ("mlp", 1): 8, ("mlp", 2): 9, ("lenet", 0): 9, ("lenet", 1): 9, ("lenet", 2): 10}
    records = [
        record([f"model={m}", f"seed={s}", "trainer.max_epochs=3"], matrix(c), model=m, params=p, seed=s)
        for (m, s), c in accuracy.items()
        for p in [669_706 if m == "mlp" else 102_130]
    ]
    sweep = make_sweep(tmp_path / "sweep", records)
    written = write_comparison_report([sweep], sweep)
    assert set(written) >= {"comparison_by_configuration.csv", "report.html", "params_vs_accuracy.png"}

    groups = {row["configuration"]: row for row in read_csv(sweep / "comparison_by_configuration.csv")}
    assert set(groups) == {"model=mlp trainer.max_epochs=3", "model=lenet trainer.max_epochs=3"}
    for model in ("mlp", "lenet"):
        accs = [r["test"]["acc"] for r in records if r["model"] == model]
        f1s = [r["test"]["f1_macro"] for r in records if r["model"] == model]
        row = groups[f"model={model} trainer.max_epochs=3"]
        assert float(row["acc_mean"]) == pytest.approx(statistics.fmean(accs))
        assert float(row["acc_std"]) == pytest.approx(statistics.stdev(accs))  # sample std (n - 1)
        assert float(row["f1_macro_mean"]) == pytest.approx(statistics.fmean(f1s))
        assert (row["runs_ok"], row["runs"], row["repeats"]) == ("3", "3", "seed=0 seed=1 seed=2")

    markdown = (sweep / "comparison.md").read_text()
    lenet = [r["test"]["acc"] for r in records if r["model"] == "lenet"]
    expected = f"{statistics.fmean(lenet):.4f} ± {statistics.stdev(lenet):.4f}"
    assert "## Per configuration, over repeats" in markdown and expected in markdown
    assert markdown.index("| model=lenet |") < markdown.index("| model=mlp |")  # best mean first
    assert len(read_csv(sweep / "comparison.csv")) == 6
    assert 'id="configurations"' in (sweep / "report.html").read_text()


def test_folds_of_k_fold_cross_validation_are_aggregated(tmp_path: Path) -> None:
    records = [record(["dataset.folds=3", f"dataset.fold={k}"], matrix(c)) for k, c in enumerate((6, 8, 10))]
    sweep = make_sweep(tmp_path / "cv", records)
    write_comparison_report([sweep], sweep)
    (group,) = read_csv(sweep / "comparison_by_configuration.csv")
    assert group["repeats"] == "dataset.fold=0 dataset.fold=1 dataset.fold=2"
    assert float(group["acc_mean"]) == pytest.approx(0.8) and float(group["acc_std"]) == pytest.approx(0.2)
    rows = read_csv(sweep / "comparison.csv")
    assert [r["fold"] for r in rows] == ["2", "1", "0"]  # best accuracy first


def test_no_aggregation_without_repeats(tmp_path: Path) -> None:
    sweep = make_sweep(tmp_path / "grid", [record(["model=mlp"], matrix(8)), record(["model=lenet"], matrix(9))])
    written = write_comparison_report([sweep], sweep)
    assert "comparison_by_configuration.csv" not in written
    assert "Per configuration" not in (sweep / "comparison.md").read_text()


def test_unfinished_jobs_are_listed_after_finished_ones_with_their_error(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    failed = {**record(["model=cnn8"], matrix(5)), "status": "failed", "error": "DataError: corrupt file"}
    del failed["test"]
    diverged = {**record(["optim.lr=1e30"], matrix(5)), "status": "diverged", "error": "loss became nan at step 3"}
    del diverged["test"]
    make_sweep(sweep, [failed, record(["model=mlp"], matrix(7)), diverged, record(["model=lenet"], matrix(9))])
    (sweep / "4_model=vgg" / ".hydra").mkdir(parents=True)  # a job killed before writing results.json
    (sweep / "4_model=vgg" / ".hydra" / "overrides.yaml").write_text("- model=vgg\n")  # Hydra's record
    write_comparison_report([sweep], sweep)

    rows = read_csv(sweep / "comparison.csv")
    assert [(r["rank"], r["status"]) for r in rows] == [
        ("1", "ok"),
        ("2", "ok"),
        ("3", "diverged"),
        ("4", "failed"),
        ("5", "missing"),
    ]
    assert rows[0]["overrides"] == "model=lenet" and rows[3]["error"] == "DataError: corrupt file"
    assert "killed" in rows[4]["error"] and rows[4]["overrides"] == "model=vgg"
    markdown = (sweep / "comparison.md").read_text()
    # named by job number, the one its directory starts with (0_model=cnn8), not by rank (4th)
    assert "- job 0 `model=cnn8`: **failed**: DataError: corrupt file" in markdown
    assert "| job | overrides |" in markdown and "| 0 | model=cnn8 |" in markdown
    assert [(r["job"], r["rank"]) for r in rows] == [("3", "1"), ("1", "2"), ("2", "3"), ("0", "4"), ("4", "5")]
    page = (sweep / "report.html").read_text()
    assert page.count('<tr class="ok"') == 2 and '<tr class="missing"' in page
    first_cells = re.findall(r'<tr class="\w+"[^>]*><td class="num">([^<]*)</td>', page.split('id="jobs"')[1])
    assert first_cells == ["3", "1", "2", "0", "4"] and '<th title="click to sort">job</th>' in page  # rank: order
    # params and training time vs accuracy, a confusion matrix per finished job, per-class F1
    assert page.count("<img") == 5


def test_compare_script_over_two_sweeps_writes_one_report_into_out(tmp_path: Path, capsys) -> None:
    first = make_sweep(tmp_path / "a", [record(["model=mlp"], matrix(7)), record(["model=lenet"], matrix(9))])
    second = make_sweep(tmp_path / "b", [record(["model=cnn8"], matrix(8), model="cnn8", params=7_293_578)])
    single_run = tmp_path / "a" / "1_model=lenet"
    out = tmp_path / "report"
    compare_main([str(first), str(second / "0_model=cnn8" / "results.json"), str(single_run), "--out", str(out)])
    rows = read_csv(out / "comparison.csv")
    assert sorted(r["overrides"] for r in rows) == ["model=cnn8", "model=lenet", "model=mlp"]  # lenet counted once
    assert sorted(r["job"] for r in rows) == ["a/0", "a/1", "b/0"]  # two sweeps share job 0: their names tell
    assert f"open {out / 'report.html'}" in capsys.readouterr().out
    assert not list(first.glob("comparison*"))  # several sources: nothing written into them

    compare_main([str(second)])  # one sweep: its report goes into it, as at the end of a multirun
    assert len(read_csv(second / "comparison.csv")) == 1 and (second / "report.html").is_file()


def test_compare_script_bad_input_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    sweep = make_sweep(tmp_path / "sweep", [record(["model=mlp"], matrix(7))])
    write_comparison_report([sweep], sweep)
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "results.json").write_text('{"accuracy": 0.9}')
    (tmp_path / "empty").mkdir()
    truncated = make_sweep(tmp_path / "truncated", [record(["model=lenet"], matrix(7))])
    (job_results,) = truncated.rglob("results.json")
    job_results.write_text(job_results.read_text()[:40])  # a results.json cut off mid-write
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    for args, expected in [
        ([str(tmp_path / "nope")], "nope: no such file or directory"),
        ([str(sweep), str(tmp_path / "foreign")], "foreign/results.json: not a convlab results.json"),
        ([str(tmp_path / "empty")], "empty: no results.json in it or in its job subdirectories"),
        ([str(sweep), str(truncated)], "results.json: not a readable results.json"),
    ]:
        proc = run_cli("scripts/compare.py", *args, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        (line,) = proc.stderr.strip().splitlines()
        assert line.startswith("convlab: error: ") and expected in line
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before  # nothing written, nothing touched


def compose_sweep_config(overrides: list[str], task_overrides: list[str]):
    """The launching process's config of ``python train.py -m <task_overrides>``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.overrides.task = task_overrides
    return cfg


def test_sweep_dir_is_dated_labelled_unique_and_the_same_in_every_job_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    swept = ["model=mlp,lenet,cnn8", "optim=sgd,rmsprop", "loss=ce,mse", "trainer.max_epochs=1"]
    cfg = compose_sweep_config([], swept)
    sweep_dir = cfg.hydra.sweep.dir
    assert re.fullmatch(r"\./outputs/sweeps/\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_model-optim-loss", sweep_dir)
    assert Path(sweep_dir).is_dir()
    # joblib and submitit workers get the launching config pickled: the same directory, no new one
    assert pickle.loads(pickle.dumps(cfg)).hydra.sweep.dir == sweep_dir
    assert cfg.hydra.sweep.dir == sweep_dir
    again = compose_sweep_config([], swept).hydra.sweep.dir  # another sweep, maybe in the same second: .1
    assert again != sweep_dir and Path(again).is_dir() and re.search(r"_model-optim-loss(\.1)?$", again)
    labelled = Path(compose_sweep_config(["sweep_label=lr-study"], ["optim.lr=0.1,0.01"]).hydra.sweep.dir)
    assert labelled.name.endswith("_lr-study")
    assert len(list((tmp_path / "outputs" / "sweeps").iterdir())) == 3
