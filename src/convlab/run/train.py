"""One training run, top to bottom: check -> build -> fit -> test -> record (results.json, pictures, trackers).

Called once per job by the command line (convlab.cli.train), or directly with a config from
convlab.run.compose.compose_run, as tests and the benchmark do.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from convlab.checkpoints.resume import check_resumable, resume_checkpoint
from convlab.config.checks import check_config
from convlab.errors import DivergedError
from convlab.run.environment import setup_runtime
from convlab.run.record import check_unused_run_dir, describe_run, write_results
from convlab.sweeps.skip_done import resume_job


def train(cfg: DictConfig) -> dict[str, Any]:
    """Train and test one configuration; write results.json and the task's pictures into its run dir.

    With skip_done=true, a job that finished ok in an earlier run of its sweep returns that record instead.
    """
    import torch  # heavy imports wait until a run really starts: the pre-check must stay quick

    from convlab.models import count_parameters
    from convlab.run.build import build_datamodule, build_task, build_trainer
    from convlab.trackers.final import log_final_results

    done = resume_job(cfg)
    if done is not None:
        return done

    # check: everything that needs no data (a no-op when the command-line pre-check passed this config)
    check_config(cfg)
    out_dir = Path(cfg.paths.output_dir)
    check_unused_run_dir(out_dir)
    resume = resume_checkpoint(cfg)  # loaded weights_only and checked before any data is read
    record = describe_run(cfg)

    # build
    setup_runtime(cfg)
    datamodule = build_datamodule(cfg)
    task = build_task(cfg, datamodule)
    if resume:
        check_resumable(resume[1], task, resume[0])
        record["resumed_from"] = str(resume[0])
    trainer = build_trainer(cfg)
    record.update(
        params=count_parameters(task.model),
        threads=torch.get_num_threads(),
        omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"),  # None: OpenMP's default (see run.environment)
        **datamodule.describe(),
    )
    for logger in trainer.loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))

    # fit
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

    # test
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
                **task.extra_results(),
            )

    # record: results.json first, then what is drawn or sent from it
    if trainer.is_global_zero:
        write_results(out_dir, record)
        task.write_outputs(out_dir, record)
        log_final_results(trainer.loggers, record, out_dir)
    return record


def _checkpoint_paths(trainer: Any) -> dict[str, str]:
    ckpt = trainer.checkpoint_callback
    if ckpt is None:
        return {}
    paths = {"last": ckpt.last_model_path, "best": ckpt.best_model_path}
    return {k: v for k, v in paths.items() if v}
