"""Losses. Each decides its own target encoding: class indices, or one-hot for MSE."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from convlab.errors import ConfigError

_OUTPUT_ACTIVATIONS = {
    "softmax": lambda z: torch.softmax(z, dim=1),
    "sigmoid": torch.sigmoid,
    "none": lambda z: z,
}


class CrossEntropy(nn.Module):
    """Cross-entropy on logits against class indices; ``label_smoothing`` as torch's (0 = none): the target puts
    1 - label_smoothing on the true class and spreads label_smoothing evenly over all classes."""

    task_kinds = ("classification",)

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing <= 1.0:
            raise ConfigError(f"loss.label_smoothing={label_smoothing!r} is out of range: must be a number in [0, 1]")
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target, label_smoothing=self.label_smoothing)


class MSE(nn.Module):
    """Mean squared error. Class-index targets become one-hot, as in the 8-layer-CNN article
    (Keras' mean_squared_error on softmax outputs); real-valued targets (filtered images) are used as is.
    """

    task_kinds = ("classification", "filter")

    def __init__(self, activation: str = "softmax") -> None:
        super().__init__()
        if activation not in _OUTPUT_ACTIVATIONS:
            raise ConfigError(f"loss.activation={activation!r}: choose one of {list(_OUTPUT_ACTIVATIONS)}")
        self.activation = activation
        self._output_fn = _OUTPUT_ACTIVATIONS[activation]

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if not target.is_floating_point():
            target = F.one_hot(target, num_classes=output.shape[1]).to(output.dtype)
        return F.mse_loss(self._output_fn(output), target)
