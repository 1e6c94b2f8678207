"""The task contract: what a run (convlab.run.train) may ask of any task, stated once instead of found by hasattr."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytorch_lightning as pl
import torch
from torch import nn

from convlab.runfiles.results import RunRecord

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], Any]


class Task(pl.LightningModule):
    """A plain ``nn.Module`` model trained with a loss and an optimizer factory.

    What a run reads from every task:

    - ``task_kind``: what it trains ("classification", "filter"); datasets name the same kind, models
      and losses list the kinds they suit (``task_kinds``), and the config check pairs them.
    - ``train_samples`` / ``train_loop_seconds``: the training loop's own throughput figures.
    - ``val_results``: the last validation's figures after ``trainer.fit`` (results.json's ``val``), or None.
    - ``history``: one row per finished epoch (convlab.runfiles.history's columns); a resumed run starts with the rows
      of the run it resumes. A task that keeps it rewrites ``run_dir``/history.csv after every epoch.
    - ``run_dir``: the run directory while training (set by convlab.run.train), else None.
    - ``test_results``: after ``trainer.test``, the ``test`` section of results.json.
    - ``extra_results()``: keys this task adds to results.json beside the contract's.
    - ``write_data(out_dir)``: the data files results.json names (history, predictions), written before it;
      returns the keys that name them.
    - ``write_outputs(out_dir, record)``: its pictures, once results.json exists.
    - ``checkpoint_meta``: the resolved config, choices and overrides (set by convlab.run.build), stored in
      every checkpoint so eval and resume can rebuild the run.
    """

    task_kind: ClassVar[str]

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        seed: int = 0,
        example_input: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.model, self.loss_fn = model, loss
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.seed = seed
        self.example_input_array = example_input  # lets the model summary show each layer's shapes
        self.checkpoint_meta: dict[str, Any] = {}
        self.train_samples = 0
        self.train_loop_seconds = 0.0
        self.val_results: dict[str, float] | None = None
        self.history: list[dict[str, Any]] = []
        self.run_dir: Path | None = None
        self.test_results: dict[str, Any] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def configure_optimizers(self) -> Any:
        """The optimizer over the model's parameters, with its lr scheduler when one is set."""
        optimizer = self.optimizer_factory(self.model.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer)}}

    def extra_results(self) -> dict[str, Any]:
        return {}

    def write_data(self, out_dir: Path) -> dict[str, Any]:
        return {}

    def write_outputs(self, out_dir: Path, record: RunRecord) -> None:
        raise NotImplementedError
