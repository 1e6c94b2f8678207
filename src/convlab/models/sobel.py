"""A single 3x3 convolution without bias (9 parameters): the net that learns an edge filter."""

from __future__ import annotations

import torch
from torch import nn


class SobelNet(nn.Module):
    task_kinds = ("filter",)

    def __init__(self, kernel_size: int = 3) -> None:
        super().__init__()
        # No padding: the target is made with the same 'valid' cross-correlation.
        self.conv = nn.Conv2d(1, 1, kernel_size, bias=False)

    @property
    def kernel(self) -> torch.Tensor:
        return self.conv.weight.detach()[0, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)
