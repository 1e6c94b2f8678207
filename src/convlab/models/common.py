"""Pieces shared by the models: activations by name and parameter counting."""

from __future__ import annotations

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


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
