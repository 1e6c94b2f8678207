"""``python train.py [overrides]``: compose -> build -> fit -> test -> results.json."""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from convlab.cli import EXIT_BAD_INPUT, one_line, run_cli
from convlab.config_checks import check_config
from convlab.errors import ConfigError, ConvlabError, DivergedError
from convlab.resolvers import RUN_DIR_ENV
from convlab.results import RESULTS_NAME, write_results
from convlab.runtime import CONFIG_DIR, describe_run, setup_runtime

log = logging.getLogger("convlab")


def train(cfg: DictConfig) -> dict[str, Any]:
    """Train and test one configuration; write results.json (and confusion_matrix.png) in its run dir."""
    from convlab.build import build_datamodule, build_task, build_trainer
    from convlab.models import count_parameters

    check_config(cfg)
    out_dir = Path(cfg.paths.output_dir)
    if (out_dir / RESULTS_NAME).exists():
        raise ConfigError(f"{out_dir} already holds a finished run; choose a new hydra.run.dir")
    record = describe_run(cfg)
    setup_runtime(cfg)
    datamodule = build_datamodule(cfg)
    task = build_task(cfg, datamodule)
    trainer = build_trainer(cfg)
    record.update(params=count_parameters(task.model), **datamodule.describe())
    for logger in trainer.loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    if trainer.world_size > 1:  # Lightning's DDP workers re-run this command: keep them in this directory
        os.environ[RUN_DIR_ENV] = str(out_dir)

    start = time.perf_counter()
    try:
        trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True)
    except DivergedError as e:
        record.update(status="diverged", error=str(e), diverged_at_step=e.step)
    record.update(
        epochs=trainer.current_epoch,
        train_seconds=round(time.perf_counter() - start, 3),
        samples_per_second=round(task.train_samples / task.train_loop_seconds, 1) if task.train_loop_seconds else None,
        checkpoints=_checkpoint_paths(trainer),
    )
    if record["status"] != "diverged":
        if trainer.interrupted:
            record.update(status="failed", error="interrupted before training finished")
        else:
            trainer.test(task, datamodule=datamodule, verbose=False)
            record.update(status="ok", test=task.test_results, **_extra_results(task))
    if trainer.is_global_zero:
        _write_outputs(out_dir, record, trainer, task)
    return record


def _checkpoint_paths(trainer: Any) -> dict[str, str]:
    ckpt = trainer.checkpoint_callback
    if ckpt is None:
        return {}
    paths = {"last": ckpt.last_model_path, "best": ckpt.best_model_path}
    return {k: v for k, v in paths.items() if v}


def _extra_results(task: Any) -> dict[str, Any]:
    """Keys a task adds to results.json beside the contract's (the filter task's "filter")."""
    extra = getattr(task, "extra_results", None)
    return extra() if extra is not None else {}


def _write_outputs(out_dir: Path, record: dict[str, Any], trainer: Any, task: Any = None) -> None:
    from convlab.report.confusion import confusion_matrix_png
    from convlab.report.summary import print_summary

    write_results(out_dir, record)
    if hasattr(task, "write_outputs"):  # tasks with their own pictures and summary (filter regression)
        task.write_outputs(out_dir, record)
        return
    if record.get("test"):
        title = f"{record['dataset']} / {record['model']} / {record['optim']} / {record['loss']}"
        confusion_matrix_png(
            record["test"]["confusion_matrix"],
            record["class_names"],
            out_dir / "confusion_matrix.png",
            title=title,
        )
    print_summary(record)


def run_job(job: Callable[[DictConfig], dict[str, Any]], cfg: DictConfig) -> dict[str, Any] | None:
    """Run one job. A single run stops on bad input with one line and exit code 2; in a multirun the
    failure is recorded in the job's results.json and the sweep goes on."""
    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    try:
        return job(cfg)
    except ConvlabError as e:
        message = one_line(str(e))
        _record_failure(cfg, message)
        if not multirun:
            print(f"convlab: error: {message}", file=sys.stderr, flush=True)
            sys.exit(EXIT_BAD_INPUT)
        log.error("job failed: %s", message)
    except Exception as e:
        _record_failure(cfg, f"{type(e).__name__}: {one_line(str(e))}")
        if not multirun:
            raise
        log.error("job failed:\n%s", traceback.format_exc())
    return None


def _record_failure(cfg: DictConfig, message: str) -> None:
    """Leave a results.json with status failed in the job's own (new) directory, never elsewhere."""
    out_dir = Path(str(OmegaConf.select(cfg, "paths.output_dir")))
    if (out_dir / RESULTS_NAME).exists() or not out_dir.is_dir():
        return
    try:
        record = describe_run(cfg)
    except Exception:
        record = {
            "status": "failed",
            "dataset": None,
            "model": None,
            "optim": None,
            "loss": None,
            "overrides": [],
        }
    record.update(status="failed", error=message)
    write_results(out_dir, record)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def _hydra_main(cfg: DictConfig) -> float | None:
    record = run_job(train, cfg)
    test = (record or {}).get("test") or {}
    return test.get("acc")  # the value a sweeper (e.g. Optuna) optimises


def main() -> None:
    run_cli(_hydra_main, "config")
