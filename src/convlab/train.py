"""``python train.py [overrides]``: compose -> build -> fit -> test -> results.json."""

from __future__ import annotations

import logging
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

from convlab import resolvers
from convlab.cli import EXIT_BAD_INPUT, fail, one_line, run_cli
from convlab.config_checks import check_config
from convlab.errors import ConvlabError, DivergedError, RunDirInUseError
from convlab.launch import check_unused_run_dir, process_rank
from convlab.results import RESULTS_NAME, write_results
from convlab.resume import check_ckpt_path, check_resumable, resume_checkpoint
from convlab.runtime import CONFIG_DIR, describe_run, setup_runtime
from convlab.sweeps import check_job, missing_sweeper_plugin, resume_job

log = logging.getLogger("convlab")
# Here as well as in the CLI: joblib and submitit workers import this module to unpickle the task.
resolvers.register()


def train(cfg: DictConfig) -> dict[str, Any]:
    """Train and test one configuration; write results.json (and confusion_matrix.png) in its run dir."""
    import torch

    from convlab.build import build_datamodule, build_task, build_trainer
    from convlab.loggers import log_final_results
    from convlab.models import count_parameters

    check_ckpt_path(cfg)
    check_config(cfg)
    out_dir = Path(cfg.paths.output_dir)
    check_unused_run_dir(out_dir)
    resume = resume_checkpoint(cfg)  # loaded weights_only and checked before any data is read
    record = describe_run(cfg)
    setup_runtime(cfg)
    datamodule = build_datamodule(cfg)
    task = build_task(cfg, datamodule)
    if resume:
        check_resumable(resume[1], task, resume[0])
        record["resumed_from"] = str(resume[0])
    trainer = build_trainer(cfg)
    record.update(params=count_parameters(task.model), threads=torch.get_num_threads(), **datamodule.describe())
    for logger in trainer.loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))

    start = time.perf_counter()
    try:
        trainer.fit(task, datamodule=datamodule, ckpt_path=str(resume[0]) if resume else None, weights_only=True)
    except DivergedError as e:
        record.update(status="diverged", error=str(e), diverged_at_step=e.step)
    else:  # the final epoch's validation metrics: what a sweeper (Optuna) optimises
        val = {k.split("/")[1]: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
        if val:
            record["val"] = val
    record.update(
        epochs=trainer.current_epoch,
        steps=trainer.global_step,
        world_size=trainer.world_size,
        train_seconds=round(time.perf_counter() - start, 3),
        samples_per_second=round(task.train_samples / task.train_loop_seconds, 1) if task.train_loop_seconds else None,
        checkpoints=_checkpoint_paths(trainer),
    )
    if record["status"] != "diverged":
        if trainer.interrupted:
            record.update(status="failed", error="interrupted before training finished")
        else:
            start = time.perf_counter()
            trainer.test(task, datamodule=datamodule, verbose=False)
            test_seconds = time.perf_counter() - start
            samples = (task.test_results or {}).get("samples")
            record.update(
                status="ok",
                test=task.test_results,
                test_seconds=round(test_seconds, 3),
                test_samples_per_second=round(samples / test_seconds, 1) if samples else None,
                **_extra_results(task),
            )
    if trainer.is_global_zero:
        _write_outputs(out_dir, record, trainer, task)
        log_final_results(trainer.loggers, record, out_dir)
    return record


def check_train_config(cfg: DictConfig) -> None:
    """The pre-check of every job of a train.py command line: what can be checked without reading data."""
    check_ckpt_path(cfg)  # first: it needs no imports, the pairing checks in check_config do
    check_job(cfg)


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
    from convlab.loggers import finish_wandb_run

    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    try:
        return job(cfg)
    except ConvlabError as e:
        message = one_line(str(e))
        if not isinstance(e, RunDirInUseError):  # that directory is another run's: leave it as it is
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
    finally:  # one W&B run per job, closed even when the job raised: the next job must not join it
        finish_wandb_run(Path(str(OmegaConf.select(cfg, "paths.output_dir"))))
    return None


def train_or_skip(cfg: DictConfig) -> dict[str, Any]:
    """train(cfg), unless skip_done=true finds this job finished ok in an earlier run of the sweep."""
    done = resume_job(cfg)
    return done if done is not None else train(cfg)


def _record_failure(cfg: DictConfig, message: str) -> None:
    """Leave a results.json with status failed in the job's own (new) directory, never elsewhere.
    Only rank 0 records: the other processes of a distributed run share its directory."""
    out_dir = Path(str(OmegaConf.select(cfg, "paths.output_dir")))
    if (out_dir / RESULTS_NAME).exists() or not out_dir.is_dir() or process_rank() != 0:
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
def _hydra_main(cfg: DictConfig) -> float:
    record = run_job(train_or_skip, cfg)
    # What a sweeper (Optuna) maximises: validation accuracy, never test. A job that diverged or failed
    # scores 0, the worst accuracy: the study goes on (Hydra's Optuna sweeper stops at a non-number) and
    # steers away from it; its results.json and the report say what happened.
    val_acc = ((record or {}).get("val") or {}).get("acc")
    return 0.0 if val_acc is None else float(val_acc)


def main() -> None:
    hint = missing_sweeper_plugin(sys.argv[1:])
    if hint:
        fail(hint)
    run_cli(_hydra_main, "config", extra_check=check_train_config)
