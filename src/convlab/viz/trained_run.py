"""A trained run's model, rebuilt from its own config, and the inputs to show it.

The config comes from the run (``convlab.checkpoints.load.training_config``: <run dir>/.hydra/config.yaml or the
copy inside the checkpoint) and the weights from ``load_checkpoint`` (torch.load with weights_only=True).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import nn

from convlab.checkpoints.load import load_checkpoint, run_dir_of, training_config
from convlab.errors import CheckpointError, ConfigError
from convlab.runfiles import LAST_CHECKPOINT


@dataclass
class TrainedRun:
    model: nn.Module
    cfg: DictConfig
    choices: dict[str, str]
    run_dir: Path
    checkpoint: Path


def checkpoint_of(path: str | Path) -> Path:
    """A checkpoint file as given, or a run directory's checkpoints/last.ckpt."""
    path = Path(path)
    if path.is_dir():
        ckpt = path / LAST_CHECKPOINT
        if not ckpt.is_file():
            raise CheckpointError(f"{path}: no {LAST_CHECKPOINT} (give a run directory or a .ckpt file)")
        return ckpt
    if not path.is_file():
        raise CheckpointError(f"{path}: no such run directory or checkpoint file")
    return path


def load_trained_run(path: str | Path) -> TrainedRun:
    """The run's model with its trained weights, in eval mode, and the run's config (paths resolved to it)."""
    from convlab.config.instantiate import make

    ckpt = checkpoint_of(path)
    checkpoint = load_checkpoint(ckpt)
    cfg, choices, _ = training_config(ckpt, checkpoint)
    run_dir = run_dir_of(ckpt)
    with open_dict(cfg):
        cfg.paths.output_dir = str(run_dir)  # the saved config names it through Hydra's runtime
    model = make(cfg.model, "model")
    # The task holds the model as ``self.model``: its weights are the "model." entries.
    weights = {k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise CheckpointError(
            f"{ckpt}: weights do not fit the model of its config ({str(e).splitlines()[0]})"
        ) from None
    return TrainedRun(model.eval(), cfg, choices, run_dir, ckpt)


def build_data(cfg: DictConfig) -> Any:
    """The run's data module, constructed but not loaded (cheap: normalisation constants, kernel...)."""
    from convlab.config.instantiate import make

    return make(cfg.dataset, "dataset")


def input_from_data(datamodule: Any, index: int) -> tuple[torch.Tensor, str]:
    """Test image ``index`` as the model saw it (normalised), or a filter run's training photo."""
    datamodule.prepare_data()
    datamodule.setup("test")
    if getattr(datamodule, "task_kind", None) == "filter":
        return datamodule.train_pair[0], f"training photo {datamodule.image_spec}"
    test = datamodule.test
    if not 0 <= index < len(test):
        raise ConfigError(f"--index {index} is out of range: the test split has {len(test)} images (0-{len(test) - 1})")
    label = datamodule.class_names[int(test.labels[index])]
    return datamodule.normalize(test.images[index : index + 1]), f"test image {index} (class {label})"


def input_from_photo(spec: str, datamodule: Any, size: int | None, channels: int = 1) -> tuple[torch.Tensor, str]:
    """A photo (file or bundled name), in grayscale or colour as the model takes (``channels``); for a classifier,
    resized to ``size`` and normalised."""
    from convlab.data.photos import load_photo

    x = load_photo(spec, key="--image", channels=channels).unsqueeze(0)
    if getattr(datamodule, "task_kind", None) == "filter":
        return x, f"photo {spec}"
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    pixels = (x.clamp(0, 1) * 255).round().to(torch.uint8)  # the data modules' uint8 form, N x C x H x W
    return datamodule.normalize(pixels), f"photo {spec}, resized to {size}x{size}"


def input_channels(model: nn.Module) -> int:
    """The channels the model's first convolution reads (1 for a model with none: an MLP on grayscale)."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return int(conv.in_channels) if conv is not None else 1


def model_input_size(cfg: DictConfig) -> int:
    """Side of the square images the classifier was built for (28 for every convlab dataset)."""
    size = OmegaConf.select(cfg, "model.image_size", default=None)
    if size is None:
        features = OmegaConf.select(cfg, "model.in_features", default=784)
        size = math.isqrt(int(features))
    return int(size)
