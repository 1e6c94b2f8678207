"""Both losses on small tensors against values computed by hand."""

import math

import pytest
import torch

from convlab.errors import ConfigError
from convlab.tasks.losses import MSE, CrossEntropy


def test_cross_entropy_matches_hand_computation() -> None:
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    target = torch.tensor([0, 2])
    # sample 0: -log(e^2 / (e^2 + 2)); sample 1: -log(1/3)
    expected = (-math.log(math.e**2 / (math.e**2 + 2)) + math.log(3)) / 2
    assert CrossEntropy()(logits, target).item() == pytest.approx(expected, rel=1e-6)


def test_mse_uses_one_hot_targets_on_softmax_outputs() -> None:
    logits = torch.tensor([[0.0, 0.0]])  # softmax -> [0.5, 0.5]
    target = torch.tensor([1])  # one-hot [0, 1]
    # ((0.5 - 0)^2 + (0.5 - 1)^2) / 2 = 0.25
    assert MSE()(logits, target).item() == pytest.approx(0.25)


def test_mse_activation_none_and_sigmoid() -> None:
    logits = torch.tensor([[1.0, -1.0, 3.0]])
    target = torch.tensor([2])  # one-hot [0, 0, 1]
    assert MSE("none")(logits, target).item() == pytest.approx((1 + 1 + 4) / 3)
    s = torch.sigmoid(logits)[0].tolist()
    expected = (s[0] ** 2 + s[1] ** 2 + (s[2] - 1) ** 2) / 3
    assert MSE("sigmoid")(logits, target).item() == pytest.approx(expected, rel=1e-6)


def test_mse_takes_real_valued_targets_as_they_are() -> None:
    out = torch.tensor([[[[1.0, 2.0]]]])
    target = torch.tensor([[[[0.0, 4.0]]]])
    assert MSE("none")(out, target).item() == pytest.approx((1 + 4) / 2)


def test_mse_rejects_unknown_activation() -> None:
    with pytest.raises(ConfigError, match=r"loss\.activation"):
        MSE("relu6")
