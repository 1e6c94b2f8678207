"""Checkpoint files written atomically: a run killed at any moment leaves the previous complete checkpoint
or the new complete one, never a truncated file that a later resume or eval would half-read.

Lightning's default TorchCheckpointIO serialises to memory and then writes through an fsspec transaction,
whose temp file lives in the system temp directory: when that is another filesystem (tmpfs /tmp), the final
move is a copy into the destination, which a kill can cut short. Here the temp file sits beside the target,
is fsynced, and renamed into place (convlab.fileio.atomic_write).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.plugins.io import TorchCheckpointIO
from pytorch_lightning.trainer.states import TrainerFn

from convlab.fileio import atomic_write


class AtomicCheckpointIO(TorchCheckpointIO):
    """TorchCheckpointIO whose saves are temp file + fsync + rename in the checkpoint's own directory."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__}.save_checkpoint does not take storage_options")
        atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))


class ModelCheckpoint(pl.callbacks.ModelCheckpoint):
    """Lightning's ModelCheckpoint, but ``last.ckpt`` is always the newest state, whatever the monitored metric did.

    pytorch-lightning 2.6 rewrites ``last.ckpt`` at an epoch end only when a top-k (best) checkpoint was saved at
    the same step, so after the best epoch it goes stale: a run that ends after its best epoch leaves ``last.ckpt``
    at the best epoch, and a resume or ``eval.py`` on it starts from an older state than the run ended at. Here
    ``last.ckpt`` is also written at every checkpointing epoch end (``every_n_epochs``) without a new best, and at
    the end of training. Every argument is ModelCheckpoint's.
    """

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        # The epoch's validation, if any, has run by now (and Lightning may have saved there): this is its end state.
        if self._epoch_due(trainer):
            self._save_last_if_stale(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        self._save_last_if_stale(trainer)  # the final state, however training stopped (max_steps, early stopping)

    def _epoch_due(self, trainer: pl.Trainer) -> bool:
        return self._every_n_epochs >= 1 and (trainer.current_epoch + 1) % self._every_n_epochs == 0

    def _save_last_if_stale(self, trainer: pl.Trainer) -> None:
        if not self.save_last or trainer.fast_dev_run or trainer.sanity_checking:
            return
        if trainer.state.fn != TrainerFn.FITTING or trainer.global_step == 0:  # nothing trained, nothing to save
            return
        if self._last_global_step_saved == trainer.global_step and self._last_checkpoint_saved == self.last_model_path:
            return  # last.ckpt already holds this step
        self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))


class CheckpointOnInterrupt(Callback):
    """On Ctrl-C during training, leave a checkpoint to resume from at ``path`` (the run's last.ckpt) when the
    run has none yet, e.g. in its first epoch. A last.ckpt from an earlier epoch end is kept as it is."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, KeyboardInterrupt) or self.path.exists() or trainer.state.fn != "fit":
            return
        if trainer.global_step == 0:  # nothing learned yet: nothing worth resuming
            return
        trainer.save_checkpoint(self.path)  # through the trainer's AtomicCheckpointIO: never left half-written
