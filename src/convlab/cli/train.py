"""``python train.py [overrides]`` (or ``convlab train``, ``python -m convlab train``): pre-check every job of the
command line, then one run per job.

Joblib and submitit workers import this module to unpickle the job (``_hydra_main``); importing it
registers the resolvers their run directories need (convlab.config.resolvers) and nothing else.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hydra._internal.utils import get_args_parser
from omegaconf import DictConfig

from convlab.cli.hydra_app import run_hydra
from convlab.cli.job import run_job
from convlab.cli.precheck import job_overrides, precheck_or_exit
from convlab.cli.summary import Terminal
from convlab.config.checks import check_config
from convlab.config.overrides import NOT_IDENTITY_KEYS, override_key
from convlab.config.runtime import remember_invocation, start_command
from convlab.errors import RunInterrupted
from convlab.run.train import train
from convlab.runfiles.results import RunRecord
from convlab.sweeps.fates import stopped, unfinished
from convlab.sweeps.skip_done import check_resume, resume_sweep_command
from convlab.sweeps.study import check_study
from convlab.sweeps.submitit_jobs import quiet_schema_warning

EXIT_JOBS_UNFINISHED = 1  # a sweep whose jobs did not all write their own results.json
EXIT_INTERRUPTED = 130  # the shell's code for a command stopped by SIGINT (128 + 2)


def check_train_job(cfg: DictConfig) -> None:
    """The pre-check of one job of a train.py command line: what can be checked without reading data."""
    check_config(cfg)
    check_resume(cfg)
    check_study(cfg)  # an Optuna sweep: its storage opens and its study maximises


def _hydra_main(cfg: DictConfig) -> float:
    record: RunRecord | None = run_job(lambda job: train(job, Terminal()), cfg)
    # Validation accuracy, never test; 0 (the worst) for a job that diverged or failed, so a sweeper that reads
    # return values goes on. convlab's Optuna sweeper reads each job's results.json instead (sweeps.optuna_sweeper).
    val_acc = ((record or {}).get("val") or {}).get("acc")
    return 0.0 if val_acc is None else float(val_acc)


def main(argv: list[str] | None = None) -> None:
    """``argv``: the arguments after the command (default: this process's, for ``python train.py``)."""
    start_command()
    quiet_schema_warning()
    argv = sys.argv[1:] if argv is None else argv
    remember_invocation("train", argv)
    argv = precheck_or_exit("config", check_train_job, argv)
    try:
        run_hydra(_hydra_main, "config", argv)
    except RunInterrupted as e:
        say_what_was_interrupted(e, argv)
        sys.exit(EXIT_INTERRUPTED)
    for job in unfinished():  # jobs of a grid sweep that died (the report and the resume command are printed)
        print(f"not finished       {job.job_dir.name}: {job.reason}", flush=True)
    if unfinished() or stopped():
        sys.exit(EXIT_JOBS_UNFINISHED)


def say_what_was_interrupted(e: RunInterrupted, argv: list[str]) -> None:
    """After Ctrl-C. A single run has printed its result block (with the resume command) unless it was stopped
    before training; in a sweep the job has printed its line, and here come the jobs it did not start and the
    command that runs what is left."""
    if e.job_num is None:
        if "resume_command" not in e.record:
            print(f"interrupted before training started; results.json in {e.job_dir}", flush=True)
        return
    overrides = list(get_args_parser().parse_args(argv).overrides)
    jobs = [
        [o for o in job if override_key(o) not in NOT_IDENTITY_KEYS]
        for job in job_overrides(overrides, True, limit=None)
    ]
    common = set.intersection(*map(set, jobs)) if len(jobs) > 1 else set()
    not_run = [f"#{n} {' '.join(o for o in job if o not in common)}" for n, job in enumerate(jobs) if n > e.job_num]
    if any(override_key(o) in ("hparams_search", "hydra/sweeper") for o in overrides):  # its sweeper picks the jobs
        not_run = [f"the trials after #{e.job_num}"]
    sweep_dir = Path(str(e.job_dir)).parent
    print(f"not run            {', '.join(not_run) if not_run else 'none'}", flush=True)
    print(f"resume this sweep  {resume_sweep_command(overrides, sweep_dir)}", flush=True)
