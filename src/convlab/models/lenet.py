"""The PyTorch-tutorial LeNet: conv 16 -> pool -> conv 32 -> pool -> 120 -> 10 (102,130 parameters)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from convlab.models.common import make_activation


class LeNet(nn.Module):
    task_kinds = ("classification",)

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 28,
        channels: Sequence[int] = (16, 32),
        kernel_size: int = 3,
        hidden: int = 120,
        activation: str = "relu",
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width, size = in_channels, image_size
        for out in channels:
            layers += [nn.Conv2d(width, out, kernel_size), make_activation(activation), nn.MaxPool2d(2)]
            width, size = out, (size - kernel_size + 1) // 2
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(width * size * size, hidden),
            make_activation(activation),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
