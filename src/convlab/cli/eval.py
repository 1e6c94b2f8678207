"""``python eval.py ckpt_path=<run dir>/checkpoints/last.ckpt`` (or ``convlab eval ...``): pre-check, then re-test
the checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from convlab.cli.hydra_app import run_hydra
from convlab.cli.job import run_job
from convlab.cli.precheck import precheck_or_exit
from convlab.cli.summary import print_result
from convlab.config.runtime import invocation, remember_invocation, start_command
from convlab.errors import ConfigError
from convlab.run.evaluate import evaluate
from convlab.runfiles.results import RunRecord


def check_eval(cfg: DictConfig) -> None:
    if OmegaConf.is_missing(cfg, "ckpt_path"):
        raise ConfigError(f"ckpt_path has no value: {invocation('eval')} ckpt_path=<run dir>/checkpoints/last.ckpt")
    path = Path(str(cfg.ckpt_path))
    if not path.is_file():
        raise ConfigError(f"ckpt_path={path}: no such file (expected <run dir>/checkpoints/last.ckpt)")


def _hydra_main(cfg: DictConfig) -> None:
    run_job(evaluate_and_show, cfg)


def evaluate_and_show(cfg: DictConfig) -> RunRecord:
    """Re-test the checkpoint, then print the result block."""
    record = evaluate(cfg)
    print_result(record)
    return record


def main(argv: list[str] | None = None) -> None:
    """``argv``: the arguments after the command (default: this process's, for ``python eval.py``)."""
    start_command()
    argv = sys.argv[1:] if argv is None else argv
    remember_invocation("eval", argv)
    argv = precheck_or_exit("eval", check_eval, argv)
    run_hydra(_hydra_main, "eval", argv)
