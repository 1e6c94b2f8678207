"""Resume after a crash: a run killed with SIGKILL after its first checkpoint, resumed, ends with exactly
the test metrics of an uninterrupted run with the same seed."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from helpers import QUICK, ROOT, cli_env

from convlab.cli.job import run_job
from convlab.errors import CheckpointError, ConfigError, RunDirInUseError
from convlab.run.compose import compose_run
from convlab.run.train import train
from convlab.runfiles.history import read_history
from convlab.runfiles.results import read_results

# Three full epochs of the MLP on the digits; small batches make each epoch long enough (81 steps) for the kill to
# land between the first checkpoint and the end of the run. One thread: on a busy 2-core machine two
# torch threads spend most of their time waiting for each other.
RUN = [
    "trainer.max_epochs=3",
    "dataset.batch_size=16",
    "threads=1",
    "model=mlp",  # dropout: the resumed run must also draw the same random numbers
    *(o for o in QUICK if "limit_" not in o and "max_epochs" not in o),
]


def fingerprint(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def kill_after_first_checkpoint(overrides: list[str], cwd: Path, timeout: float = 600) -> Path:
    """Start ``python train.py overrides`` in ``cwd``; SIGKILL it as soon as it has written last.ckpt."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *overrides],
        cwd=cwd,
        env=cli_env(cwd),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout
    try:
        while not (found := list((cwd / "outputs" / "runs").glob("*/checkpoints/last.ckpt"))):
            if proc.poll() is not None:
                pytest.fail(f"the run ended before its first checkpoint: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint within the time limit")
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return found[0].parent.parent


# Slow (a SIGKILLed subprocess and three runs). The fast suite: the same with the crash an exception
# (test_a_crashed_run_resumes_to_the_metrics_of_an_uninterrupted_one, below).
@pytest.mark.slow
def test_a_killed_run_resumes_to_the_metrics_of_an_uninterrupted_one(tmp_path: Path, monkeypatch) -> None:
    # In-process runs below must compose the same config as the killed command: same cwd, same data dir.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path / "data"))
    runs = tmp_path / "outputs" / "runs"

    killed = kill_after_first_checkpoint(RUN, cwd=tmp_path)
    last = killed / "checkpoints" / "last.ckpt"
    assert not (killed / "results.json").exists(), "the run finished before the kill: nothing was tested"
    assert torch.load(last, weights_only=True)["epoch"] < 2
    before = fingerprint(killed)

    by_search = train(compose_run([*RUN, "ckpt_path=last"], runs / "resumed_by_search"))
    by_path = train(compose_run([*RUN, f"ckpt_path={last}"], runs / "resumed_by_path"))
    uninterrupted = train(compose_run(RUN, runs / "uninterrupted"))

    assert by_search["resumed_from"] == str(last) and by_path["resumed_from"] == str(last)
    for record in (by_search, by_path, uninterrupted):
        assert record["status"] == "ok" and record["epochs"] == 3 and record["steps"] == uninterrupted["steps"]
    assert by_search["test"] == uninterrupted["test"]  # bit for bit: every count, every float
    assert by_path["test"] == uninterrupted["test"]
    assert read_results(runs / "resumed_by_path")["test"] == read_results(runs / "uninterrupted")["test"]
    assert fingerprint(killed) == before  # resuming only read the interrupted run's directory

    # The resumed runs' history.csv goes on from the killed run's rows up to its checkpoint, and every epoch's
    # figures are those of the uninterrupted run (only the wall time differs).
    def figures(run: str) -> list[dict]:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in read_history(runs / run)]

    assert [row["epoch"] for row in figures("uninterrupted")] == [1, 2, 3]
    assert figures("resumed_by_search") == figures("resumed_by_path") == figures("uninterrupted")


class CrashInSecondEpoch(pl.Callback):
    """A crash of the process, in-process: raises as the second epoch starts, after the first epoch's last.ckpt."""

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == 1:
            raise RuntimeError("crash")


class CountSteps(pl.Callback):
    """Counts the training steps this process took (a resumed run takes only those after its checkpoint)."""

    taken = 0

    def on_train_batch_end(self, *args: object) -> None:
        CountSteps.taken += 1


def test_a_crashed_run_resumes_to_the_metrics_of_an_uninterrupted_one(tmp_path: Path, monkeypatch) -> None:
    """The fast sibling of the SIGKILL test above: the crash is an exception, the rest is the same."""
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "outputs" / "runs"
    short = [*RUN, "++trainer.limit_train_batches=6", "++trainer.limit_val_batches=1"]
    crash = [f"+callbacks.crash._target_={__name__}.CrashInSecondEpoch"]
    with pytest.raises(RuntimeError, match="crash"):
        train(compose_run([*short, *crash], runs / "crashed"))
    last = runs / "crashed" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["epoch"] == 0
    count = [f"+callbacks.count._target_={__name__}.CountSteps"]
    resumed = train(compose_run([*short, *count, f"ckpt_path={last}"], runs / "resumed"))
    assert CountSteps.taken == 12  # epochs 2 and 3 only: the first came from the checkpoint
    uninterrupted = train(compose_run(short, runs / "uninterrupted"))
    assert resumed["status"] == uninterrupted["status"] == "ok" and resumed["resumed_from"] == str(last)
    assert resumed["steps"] == uninterrupted["steps"] == 18
    assert resumed["test"] == uninterrupted["test"]  # bit for bit: every count, every float


def test_ckpt_path_last_names_the_difference_when_no_run_matches(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "outputs" / "runs"
    train(compose_run([*QUICK, "model=mlp"], runs / "mlp"))
    with pytest.raises(ConfigError, match=r"ckpt_path=last: no checkpoints/last.ckpt .*1 compared.*model\."):
        train(compose_run([*QUICK, "model=lenet", "ckpt_path=last"], runs / "lenet"))
    assert not (runs / "lenet" / "checkpoints").exists()  # refused before any training


def test_a_checkpoint_of_another_model_is_refused_before_training(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "outputs" / "runs"
    train(compose_run([*QUICK, "model=mlp"], runs / "mlp"))
    mlp_last = runs / "mlp" / "checkpoints" / "last.ckpt"
    with pytest.raises(CheckpointError, match=r"weights do not fit this run's model"):
        train(compose_run([*QUICK, "model=lenet", f"ckpt_path={mlp_last}"], runs / "lenet"))
    assert not (runs / "lenet" / "checkpoints").exists()


def test_a_directory_holding_another_runs_checkpoints_is_left_untouched(tmp_path: Path) -> None:
    crashed = tmp_path / "crashed"  # e.g. hydra.run.dir=crashed given again after that run died
    (crashed / "checkpoints").mkdir(parents=True)
    (crashed / "checkpoints" / "last.ckpt").write_bytes(b"the crashed run's weights")
    cfg = compose_run(QUICK, crashed)
    with pytest.raises(RunDirInUseError, match=r"already holds another run's checkpoints.*ckpt_path=.*last.ckpt"):
        train(cfg)
    with pytest.raises(SystemExit):  # from the command line: one line, exit 2, and no failure record written there
        run_job(train, cfg)
    assert sorted(p.name for p in crashed.rglob("*")) == ["checkpoints", "last.ckpt"]
