"""What each tracker a run logged to gets when the job ends, read from its results.json record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from convlab.runfiles.results import RunRecord
from convlab.trackers.tensorboard import log_tensorboard_results
from convlab.trackers.wandb_run import log_wandb_results


def log_final_results(loggers: list[Any], record: RunRecord, run_dir: Path) -> None:
    """Give each tracker the job's results.json record: W&B summary, confusion matrix, per-class and mistakes
    tables; TensorBoard confusion-matrix and mistakes images and hparams with the final metrics."""
    from pytorch_lightning.loggers import TensorBoardLogger, WandbLogger

    for logger in loggers:
        if isinstance(logger, WandbLogger):
            log_wandb_results(logger.experiment, record, run_dir)
        elif isinstance(logger, TensorBoardLogger):
            log_tensorboard_results(logger, record, run_dir)
