"""``python train.py [overrides]``: pre-check every job of the command line, then one run per job.

Joblib and submitit workers import this module to unpickle the job (``_hydra_main``); importing it
registers the resolvers their run directories need (convlab.config.resolvers) and nothing else.
"""

from __future__ import annotations

from typing import Any

import hydra
from omegaconf import DictConfig

from convlab.cli.job import run_job
from convlab.cli.precheck import precheck_or_exit
from convlab.config import CONFIG_DIR
from convlab.config.checks import check_config
from convlab.run.train import train
from convlab.sweeps.skip_done import check_resume


def check_train_job(cfg: DictConfig) -> None:
    """The pre-check of one job of a train.py command line: what can be checked without reading data."""
    check_config(cfg)
    check_resume(cfg)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def _hydra_main(cfg: DictConfig) -> float:
    record: dict[str, Any] | None = run_job(train, cfg)
    # What a sweeper (Optuna) maximises: validation accuracy, never test. A job that diverged or failed
    # scores 0, the worst accuracy: the study goes on (Hydra's Optuna sweeper stops at a non-number) and
    # steers away from it; its results.json and the report say what happened.
    val_acc = ((record or {}).get("val") or {}).get("acc")
    return 0.0 if val_acc is None else float(val_acc)


def main() -> None:
    precheck_or_exit("config", check_train_job)
    _hydra_main()
