"""Inside a SLURM job (SLURM's variables set, no scheduler needed): the test uses the weights fit ended with, a
restart continues from the newest checkpoint whatever the earlier attempt wrote, and a signal at any phase
leaves a results.json that is not ok."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import ClassVar

import pytest
import pytorch_lightning as pl
import torch
from helpers import QUICK

import convlab.checkpoints.job_signals as job_signals_module
from convlab.checkpoints.job_signals import JobSignals
from convlab.errors import RunDirInUseError, RunInterrupted
from convlab.run.compose import compose_run
from convlab.run.requeue import end_signalled
from convlab.run.train import train
from convlab.runfiles.results import read_results

TWO_EPOCHS = [*QUICK, "trainer.max_epochs=2", "threads=1"]


@pytest.fixture
def slurm_job(monkeypatch: pytest.MonkeyPatch):
    """SLURM's variables of a one-task batch job (Lightning's SLURMEnvironment.detect() is true), a fresh
    JobSignals for the job, and the test process's own signal handlers back afterwards."""
    for name in ("SLURM_RESTART_COUNT", "SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SUBMITIT_PREEMPT_SIGNAL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLURM_NTASKS", "1")
    monkeypatch.setenv("SLURM_JOB_NAME", "x")
    monkeypatch.setattr(job_signals_module, "_signals", None)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGUSR2)}
    yield monkeypatch
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


class SignalAtTest(pl.Callback):
    """Sends this process ``signum`` at the first test batch (a scancel or time limit during test)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        if batch_idx == 0:
            os.kill(os.getpid(), self.signum)


class StaleHpcCheckpoint(pl.Callback):
    """Saves ``<default_root_dir>/hpc_ckpt_1.ckpt`` when training starts, as Lightning's own requeue handler did
    at its signal, and keeps what the model's weights were when fit ended and when the test began."""

    seen: ClassVar[dict[str, list[torch.Tensor]]] = {}  # the instance lives inside train()

    def on_train_start(self, trainer, pl_module) -> None:
        trainer.save_checkpoint(Path(trainer.default_root_dir) / "hpc_ckpt_1.ckpt")

    def on_train_end(self, trainer, pl_module) -> None:
        self.seen["fit_end"] = [p.detach().clone() for p in pl_module.parameters()]

    def on_test_start(self, trainer, pl_module) -> None:
        self.seen["test"] = [p.detach().clone() for p in pl_module.parameters()]


def test_inside_slurm_the_test_uses_the_weights_fit_ended_with_not_a_stale_hpc_checkpoint(
    tmp_path: Path, slurm_job
) -> None:
    callback = f"+callbacks.stale={{_target_: {__name__}.StaleHpcCheckpoint}}"
    run_dir = tmp_path / "job"
    record = train(compose_run([*QUICK, callback], run_dir))
    assert record["status"] == "ok" and record["steps"] == 2
    at_fit_end, at_test = StaleHpcCheckpoint.seen["fit_end"], StaleHpcCheckpoint.seen["test"]
    assert all(torch.equal(a, b) for a, b in zip(at_fit_end, at_test, strict=True))
    assert not list(run_dir.glob("hpc_ckpt_*"))  # set aside: Lightning finds nothing to restore
    stale = torch.load(run_dir / "checkpoints" / "lightning_hpc_1.ckpt", weights_only=True)
    assert stale["global_step"] == 0  # the check can fail: the stale weights are not the final ones
    assert not torch.equal(next(iter(stale["state_dict"].values())), at_test[0])


@pytest.mark.slow  # two runs: about 12 s
def test_a_restart_continues_from_the_newest_checkpoint_though_the_attempt_wrote_no_record(
    tmp_path: Path, slurm_job
) -> None:
    run_dir = tmp_path / "job"
    finished = train(compose_run(TWO_EPOCHS, run_dir))
    (run_dir / "results.json").unlink()  # SIGKILLed after its last checkpoint, before its record
    with pytest.raises(RunDirInUseError):  # not a SLURM restart: a used directory is refused, as before
        train(compose_run(TWO_EPOCHS, run_dir))
    slurm_job.setenv("SLURM_RESTART_COUNT", "1")
    record = train(compose_run(TWO_EPOCHS, run_dir))
    assert record["status"] == "ok" and record["requeues"] == [{"restart": 1, "at_step": 4}]  # only tested again
    assert record["resumed_from"] == str(run_dir / "checkpoints" / "last.ckpt")
    assert record["test"]["acc"] == finished["test"]["acc"] and record["test"]["loss"] == finished["test"]["loss"]
    again = train(compose_run(TWO_EPOCHS, run_dir))  # restarted once more after it finished: its record stands
    assert again == read_results(run_dir)


@pytest.mark.parametrize(
    "signum",
    [signal.SIGTERM, pytest.param(signal.SIGUSR2, marks=pytest.mark.slow)],  # the e2e test covers the time limit
    ids=["scancel", "time-limit"],
)
def test_a_signal_during_test_leaves_results_json_interrupted_never_ok(tmp_path: Path, slurm_job, signum) -> None:
    callback = f"+callbacks.signal_at_test={{_target_: {__name__}.SignalAtTest, signum: {int(signum)}}}"
    run_dir = tmp_path / "job"
    with pytest.raises(RunInterrupted):
        train(compose_run([*QUICK, callback], run_dir))
    record = read_results(run_dir)
    assert record["status"] == "interrupted"  # digits' one test batch ran to its end: its figures, not ok
    assert record["resume_checkpoint"] == str(run_dir / "checkpoints" / "last.ckpt")  # a restart only tests
    reason = "time limit signal at step 2" if signum == signal.SIGUSR2 else "SIGTERM at step 2 (scancel"
    assert record["error"].startswith(reason)


def test_a_job_signalled_while_it_starts_does_not_train(tmp_path: Path, slurm_job) -> None:
    signals = JobSignals()
    signals.received.append("SIGTERM (job CANCELLED before convlab started)")  # what install() finds via scontrol
    slurm_job.setattr(job_signals_module, "_signals", signals)
    run_dir = tmp_path / "job"
    with pytest.raises(RunInterrupted):
        train(compose_run(QUICK, run_dir))
    record = read_results(run_dir)
    assert record["status"] == "interrupted" and record["error"].startswith("SIGTERM (job CANCELLED")
    assert not (run_dir / "checkpoints").exists() and "steps" not in record


def test_the_handlers_are_convlabs_from_the_first_line_and_lightning_writes_no_hpc_checkpoint(
    tmp_path: Path, slurm_job
) -> None:
    from convlab.checkpoints.job_signals import job_signals
    from convlab.checkpoints.requeue_callbacks import requeue_environment

    signals = job_signals()
    assert signal.getsignal(signal.SIGTERM) == signals.note == signal.getsignal(signal.SIGUSR2)
    environment = requeue_environment()
    assert environment is not None and not environment.auto_requeue  # Lightning's requeue handler stays off
    os.kill(os.getpid(), signal.SIGUSR2)  # outside fit: noted, nothing killed
    assert signals.time_limit and signals.time_limit_only
    record = {"status": "ok", "steps": 3}
    end_signalled(tmp_path, record, writes=True)
    assert record["status"] == "ok" and not (tmp_path / "results.json").exists()  # finished before the limit
    os.kill(os.getpid(), signal.SIGTERM)  # a scancel while results.json was written
    end_signalled(tmp_path, record, writes=True)
    assert json.loads((tmp_path / "results.json").read_text())["status"] == "interrupted"
