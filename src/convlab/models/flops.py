"""Forward FLOPs of a model for one sample, counted by torch's own FlopCounterMode."""

from __future__ import annotations

import torch
from torch import nn


def forward_flops(model: nn.Module, example_input: torch.Tensor) -> int:
    """FLOPs of one eval-mode forward pass on the first sample of ``example_input``.

    torch counts 2 x multiply-accumulates of convolutions and matrix products only (no activations,
    pooling or bias adds). The model's train/eval mode and the random state are left as they were.
    """
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    # fork_rng: a model whose forward draws random numbers even in eval mode must not move the run's seed
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        model.eval()
        try:
            with FlopCounterMode(display=False) as counter:
                model(example_input[:1])
        finally:
            model.train(was_training)
    return int(counter.get_total_flops())
