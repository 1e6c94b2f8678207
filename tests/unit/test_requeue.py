"""A run resumed mid-epoch (a SLURM requeue) trains on exactly the batches an uninterrupted run does, and the
restarted job finds what the requeued one left."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from convlab.checkpoints.requeue import newest_requeue_checkpoint, next_requeue_checkpoint, restart_count
from convlab.checkpoints.requeue_callbacks import ResumeMidEpoch
from convlab.data.tensor_data import BatchIndexSampler
from convlab.run.requeue import requeued_resume


class Recorder(pl.LightningModule):
    """Records (epoch, batch index, first sample) of every training step; stops on the ``stop_at``-th."""

    def __init__(self, stop_at: int | None = None) -> None:
        super().__init__()
        self.layer, self.stop_at, self.seen = torch.nn.Linear(1, 1), stop_at, []

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        if len(self.seen) == self.stop_at:
            raise KeyboardInterrupt  # before this step counts: the checkpoint holds the steps before it
        self.seen.append((self.current_epoch, batch_idx, batch.tolist()))
        return self.layer(batch.float().view(-1, 1)).sum()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.0)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(torch.arange(100), batch_size=None, sampler=BatchIndexSampler(100, 10, shuffle=True))


class SaveOnInterrupt(pl.Callback):
    def __init__(self, path: Path) -> None:
        self.path = path

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        trainer.save_checkpoint(self.path)


def _fit(module: Recorder, *callbacks: pl.Callback, ckpt_path: Path | None = None) -> None:
    trainer = pl.Trainer(
        max_epochs=3,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=list(callbacks),
    )
    trainer.fit(module, ckpt_path=ckpt_path)


def test_a_mid_epoch_resume_sees_the_batches_an_uninterrupted_run_sees(tmp_path: Path) -> None:
    uninterrupted = Recorder()
    _fit(uninterrupted)
    first = Recorder(stop_at=13)  # epoch 1, batch 3
    with pytest.raises(SystemExit):  # Lightning's answer to the interrupt
        _fit(first, SaveOnInterrupt(tmp_path / "mid.ckpt"))
    resumed = Recorder()
    _fit(resumed, ResumeMidEpoch(), ckpt_path=tmp_path / "mid.ckpt")
    assert resumed.seen[0][:2] == (1, 3)
    assert first.seen + resumed.seen == uninterrupted.seen
    without = Recorder()  # the check can fail: Lightning alone restarts the epoch's batches from its first
    _fit(without, ckpt_path=tmp_path / "mid.ckpt")
    assert first.seen + without.seen != uninterrupted.seen


def test_the_restarted_job_continues_from_the_newest_requeue_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    assert (
        newest_requeue_checkpoint(checkpoints) is None
        and next_requeue_checkpoint(checkpoints).name == "hpc_ckpt_1.ckpt"
    )
    for n, step in ((1, 155), (2, 301)):
        torch.save({"global_step": step, "state_dict": {}}, checkpoints / f"hpc_ckpt_{n}.ckpt")
    assert newest_requeue_checkpoint(checkpoints).name == "hpc_ckpt_2.ckpt"
    earlier = {"status": "interrupted", "requeues": [{"restart": 1, "at_step": 155}], "overrides": []}
    earlier.update(dataset="digits", model="lenet", optim="sgd", loss="ce")
    (tmp_path / "results.json").write_text(json.dumps(earlier))
    monkeypatch.delenv("SLURM_RESTART_COUNT", raising=False)
    assert restart_count() == 0 and requeued_resume(tmp_path) is None  # not a restarted SLURM job
    monkeypatch.setenv("SLURM_RESTART_COUNT", "2")
    (path, contents), extra = requeued_resume(tmp_path)
    assert path == checkpoints / "hpc_ckpt_2.ckpt" and contents["global_step"] == 301
    assert extra == {"requeues": [{"restart": 1, "at_step": 155}, {"restart": 2, "at_step": 301}], "requeue_count": 2}
    (tmp_path / "results.json").write_text(json.dumps({**earlier, "status": "ok", "test": {"acc": 0.9}}))
    assert requeued_resume(tmp_path) is None  # a finished run is not continued


def test_in_a_slurm_job_convlab_takes_submitits_time_limit_signal(monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    import convlab.checkpoints.job_signals as job_signals_module
    from convlab.checkpoints.requeue_callbacks import requeue_environment

    for name in ("SLURM_NTASKS", "SLURM_JOB_NAME", "SUBMITIT_PREEMPT_SIGNAL", "SLURM_JOB_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(job_signals_module, "_signals", None)
    assert requeue_environment() is None  # not a SLURM job
    monkeypatch.setattr(job_signals_module, "_signals", None)
    monkeypatch.setenv("SLURM_NTASKS", "1")
    monkeypatch.setenv("SLURM_JOB_NAME", "train")
    previous = signal.signal(signal.SIGUSR2, lambda *_: None)  # as submitit's job wrapper leaves it
    term = signal.getsignal(signal.SIGTERM)
    try:
        environment = requeue_environment()
        assert environment is not None and not environment.auto_requeue  # Lightning's requeue handler stays off
        assert environment.requeue_signal == signal.SIGUSR2
        assert signal.getsignal(signal.SIGUSR2) == job_signals_module.job_signals().note  # convlab's, not submitit's
    finally:
        signal.signal(signal.SIGUSR2, previous)
        signal.signal(signal.SIGTERM, term)
