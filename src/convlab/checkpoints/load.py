"""Loading checkpoints safely: weights_only=True, always; anything else is refused, not executed."""

from __future__ import annotations

import pickle
import re
import warnings
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from convlab.config.overrides import named_by_target
from convlab.errors import CheckpointError

# What torch's weights-only unpickler says when a file asks for a class or function it will not build.
UNSAFE_MARKERS = (
    "was not an allowed global",
    "is blocked",
    "Can only create new object",
    "Trying to call reduce for unrecognized function",
)
# Lines of torch's weights-only error that explain torch.load rather than this file.
TORCH_BOILERPLATE = ("Weights only load failed", "Check the documentation", "Please file an issue", "(1) ", "(2) ")


def load_checkpoint(path: str | Path, mmap: bool = False) -> dict[str, Any]:
    """torch.load(weights_only=True), turning every failure into one CheckpointError line.

    ``mmap=True`` maps the tensors instead of reading them: cheap when only the metadata is needed.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with warnings.catch_warnings():  # torch warns about odd pickle protocols in damaged files; we say more
            warnings.simplefilter("ignore", UserWarning)
            checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        if any(s in str(e) for s in UNSAFE_MARKERS):
            wanted = re.search(r"GLOBAL (\S+)", str(e))
            raise CheckpointError(
                f"{path}: not loadable with weights_only=True (it needs arbitrary unpickling"
                f"{f' of {wanted.group(1)}' if wanted else ''}, which could run code; refused)"
            ) from None
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({_reason(e)})") from None
    except Exception as e:  # damaged bytes surface as many types (IndexError, KeyError, zip and EOF errors, ...)
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({_reason(e)})") from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise CheckpointError(f"{path}: not a Lightning checkpoint (no state_dict)")
    return checkpoint


def _reason(e: Exception) -> str:
    """The line of an error that is about the file (torch's weights-only message wraps it in advice)."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    about_the_file = [line for line in lines if not line.startswith(TORCH_BOILERPLATE)]
    line = re.split(r"(?<=\.)\s", (about_the_file or lines or [""])[0])[0]  # its first sentence
    return f"{type(e).__name__}: {line}" if line else type(e).__name__


def run_dir_of(ckpt_path: str | Path) -> Path:
    """<run dir>/checkpoints/x.ckpt -> <run dir>."""
    return Path(ckpt_path).resolve().parent.parent


def training_config(ckpt_path: Path, checkpoint: dict[str, Any]) -> tuple[DictConfig, dict[str, str], list[str]]:
    """The training run's config, group choices and overrides."""
    run_dir = run_dir_of(ckpt_path)
    stored = checkpoint.get("convlab") or {}
    hydra_dir = run_dir / ".hydra"
    if (hydra_dir / "config.yaml").is_file():
        cfg = OmegaConf.load(hydra_dir / "config.yaml")
        hydra_cfg = OmegaConf.load(hydra_dir / "hydra.yaml").hydra if (hydra_dir / "hydra.yaml").is_file() else None
        choices = dict(hydra_cfg.runtime.choices) if hydra_cfg is not None else {}
        overrides = list(hydra_cfg.overrides.task) if hydra_cfg is not None else []
    elif stored.get("config"):
        cfg = OmegaConf.create(stored["config"])
        choices, overrides = stored.get("choices", {}), stored.get("overrides", [])
    else:
        raise CheckpointError(f"{ckpt_path}: no {hydra_dir / 'config.yaml'} and no config inside the checkpoint")
    if isinstance(stored.get("model_node"), dict):  # the model as built (convlab.config.model_node): rebuilt as is
        cfg.model = OmegaConf.create(stored["model_node"])
    names = named_by_target({k: str(v) for k, v in choices.items() if v is not None}, cfg, overrides)
    return cfg, names, overrides
