"""The Keras-example MLP: 784 -> 512 -> 512 -> 10 with dropout 0.2 (669,706 parameters)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from convlab.models.common import make_activation


class MLP(nn.Module):
    task_kinds = ("classification",)

    def __init__(
        self,
        in_features: int = 784,
        hidden: Sequence[int] = (512, 512),
        dropout: float = 0.2,
        activation: str = "relu",
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for size in hidden:
            layers += [nn.Linear(width, size), make_activation(activation), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
