"""`python train.py` and `python eval.py` as subprocesses, the way a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import ROOT, run_cli
from omegaconf import OmegaConf

from convlab.runfiles.results import RunRecord, read_results

NO_OMP_POLICY = {"OMP_WAIT_POLICY": None}  # a user who has not set it


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    cwd = tmp_path_factory.mktemp("cli")
    proc = run_cli(
        "train.py", "model=mlp", "trainer.max_epochs=2", "++trainer.limit_train_batches=5", cwd=cwd, env=NO_OMP_POLICY
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (run_dir,) = (cwd / "outputs" / "runs").iterdir()
    return cwd, run_dir, proc.stdout


def test_train_writes_results_and_prints_a_summary(trained) -> None:
    _, run_dir, stdout = trained
    assert run_dir.name.endswith("_mlp-rmsprop-ce")
    results = read_results(run_dir)
    assert results["status"] == "ok" and results["params"] == 669_706 and results["epochs"] == 2
    # A single run keeps OpenMP's default when its cores are its own; PASSIVE only if other processes kept
    # more than half a core busy as it started (this test may share the machine).
    assert (results["omp_wait_policy"] is None) == (results["busy_cores_at_start"] <= 0.5)
    assert results["overrides"] == ["model=mlp", "trainer.max_epochs=2", "++trainer.limit_train_batches=5"]
    for text in ("669,706", "test accuracy", "macro F1", "confusion matrix", f"{results['test']['acc']:.4f}"):
        assert text in stdout
    for name in (
        "results.json",
        "confusion_matrix.png",
        "checkpoints/last.ckpt",
        ".hydra/config.yaml",
        "csv/metrics.csv",
        "history.csv",
        "predictions.npz",
        "mistakes.png",
    ):
        assert (run_dir / name).is_file(), name


def test_eval_retests_a_checkpoint_with_its_training_config(trained) -> None:
    cwd, run_dir, _ = trained
    proc = run_cli("eval.py", f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}", cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (eval_dir,) = (cwd / "outputs" / "evals").iterdir()
    again = read_results(eval_dir)
    assert again["test"] == read_results(run_dir)["test"]
    assert again["model"] == "mlp" and again["checkpoint"].endswith("last.ckpt")
    assert again["predictions"] == "predictions.npz" and (eval_dir / "mistakes.png").is_file()
    assert again["flops_per_sample"] == 1_337_344  # the MLP, see tests/unit/test_flops.py
    # stdout is a pipe here, as in a log file: the result block as train.py prints it, no bar, no raw log lines.
    assert "test accuracy" in proc.stdout and "confusion matrix" in proc.stdout
    assert "\r" not in proc.stdout and "Testing" not in proc.stdout and "[convlab]" not in proc.stdout
    # eval.py --help names every file and folder it writes.
    outputs = OmegaConf.load(ROOT / "conf" / "hydra" / "help" / "eval.yaml").footer.split("More")[0]
    written = sorted(p.name for p in eval_dir.iterdir())
    assert {"predictions.npz", "mistakes.png", "eval.log"} <= set(written)
    assert [name for name in written if name not in outputs] == []


def test_every_key_train_and_eval_write_is_declared_in_the_run_record(trained) -> None:
    """RunRecord is the contract in code: a key written but not declared there fails here."""
    cwd, run_dir, _ = trained
    (eval_dir,) = (cwd / "outputs" / "evals").iterdir()
    for record in (read_results(run_dir), read_results(eval_dir)):
        assert set(record) <= set(RunRecord.__annotations__), set(record) - set(RunRecord.__annotations__)


def test_a_run_trains_with_the_garbage_collector_on_and_the_start_up_objects_frozen(tmp_path: Path) -> None:
    """The collector pauses while torch and Lightning load (run.collector); by the first training step it is on
    again and no longer walks the hundreds of thousands of objects the imports made."""
    probe = tmp_path / "probe.json"
    proc = run_cli(
        "train.py",
        "trainer.max_epochs=1",
        "++trainer.limit_train_batches=2",
        "+callbacks.first_step._target_=convlab.run.first_step_probe.FirstStepProbe",
        f"+callbacks.first_step.path={probe}",
        cwd=tmp_path,
        env=NO_OMP_POLICY,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    state = json.loads(probe.read_text())
    assert state["gc_enabled"] is True
    assert state["gc_frozen_objects"] > 100_000  # torch alone makes more
