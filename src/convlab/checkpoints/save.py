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

import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.plugins.io import TorchCheckpointIO

from convlab.fileio import atomic_write


class AtomicCheckpointIO(TorchCheckpointIO):
    """TorchCheckpointIO whose saves are temp file + fsync + rename in the checkpoint's own directory."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__}.save_checkpoint does not take storage_options")
        atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))


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
