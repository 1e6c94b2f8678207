"""The 8-layer CNN of the digit-recognizer article (7,293,578 parameters).

Layers, not counting the input: reshape 784 -> 1x28x28, conv 32 3x3 'same', conv 32 3x3 'same',
2x2 average pool, flatten 6272, dense 1000 sigmoid, dense 1000 sigmoid, dense 10.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from convlab.models.common import data_shape_arguments, make_activation


class CNN8(nn.Module):
    task_kinds = ("classification",)

    def __init__(
        self,
        in_channels: int | None = 1,
        image_size: int | Sequence[int] | None = 28,
        channels: Sequence[int] = (32, 32),
        kernel_size: int = 3,
        conv_activation: str = "relu",
        hidden: Sequence[int] = (1000, 1000),
        hidden_activation: str = "sigmoid",
        num_classes: int | None = 10,
    ) -> None:
        super().__init__()
        in_channels, (height, across), num_classes = data_shape_arguments(in_channels, image_size, num_classes)
        self.input_shape = (in_channels, height, across)
        convs: list[nn.Module] = []
        width = in_channels
        for out in channels:
            convs += [
                nn.Conv2d(width, out, kernel_size, padding="same"),
                make_activation(conv_activation, "model.conv_activation"),
            ]
            width = out
        self.features = nn.Sequential(*convs, nn.AvgPool2d(2))
        dense: list[nn.Module] = [nn.Flatten()]
        features = width * (height // 2) * (across // 2)
        for size in hidden:
            dense += [
                nn.Linear(features, size),
                make_activation(hidden_activation, "model.hidden_activation"),
            ]
            features = size
        dense.append(nn.Linear(features, num_classes))
        self.classifier = nn.Sequential(*dense)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The article feeds flat 784-vectors and reshapes inside the net; accept both forms.
        x = x.reshape(x.shape[0], *self.input_shape)
        return self.classifier(self.features(x))
