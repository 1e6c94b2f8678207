"""The PyTorch-tutorial LeNet: conv 16 -> pool -> conv 32 -> pool -> 120 -> 10 (102,130 parameters on 1 x 28 x 28).

``in_channels``, ``image_size`` and ``num_classes`` are left to the data by conf/model/lenet.yaml (filled from
the dataset's shape); the defaults are MNIST's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from convlab.models.common import data_shape_arguments, make_activation


class LeNet(nn.Module):
    task_kinds = ("classification",)

    def __init__(
        self,
        in_channels: int | None = 1,
        image_size: int | Sequence[int] | None = 28,
        channels: Sequence[int] = (16, 32),
        kernel_size: int = 3,
        hidden: int = 120,
        activation: str = "relu",
        num_classes: int | None = 10,
    ) -> None:
        super().__init__()
        in_channels, (height, across), num_classes = data_shape_arguments(in_channels, image_size, num_classes)
        layers: list[nn.Module] = []
        width = in_channels
        for out in channels:
            layers += [nn.Conv2d(width, out, kernel_size), make_activation(activation), nn.MaxPool2d(2)]
            width, height, across = out, (height - kernel_size + 1) // 2, (across - kernel_size + 1) // 2
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(width * height * across, hidden),
            make_activation(activation),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
