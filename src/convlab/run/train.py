"""One training run, top to bottom: check -> build -> fit -> test -> record (results.json, pictures, trackers).

Called once per job by the command line (convlab.cli.train), or directly with a config from
convlab.run.compose.compose_run, as tests and the benchmark do.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any, Protocol

from omegaconf import DictConfig, OmegaConf

from convlab.checkpoints.job_signals import job_signals
from convlab.checkpoints.load import run_dir_of
from convlab.checkpoints.resume import Resume, check_resumable, resume_checkpoint
from convlab.config.checks import check_config
from convlab.config.overrides import NOT_IDENTITY_KEYS, override_key
from convlab.config.runtime import invocation
from convlab.errors import ConvlabError, DivergedError, RunInterrupted
from convlab.fileio import atomic_write_text
from convlab.run.environment import busy_cores_at_start, busy_machine_note, setup_runtime
from convlab.run.record import check_unused_run_dir, describe_run, model_figures, record_test, write_run
from convlab.run.requeue import Requeued, end_signalled, finished_before_restart, note_requeue, requeued_resume
from convlab.runfiles import LAST_CHECKPOINT
from convlab.runfiles.history import read_history
from convlab.runfiles.results import RunRecord
from convlab.sweeps.skip_done import resume_job

log = logging.getLogger(__name__)

MODEL_SUMMARY_NAME = "model_summary.txt"


class Screen(Protocol):
    """What a run shows a person (convlab.cli.summary.Terminal): a header before training, the result block after."""

    interactive: bool  # a person watches: progress bar and Lightning's model summary on

    def header(self, record: RunRecord) -> None: ...

    def result(self, record: RunRecord) -> None: ...


def train(cfg: DictConfig, screen: Screen | None = None) -> RunRecord:
    """Train and test one configuration: check -> build -> fit -> test -> record (results.json, pictures, trackers).

    With skip_done=true, a job that finished ok in an earlier run of its sweep returns that record instead.
    Ctrl-C leaves results.json with status interrupted (and a checkpoint to resume from), then raises
    RunInterrupted; so does SIGTERM or the time-limit signal inside a SLURM job, at any phase (a signalled job
    never ends ok; on the time limit it requeues itself: convlab.checkpoints.job_signals). ``screen`` (the
    command line's convlab.cli.summary.Terminal) shows the header and the result block; without one the run
    prints nothing.
    """
    signals = job_signals()  # inside SLURM: SIGTERM and the time-limit signal are noted from here on
    requeued = requeued_resume(Path(cfg.paths.output_dir))  # a SLURM job restarted after a requeue: in place
    done = None if requeued else finished_before_restart(Path(cfg.paths.output_dir)) or resume_job(cfg)
    if done is not None:
        return done
    out_dir, resume, record = _check(cfg, requeued)
    if screen is not None:
        screen.header(record)
    datamodule, task, trainer = _build(cfg, out_dir, resume, interactive=screen is not None and screen.interactive)
    record.update(model_figures(task, datamodule), **_machine_figures())
    if not signals.stop:  # a job signalled while it started does not train
        _fit(trainer, task, datamodule, resume, record)
    if record["status"] not in ("diverged", "interrupted", "pruned") and not signals.stop:  # pruned: val is its verdict
        _test(trainer, task, datamodule, record)
    if signals.stop and record["status"] not in ("diverged", "pruned"):  # a signalled job never ends ok
        record["status"] = "interrupted"
    if record["status"] == "interrupted":
        _record_interruption(record, out_dir / LAST_CHECKPOINT)
        note_requeue(record, trainer)
    if trainer.is_global_zero:
        write_run(out_dir, record, task, trainer.loggers)
        if screen is not None:
            screen.result(record)
    end_signalled(out_dir, record, writes=trainer.is_global_zero)  # a signal while writing; the time limit's requeue
    if record["status"] == "interrupted":
        raise RunInterrupted(record)
    return record


def _check(cfg: DictConfig, requeued: Requeued | None) -> tuple[Path, Resume | None, RunRecord]:
    """Everything that needs no data (a no-op when the command-line pre-check passed this config), the checkpoint
    to resume from (loaded weights_only and checked before any data is read), and the record so far. A job
    SLURM requeued continues from its own checkpoint in its own directory."""
    check_config(cfg)
    out_dir = Path(cfg.paths.output_dir)
    if not requeued:
        check_unused_run_dir(out_dir)
    resume = requeued[0] if requeued else resume_checkpoint(cfg)
    record = describe_run(cfg)
    if requeued:
        record.update(requeued[1])
    if resume:
        record["resumed_from"] = str(resume[0])
    return out_dir, resume, record


def _build(cfg: DictConfig, out_dir: Path, resume: Resume | None, interactive: bool) -> tuple[Any, Any, Any]:
    """Data, task and trainer, in that order; the resumed run's epochs; the model summary and the loggers' config."""
    from convlab.run.build import build_datamodule, build_task

    if note := busy_machine_note():  # timings of this run will be slower than the machine's own
        log.warning(note)
    setup_runtime(cfg)
    datamodule = build_datamodule(cfg)
    task = build_task(cfg, datamodule)
    task.run_dir = out_dir  # where it keeps history.csv up to date, epoch by epoch
    if resume:
        check_resumable(resume[1], task, resume[0])
        task.history = _history_before(resume[0], int(resume[1].get("global_step", 0)))
    trainer = _trainer(cfg, out_dir, interactive)
    if trainer.is_global_zero:
        write_model_summary(task, out_dir / MODEL_SUMMARY_NAME)
    for logger in trainer.loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    return datamodule, task, trainer


def _trainer(cfg: DictConfig, out_dir: Path, interactive: bool) -> Any:
    """The trainer with the config's callbacks and a checkpoint on Ctrl-C; a progress bar and Lightning's model
    summary only when a person watches."""
    from convlab.checkpoints.requeue_callbacks import CheckpointOnRequeue, ResumeMidEpoch, StopOnJobSignal
    from convlab.checkpoints.save import CheckpointOnInterrupt
    from convlab.run.build import build_callbacks, build_trainer
    from convlab.sweeps.pruning import pruning_callback

    # A bar's redraws go to stdout; in a log file (stdout not a terminal) they would be lines of carriage returns.
    bar = interactive and sys.stdout.isatty()
    callbacks = build_callbacks(cfg, console=interactive, progress_bar=bar)
    callbacks += [
        CheckpointOnInterrupt(out_dir / LAST_CHECKPOINT),
        CheckpointOnRequeue(out_dir / LAST_CHECKPOINT.parent),  # SIGTERM inside a SLURM job (convlab.run.requeue)
        ResumeMidEpoch(),
        StopOnJobSignal(),  # SIGTERM or the time-limit signal inside a SLURM job: stop at the end of the batch
    ]
    if pruning := pruning_callback(cfg):  # a trial of an Optuna sweep: reports every epoch, stops when pruned
        callbacks.append(pruning)
    quiet = {} if bar else {"enable_progress_bar": False}
    if not interactive:
        quiet["enable_model_summary"] = False
    return build_trainer(cfg, callbacks=callbacks, **quiet)


def _machine_figures() -> dict[str, Any]:
    import torch

    return {
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),  # None: OpenMP's default (see run.environment)
        "busy_cores_at_start": busy_cores_at_start(),  # the rest of the machine's load when the command started
    }


def _fit(trainer: Any, task: Any, datamodule: Any, resume: Resume | None, record: RunRecord) -> None:
    """trainer.fit; divergence, Ctrl-C and an Optuna pruner become the record's status. Then the figures of
    training."""
    from convlab.checkpoints.requeue_callbacks import set_aside_lightning_checkpoints
    from convlab.sweeps.pruning import record_pruning

    set_aside_lightning_checkpoints(trainer)  # inside SLURM, Lightning would resume from them (ckpt_path=None)
    start = time.perf_counter()
    try:
        trainer.fit(task, datamodule=datamodule, ckpt_path=str(resume[0]) if resume else None, weights_only=True)
    except DivergedError as e:
        record.update(status="diverged", error=str(e), diverged_at_step=e.step)
    except SystemExit:  # Lightning's answer to Ctrl-C: a graceful shutdown, then exit(1)
        if not trainer.interrupted:
            raise
        record["status"] = "interrupted"
    else:  # the final epoch's validation metrics: what a sweeper (Optuna) optimises (history.csv's last row)
        if task.val_results:
            record["val"] = dict(task.val_results)
    record.update(
        epochs=trainer.current_epoch,
        steps=trainer.global_step,
        world_size=trainer.world_size,
        train_seconds=round(time.perf_counter() - start, 3),
        samples_per_second=round(task.train_samples / task.train_loop_seconds, 1) if task.train_loop_seconds else None,
        checkpoints=_checkpoint_paths(trainer),
    )
    record_pruning(record, trainer.callbacks)  # an Optuna pruner stopped it: status pruned


def _test(trainer: Any, task: Any, datamodule: Any, record: RunRecord) -> None:
    """trainer.test on the test split with the weights fit ended with; Ctrl-C or a signal becomes status
    interrupted, else the record's test figures."""
    from convlab.checkpoints.requeue_callbacks import set_aside_lightning_checkpoints

    set_aside_lightning_checkpoints(trainer)  # inside SLURM, ckpt_path=None would test their weights instead
    start = time.perf_counter()
    try:
        trainer.test(task, datamodule=datamodule, verbose=False)
    except SystemExit:
        if not trainer.interrupted:
            raise
        record["status"] = "interrupted"
        return
    seconds = time.perf_counter() - start
    samples = (task.test_results or {}).get("samples")
    record.update(
        test_seconds=round(seconds, 3), test_samples_per_second=round(samples / seconds, 1) if samples else None
    )
    record_test(record, task)


def _record_interruption(record: RunRecord, last: Path) -> None:
    """Ctrl-C: the step reached, the checkpoint to resume from and the command that does it."""
    # Lightning ignores further Ctrl-C while it shuts down; give the next one its usual meaning again.
    with contextlib.suppress(ValueError):  # ValueError: not the main thread
        signal.signal(signal.SIGINT, signal.default_int_handler)
    checkpoint = str(last) if last.is_file() else None
    overrides = [o for o in record.get("overrides") or [] if override_key(o) not in ("ckpt_path", *NOT_IDENTITY_KEYS)]
    # Started as the user started it (config.runtime.invocation): python train.py, convlab train, ...
    command = f"{invocation()} {shlex.join([*overrides, f'ckpt_path={checkpoint}'])}" if checkpoint else None
    record.update(
        status="interrupted",
        error=f"Ctrl-C at step {record.get('steps', 0)}",
        interrupted_at_step=record.get("steps", 0),
        resume_checkpoint=checkpoint,
        resume_command=command,
    )


def write_model_summary(task: Any, path: Path) -> None:
    """Every layer with its shapes and parameters; the terminal shows the top level only."""
    import torch
    from pytorch_lightning.utilities.model_summary import ModelSummary

    try:
        with torch.random.fork_rng(devices=[]):  # its example forward pass (dropout) must not move the seed
            summary = str(ModelSummary(task, max_depth=-1))
        atomic_write_text(path, summary + "\n")
    except Exception as e:  # a summary is a convenience: never the reason a run fails
        log.warning("no %s: %s", path.name, e)


def _history_before(ckpt_path: Path, step: int) -> list[dict[str, Any]]:
    """The rows of the resumed run's history.csv up to its checkpoint's step: the epochs this run continues."""
    try:
        rows = read_history(run_dir_of(ckpt_path))
    except ConvlabError as e:  # a run from before history.csv, or one killed before its first epoch ended
        log.info("the resumed run's history starts at its checkpoint (%s)", e)
        return []
    return [row for row in rows if row.get("step") is not None and row["step"] <= step]


def _checkpoint_paths(trainer: Any) -> dict[str, str]:
    ckpt = trainer.checkpoint_callback
    if ckpt is None:
        return {}
    paths = {"last": ckpt.last_model_path, "best": ckpt.best_model_path}
    return {k: v for k, v in paths.items() if v}
