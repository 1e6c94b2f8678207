"""Loading checkpoints safely: weights_only=True, always; anything else is refused, not executed."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

from convlab.errors import CheckpointError


def load_checkpoint(path: str | Path, mmap: bool = False) -> dict[str, Any]:
    """torch.load(weights_only=True), turning every failure into one CheckpointError line.

    ``mmap=True`` maps the tensors instead of reading them: cheap when only the metadata is needed.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else "unpickling error"
        if "weights_only" in str(e) or "Unsupported global" in str(e):
            reason = "it needs arbitrary unpickling, which could run code; refused"
        raise CheckpointError(f"{path}: not loadable with weights_only=True ({reason})") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({first})") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path}: not a Lightning checkpoint (no state_dict)")
    return checkpoint


def run_dir_of(ckpt_path: str | Path) -> Path:
    """<run dir>/checkpoints/x.ckpt -> <run dir>."""
    return Path(ckpt_path).resolve().parent.parent
