"""The callbacks of a SLURM requeue: a checkpoint when a signal stops training, the signals' hold on the trainer,
and a mid-epoch resume (convlab.checkpoints.requeue, convlab.checkpoints.job_signals)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from lightning_fabric.plugins.environments import SLURMEnvironment
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.utilities.exceptions import SIGTERMException

from convlab.checkpoints.job_signals import job_signals, time_limit_signal
from convlab.checkpoints.requeue import next_requeue_checkpoint

log = logging.getLogger(__name__)


def requeue_environment() -> SLURMEnvironment | None:
    """Inside a SLURM job, Lightning's SLURM environment (ranks and world size from SLURM) without its requeue
    handling: convlab's own handlers (convlab.checkpoints.job_signals, installed here if train() has not yet)
    hold SIGTERM and the time-limit signal until the process exits, so Lightning neither takes the signal nor
    writes its ``<default_root_dir>/hpc_ckpt_<n>.ckpt``. None outside SLURM."""
    if not SLURMEnvironment.detect():
        return None
    job_signals()
    return SLURMEnvironment(auto_requeue=False, requeue_signal=time_limit_signal())


def set_aside_lightning_checkpoints(trainer: Trainer) -> list[Path]:
    """Move every ``hpc_ckpt_<n>.ckpt`` out of ``trainer.default_root_dir`` (into its checkpoints/, as
    ``lightning_hpc_<n>.ckpt``). Inside SLURM, Lightning's fit and test with ckpt_path=None restore the newest such
    file (an older convlab or Lightning's own requeue handler left it): a test would report those weights, not
    the ones fit ended with. convlab's checkpoints are explicit (ckpt_path) and live under checkpoints/."""
    root = Path(trainer.default_root_dir)
    if not SLURMEnvironment.detect() or not root.is_dir():  # outside SLURM Lightning never looks for them
        return []
    moved = []
    for path in sorted(p for p in root.glob("*hpc_ckpt_*") if p.is_file()):
        target = root / "checkpoints" / path.name.replace("hpc_ckpt_", "lightning_hpc_")
        target.parent.mkdir(exist_ok=True)
        path.replace(target)
        moved.append(target)
        log.warning("%s set aside as %s: Lightning would load it instead of this run's weights", path, target)
    return moved


class StopOnJobSignal(Callback):
    """A signal noted before fit or test started (convlab.checkpoints.job_signals) stops it at its first batch;
    one arriving while it runs, at the end of the current batch."""

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        job_signals().trainer = trainer

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        job_signals().stop_trainer()  # Lightning cleared its SIGTERM flag when it (re)installed its handlers

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        job_signals().stop_trainer()


class CheckpointOnRequeue(Callback):
    """Inside a SLURM job, a signal that stops training (SIGTERM of a requeue, preemption or scancel; the
    time-limit signal) leaves ``<checkpoint_dir>/hpc_ckpt_<n>.ckpt`` with the state at the end of the batch it
    arrived in."""

    def __init__(self, checkpoint_dir: str | os.PathLike) -> None:
        self.checkpoint_dir = Path(checkpoint_dir)
        self.saved: Path | None = None

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        # received_sigterm (set by Lightning's SIGTERM handler or by JobSignals): SIGTERMException arrives here.
        sigterm = isinstance(exception, SIGTERMException) or trainer.received_sigterm
        if not sigterm or not SLURMEnvironment.detect():
            return
        if trainer.state.fn != "fit" or trainer.global_step == 0:
            return
        self.saved = next_requeue_checkpoint(self.checkpoint_dir)
        trainer.save_checkpoint(self.saved)
        log.info(
            "signal inside SLURM job %s at step %d: saved %s",
            os.environ.get("SLURM_JOB_ID"),
            trainer.global_step,
            self.saved,
        )


class ResumeMidEpoch(Callback):
    """When a resume restores a position inside an epoch, the training sampler skips the batches before it.
    (Lightning calls no on_train_epoch_start for an epoch it resumes mid-way: this runs at on_train_start.)"""

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        epoch_loop = trainer.fit_loop.epoch_loop
        done = epoch_loop.batch_progress.current.completed if epoch_loop.restarting else 0
        if not done or done >= trainer.num_training_batches:  # at an epoch boundary: nothing to skip
            return
        for loader in _train_loaders(trainer):
            sampler = getattr(loader, "sampler", None)
            if hasattr(sampler, "skip_batches"):
                sampler.skip_batches(done)
                log.info("resuming epoch %d at batch %d", trainer.current_epoch, done)


def _train_loaders(trainer: Trainer) -> list[Any]:
    combined = trainer.fit_loop._combined_loader  # Lightning's wrapper of what train_dataloader() returned
    return list(combined.flattened) if combined is not None else []
