"""The model is built and given one input of the dataset's shape before any training: a channel, size or
class-count mismatch is one line naming both shapes, not a traceback after training has started.

The forward pass runs in eval mode, under no_grad, inside torch.random.fork_rng: building the model draws its
initial weights, and neither that nor a forward pass may move the seeds a run starts from. It is done once per
distinct (model node, data shape) in a process, so a sweep builds each model once.
"""

from __future__ import annotations

import json
import re
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from convlab.config.model_node import model_node
from convlab.config.overrides import group_choices
from convlab.config.runtime import per_command
from convlab.config.targets import DEFAULT_TASK_KIND, locate, task_kind
from convlab.errors import ConfigError

# dataset node (as JSON) -> its DataShape; (model node, shape) pairs that fit.
_shapes: dict[str, Any] = per_command({})
_fits: set[str] = per_command(set())


def data_shape(cfg: DictConfig) -> Any | None:
    """The dataset's DataShape (its data module's ``shape()``), or None for a data module that has none (the
    image-filter data) or a dataset node that cannot be resolved outside a run."""
    if not hasattr(locate(str(cfg.dataset._target_), "dataset._target_"), "shape"):
        return None
    try:
        node = OmegaConf.to_container(cfg.dataset, resolve=True)
    except OmegaConfBaseException:  # an interpolation only a run can resolve (${hydra:...}): checked in the run
        return None
    node.pop("seed", None)  # shuffling only: a sweep over seeds asks a data module that loads its data once
    key = json.dumps(node, sort_keys=True, default=str)
    if key not in _shapes:
        from convlab.config.instantiate import make  # imports Lightning: not before the pre-check needs it

        _shapes[key] = make(cfg.dataset, "dataset").shape()
    return _shapes[key]


def check_shapes(cfg: DictConfig) -> None:
    """Build the model (its data arguments filled) and pass one zero input of the dataset's shape through it;
    ConfigError (one line naming both shapes) when it does not fit."""
    shape = data_shape(cfg)
    if shape is None:
        return
    node = model_node(cfg, shape)
    key = json.dumps([OmegaConf.to_container(node), shape.input_shape, shape.num_classes], sort_keys=True, default=str)
    if key in _fits:
        return
    import torch

    from convlab.config.instantiate import make

    names = group_choices(cfg)
    model_name, data_name = f"model={names.get('model')}", f"dataset={names.get('dataset')}"
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        model = make(node, "model")
        if not isinstance(model, torch.nn.Module):
            raise ConfigError(
                f"{model_name}: model._target_={node._target_} returns a {type(model).__name__}, not a torch.nn.Module"
            )
        model.eval()
        try:
            output = model(torch.zeros(1, *shape.input_shape))
        except (RuntimeError, ValueError, IndexError) as e:
            raise ConfigError(
                f"{model_name} {_expectation(str(e))}, but {data_name} gives {shape.describe()}"
            ) from None
    if task_kind(locate(str(cfg.task._target_), "task._target_")) == DEFAULT_TASK_KIND:
        _check_outputs(output, shape, model_name, data_name)
    _fits.add(key)


def _expectation(message: str) -> str:
    """What the model expected, from torch's message about the input it could not take."""
    first = message.strip().splitlines()[0] if message.strip() else message
    channels = re.search(r"expected input\[[^\]]*\] to have (\d+) channels", first)
    if channels:
        return f"expects {channels.group(1)} input channels"
    if "mat1 and mat2" in first:
        return f"expects inputs of another size (torch: {first})"
    if "Kernel size can't be greater than actual input size" in first or "Output size is too small" in first:
        return f"expects larger inputs (torch: {first})"
    return f"cannot take one input (torch: {first})"


def _check_outputs(output: Any, shape: Any, model_name: str, data_name: str) -> None:
    import torch

    if not isinstance(output, torch.Tensor):
        raise ConfigError(f"{model_name} returns a {type(output).__name__}, not a tensor of class scores")
    classes = shape.num_classes
    if output.dim() != 2 or output.shape[0] != 1:
        outputs = " x ".join(str(n) for n in output.shape[1:])
        raise ConfigError(
            f"{model_name} gives outputs of {outputs} per input, but {data_name} ({shape.describe()}) needs "
            f"{classes} class scores per input"
        )
    if output.shape[1] != classes:
        raise ConfigError(
            f"{model_name} gives {output.shape[1]} class scores per input, but {data_name} gives "
            f"{shape.describe()}: leave model.num_classes unset (filled from the data) or set it to {classes}"
        )
