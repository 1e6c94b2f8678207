"""The callbacks of a SLURM requeue: a checkpoint on SIGTERM, and a mid-epoch resume (convlab.checkpoints.requeue)."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import Any

from lightning_fabric.plugins.environments import SLURMEnvironment
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.utilities.exceptions import SIGTERMException

from convlab.checkpoints.requeue import next_requeue_checkpoint

log = logging.getLogger(__name__)


def requeue_environment() -> SLURMEnvironment | None:
    """Inside a SLURM job, Lightning's SLURM environment owning the signal submitit's sbatch script asks for
    before the time limit (USR2, or SUBMITIT_PREEMPT_SIGNAL): on it Lightning saves ``hpc_ckpt_<n>.ckpt`` and
    requeues the job, whose SIGTERM then stops training here too. submitit's handler for that signal (a
    resubmission without training state) is switched off: Lightning only takes a signal nobody handles yet.
    None outside SLURM."""
    if not SLURMEnvironment.detect():
        return None
    requeue_signal = getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2").upper())
    signal.signal(requeue_signal, signal.SIG_DFL)
    return SLURMEnvironment(auto_requeue=True, requeue_signal=requeue_signal)


class CheckpointOnRequeue(Callback):
    """Inside a SLURM job, the SIGTERM of a requeue or preemption leaves ``<checkpoint_dir>/hpc_ckpt_<n>.ckpt``
    with the state at the end of the batch the signal arrived in."""

    def __init__(self, checkpoint_dir: str | os.PathLike) -> None:
        self.checkpoint_dir = Path(checkpoint_dir)
        self.saved: Path | None = None

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        # Lightning's SIGTERM handler set received_sigterm; its SIGTERMException is what normally arrives here.
        sigterm = isinstance(exception, SIGTERMException) or trainer.received_sigterm
        if not sigterm or not SLURMEnvironment.detect():
            return
        if trainer.state.fn != "fit" or trainer.global_step == 0:
            return
        self.saved = next_requeue_checkpoint(self.checkpoint_dir)
        trainer.save_checkpoint(self.saved)
        log.info(
            "SIGTERM inside SLURM job %s at step %d: saved %s",
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
