"""Pruning: a trial's job reports its validation accuracy to its Optuna trial after every epoch and stops
training when the study's pruner (conf/pruner) says so; results.json then has status ``pruned``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig

from convlab.runfiles.results import RunRecord

log = logging.getLogger(__name__)


class OptunaPruning(pl.Callback):
    """Reports ``val_results["acc"]`` to ``trial`` (step = epoch, 0-based) and stops the trainer when pruned."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial
        self.pruned_after_epochs: int | None = None  # epochs trained when the pruner stopped the trial
        self.last_val_acc: float | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        results = getattr(pl_module, "val_results", None) or {}
        if trainer.sanity_checking or results.get("acc") is None or not trainer.is_global_zero:
            return
        epoch = trainer.current_epoch
        self.last_val_acc = float(results["acc"])
        self.trial.report(self.last_val_acc, step=epoch)
        if self.trial.should_prune():
            self.pruned_after_epochs = epoch + 1
            log.info("pruned by Optuna after epoch %d (validation accuracy %.4f)", epoch + 1, self.last_val_acc)
            trainer.should_stop = True

    @property
    def pruned(self) -> bool:
        return self.pruned_after_epochs is not None


def pruning_callback(cfg: DictConfig) -> OptunaPruning | None:
    """The callback for a job of an Optuna sweep (its trial found in the sweep's storage), else None."""
    from convlab.sweeps.study import job_trial

    trial = job_trial(cfg)
    return OptunaPruning(trial) if trial is not None else None


def record_pruning(record: RunRecord, callbacks: Sequence[pl.Callback]) -> None:
    """A pruned trial's results.json: status pruned, the epochs it trained, its last validation accuracy."""
    pruning = next((c for c in callbacks if isinstance(c, OptunaPruning)), None)
    if pruning is None or not pruning.pruned or record.get("status") in ("diverged", "interrupted"):
        return
    record.update(
        status="pruned",
        pruned_after_epochs=pruning.pruned_after_epochs,
        val={**(record.get("val") or {}), "acc": pruning.last_val_acc},
    )
