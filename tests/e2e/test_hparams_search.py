"""hparams_search=optuna: a real Optuna study over train.py jobs (convlab's own sweeper on current Optuna)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import QUICK, run_cli

from convlab.report.compare import sweep_job_dirs
from convlab.runfiles.results import read_results

pytestmark = pytest.mark.slow


def test_optuna_maximises_validation_accuracy_and_the_report_covers_every_trial(tmp_path: Path) -> None:
    # Sampler seed 2 (trial n samples with seed + n) draws the diverging learning rate first, then a sane one:
    # a trial that diverges must not end the study.
    proc = run_cli(
        "train.py",
        "-m",
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.sampler.seed=2",
        "model=mlp",
        "optim=sgd",
        "optim.lr=choice(1e30,0.01)",
        *QUICK,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = (tmp_path / "outputs" / "sweeps").iterdir()
    assert sweep.name.endswith("_optuna")
    trials = [read_results(job) for job in sweep_job_dirs(sweep)]
    assert len(trials) == 3
    assert {r["status"] for r in trials} == {"ok", "diverged"}
    assert all(any(o.startswith("dataset.batch_size=") for o in r["overrides"]) for r in trials)

    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    finished = [r for r in trials if r["status"] == "ok"]
    winner = max(finished, key=lambda r: r["val"]["acc"])  # validation accuracy, not test
    assert best["best_value"] == pytest.approx(winner["val"]["acc"])
    assert {f"{k}={v}" for k, v in best["best_params"].items()} <= set(winner["overrides"])

    rows = (sweep / "comparison.csv").read_text().splitlines()
    assert len(rows) == 1 + 3  # header + every trial
    markdown = (sweep / "comparison.md").read_text()
    assert f"validation accuracy {best['best_value']:.4f}" in markdown and "**diverged**" in markdown
