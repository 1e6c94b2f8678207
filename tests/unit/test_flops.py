"""Forward FLOPs per sample (results.json's flops_per_sample): 2 x multiply-accumulates of convs and matmuls."""

from __future__ import annotations

import torch

from convlab.models import MLP, LeNet
from convlab.models.flops import forward_flops

DIGIT = torch.zeros(1, 1, 28, 28)


def conv_flops(c_in: int, c_out: int, size_out: int, k: int) -> int:
    return 2 * c_out * size_out * size_out * c_in * k * k


def test_mlp() -> None:
    assert forward_flops(MLP(), DIGIT) == 2 * (784 * 512 + 512 * 512 + 512 * 10) == 1_337_344


def test_lenet_from_its_layer_shapes() -> None:
    # conv 1->16 (3x3) on 28x28 -> 26x26, pool -> 13; conv 16->32 -> 11x11, pool -> 5; 32*5*5 -> 120 -> 10
    expected = conv_flops(1, 16, 26, 3) + conv_flops(16, 32, 11, 3) + 2 * (32 * 5 * 5 * 120 + 120 * 10)
    assert forward_flops(LeNet(), DIGIT) == expected == 1_504_224


def test_counts_one_sample_and_leaves_mode_and_random_state_alone() -> None:
    model = MLP().train()  # dropout: a forward pass in train mode would draw random numbers
    state = torch.get_rng_state()
    assert forward_flops(model, torch.zeros(8, 1, 28, 28)) == forward_flops(model, DIGIT)
    assert model.training and torch.equal(torch.get_rng_state(), state)
    assert forward_flops(model.eval(), DIGIT) and not model.training
