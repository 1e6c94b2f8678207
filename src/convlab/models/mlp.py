"""The Keras-example MLP: 784 -> 512 -> 512 -> 10 with dropout 0.2 (669,706 parameters on 1 x 28 x 28).

The input width is the flattened image (``in_channels`` x ``image_size``), which conf/model/mlp.yaml leaves to the
data, or ``in_features`` when given.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from convlab.models.common import data_shape_arguments, make_activation


class MLP(nn.Module):
    task_kinds = ("classification",)

    def __init__(
        self,
        in_features: int | None = None,
        hidden: Sequence[int] = (512, 512),
        dropout: float = 0.2,
        activation: str = "relu",
        num_classes: int | None = 10,
        in_channels: int | None = 1,
        image_size: int | Sequence[int] | None = 28,
    ) -> None:
        super().__init__()
        in_channels, (height, across), num_classes = data_shape_arguments(in_channels, image_size, num_classes)
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features or in_channels * height * across  # the flattened image: 784 for 1 x 28 x 28
        for size in hidden:
            layers += [nn.Linear(width, size), make_activation(activation), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
