"""What every task's ``configure_optimizers`` returns: the optimizer, with its lr scheduler when one is set."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch


def optimizer_with_schedule(
    params: Iterable[torch.nn.Parameter],
    optimizer_factory: Callable[..., torch.optim.Optimizer],
    scheduler_factory: Callable[..., Any] | None,
) -> Any:
    optimizer = optimizer_factory(params)
    if scheduler_factory is None:
        return optimizer
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler_factory(optimizer)}}
