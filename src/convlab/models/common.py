"""Pieces shared by the models: activations by name and parameter counting."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from convlab.errors import ConfigError

# Configs name activations as strings (``model.activation=tanh``) rather than nested _target_ blocks,
# which are clumsy to override from the command line.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "identity": nn.Identity,
}


def make_activation(name: str, key: str = "model.activation") -> nn.Module:
    """A fresh activation module for ``name``; unknown names list the valid ones."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ConfigError(f"{key}={name!r} is not an activation; choose one of {sorted(ACTIVATIONS)}") from None


# What in_channels, image_size and num_classes mean when None (a config instantiated without the data's shape
# filled in, as conf/model/*.yaml leave them): MNIST's 1 x 28 x 28 images of 10 classes.
MNIST_DEFAULTS = (1, 28, 10)


def data_shape_arguments(
    in_channels: int | None, image_size: int | Sequence[int] | None, num_classes: int | None
) -> tuple[int, tuple[int, int], int]:
    """(in_channels, (height, width), num_classes), None read as MNIST's; ``image_size`` an int or [H, W]."""
    channels, size, classes = MNIST_DEFAULTS
    size = size if image_size is None else image_size
    height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    return (
        channels if in_channels is None else in_channels,
        (height, width),
        classes if num_classes is None else num_classes,
    )


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
