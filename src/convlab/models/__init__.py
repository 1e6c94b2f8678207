"""Plain PyTorch models with the published shapes. None of them knows its loss or optimizer."""

from convlab.models.cnn8 import CNN8
from convlab.models.common import count_parameters
from convlab.models.lenet import LeNet
from convlab.models.mlp import MLP
from convlab.models.sobel import SobelNet

__all__ = ["CNN8", "MLP", "LeNet", "SobelNet", "count_parameters"]
