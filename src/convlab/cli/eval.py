"""``python eval.py ckpt_path=<run dir>/checkpoints/last.ckpt``: pre-check, then re-test the checkpoint."""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from convlab.cli.job import run_job
from convlab.cli.precheck import precheck_or_exit
from convlab.cli.summary import print_result
from convlab.config import CONFIG_DIR
from convlab.errors import ConfigError
from convlab.run.evaluate import evaluate
from convlab.runfiles.results import RunRecord


def check_eval(cfg: DictConfig) -> None:
    if OmegaConf.is_missing(cfg, "ckpt_path"):
        raise ConfigError("ckpt_path has no value: python eval.py ckpt_path=<run dir>/checkpoints/last.ckpt")
    path = Path(str(cfg.ckpt_path))
    if not path.is_file():
        raise ConfigError(f"ckpt_path={path}: no such file (expected <run dir>/checkpoints/last.ckpt)")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def _hydra_main(cfg: DictConfig) -> None:
    run_job(evaluate_and_show, cfg)


def evaluate_and_show(cfg: DictConfig) -> RunRecord:
    """Re-test the checkpoint, then print the result block."""
    record = evaluate(cfg)
    print_result(record)
    return record


def main() -> None:
    precheck_or_exit("eval", check_eval)
    _hydra_main()
