"""Checkpoint files written atomically: a run killed at any moment leaves the previous complete checkpoint
or the new complete one, never a truncated file that a later resume or eval would half-read.

Lightning's default TorchCheckpointIO serialises to memory and then writes through an fsspec transaction,
whose temp file lives in the system temp directory: when that is another filesystem (tmpfs /tmp), the final
move is a copy into the destination, which a kill can cut short. Here the temp file sits beside the target,
is fsynced, and renamed into place (convlab.fileio.atomic_write).
"""

from __future__ import annotations

import os
from typing import Any

import torch
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
