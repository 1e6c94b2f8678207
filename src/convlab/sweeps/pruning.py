"""Pruning: a trial's job reports its validation accuracy to its Optuna trial after every epoch and stops
training when the study's pruner (conf/pruner) says so; results.json then has status ``pruned``.

Under DDP rank 0 alone reports and asks the pruner; its answer is broadcast to every rank, which all stop at
the same epoch (Lightning does not sync ``should_stop``: a rank that stopped alone would wait in a barrier
while the others wait in the next epoch's collectives, until the job's time limit)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig

from convlab.runfiles.results import RunRecord

log = logging.getLogger(__name__)


class OptunaPruning(pl.Callback):
    """Reports ``val_results["acc"]`` to ``trial`` (step = epoch, 0-based) and stops the trainer when pruned.
    Rank 0 decides; a rank without a trial (None) follows rank 0's broadcast decision."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial
        self.pruned_after_epochs: int | None = None  # epochs trained when the pruner stopped the trial
        self.last_val_acc: float | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:  # the same on every rank: all of them reach the broadcast below, or none
            return
        acc = (getattr(pl_module, "val_results", None) or {}).get("acc")
        decision = (False, None)
        if trainer.is_global_zero and acc is not None and self.trial is not None:
            self.trial.report(float(acc), step=trainer.current_epoch)
            decision = (bool(self.trial.should_prune()), float(acc))
        prune, self.last_val_acc = trainer.strategy.broadcast(decision, src=0)
        if prune:
            self.pruned_after_epochs = trainer.current_epoch + 1
            log.info(
                "pruned by Optuna after epoch %d (validation accuracy %.4f)",
                self.pruned_after_epochs,
                self.last_val_acc,
            )
            trainer.should_stop = True

    @property
    def pruned(self) -> bool:
        return self.pruned_after_epochs is not None


def pruning_callback(cfg: DictConfig) -> OptunaPruning | None:
    """The callback for a job of an Optuna sweep (its trial found in the sweep's storage), else None."""
    from convlab.sweeps.study import job_trial

    trial = job_trial(cfg)
    return OptunaPruning(trial) if trial is not None else None  # every rank of a DDP job finds its trial


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
