"""A job's fate when the job itself could not record it: killed (SIGKILL, OOM, scancel, node lost), cancelled
by Ctrl-C on the sweep, or never started. The sweep writes the job's results.json for it, marked
``"recorded_by": "sweep"``, so every job of a sweep has a record and the report lists it.

The launching process keeps the jobs it recorded (``unfinished``): train.py then names them, prints the resume
command and exits 1 (a grid sweep does not retry: ``skip_done=true`` reruns what is missing).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from convlab.config.overrides import group_choices
from convlab.config.runtime import per_command
from convlab.errors import ConvlabError
from convlab.fileio import atomic_write_json
from convlab.runfiles.results import RESULTS_NAME, RunRecord, Status, read_results

log = logging.getLogger(__name__)

RECORDED_BY_SWEEP = "sweep"  # results.json's recorded_by: written by the sweep, not by the job


@dataclass(frozen=True)
class Unfinished:
    """A job of this sweep that did not write its own record, and why."""

    job_dir: Path
    status: Status
    reason: str


_unfinished: list[Unfinished] = per_command([])


def unfinished() -> list[Unfinished]:
    """The jobs this process's sweep recorded for them, in the order they were found."""
    return list(_unfinished)


def forget_unfinished() -> list[Unfinished]:
    """Take the list (the Optuna sweeper tells and retries these trials itself)."""
    taken = list(_unfinished)
    _unfinished.clear()
    return taken


def note_unfinished(job_dir: Path, status: Status, reason: str) -> None:
    """A job of this sweep that did not finish (its record says why): train.py names it and exits 1."""
    _unfinished.append(Unfinished(job_dir, status, reason))


def planned_job(
    hydra_context: Any, config: DictConfig, overrides: list[str], num: int | None = None
) -> tuple[Path, DictConfig]:
    """(directory, composed config) Hydra will give the job of ``overrides`` before it runs: hydra.sweep.dir /
    hydra.sweep.subdir, with ``num`` as its hydra.job.num where given. Raises what composing it raises."""
    cfg = hydra_context.config_loader.load_sweep_config(config, list(overrides))
    if num is not None:
        cfg.hydra.job.num = num
    return Path(str(config.hydra.sweep.dir)) / str(OmegaConf.select(cfg, "hydra.sweep.subdir")), cfg


def job_identity(job_cfg: DictConfig | None, overrides: list[str]) -> RunRecord:
    """The required keys of a job's record, from the config the launcher composed for it."""
    names = group_choices(job_cfg) if job_cfg is not None else {}
    record: RunRecord = {
        "status": "failed",
        "dataset": names.get("dataset"),
        "model": names.get("model"),
        "optim": names.get("optim"),
        "loss": names.get("loss"),
        "overrides": list(overrides),
    }
    if job_cfg is not None and (task := names.get("task")):
        record["task"] = task
    seed = OmegaConf.select(job_cfg, "seed", default=None) if job_cfg is not None else None
    if isinstance(seed, int):
        record["seed"] = seed
    return record


def own_record(job_dir: Path | None) -> RunRecord | None:
    """The job's results.json if it wrote one (a record the sweep wrote does not count), else None."""
    record = _readable_record(job_dir)
    return None if record is None or record.get("recorded_by") == RECORDED_BY_SWEEP else record


def sweep_reason(job_dir: Path | None) -> str | None:
    """The reason the sweep recorded for a job that could not record its own fate, else None."""
    record = _readable_record(job_dir)
    return str(record.get("error")) if record is not None and record.get("recorded_by") == RECORDED_BY_SWEEP else None


def _readable_record(job_dir: Path | None) -> RunRecord | None:
    """The job directory's results.json, whoever wrote it; None when there is none or it does not read."""
    if job_dir is None or not (job_dir / RESULTS_NAME).is_file():
        return None
    try:
        return read_results(job_dir)
    except ConvlabError:  # half-written or foreign: not a finished record
        return None


def record_fate(job_dir: Path, identity: RunRecord, status: Status, reason: str) -> RunRecord:
    """Write ``status`` and ``reason`` as the job's results.json unless the job wrote its own (returned as is)."""
    mine = own_record(job_dir)
    if mine is not None:
        return mine
    record: RunRecord = {
        **identity,
        "status": status,
        "error": reason,
        "run_dir": str(job_dir),
        "recorded_by": RECORDED_BY_SWEEP,
    }
    job_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(job_dir / RESULTS_NAME, record)  # not write_results: its log line would reach the console
    note_unfinished(job_dir, status, reason)
    log.warning("%s: %s (recorded by the sweep)", job_dir, reason)
    return record


_stopped: list[str] = per_command([])


def stop_sweep(reason: str) -> None:
    """A sweeper that gives up (trials failing in a row): one line now; train.py then exits 1 after the report."""
    print(f"convlab: {reason}", file=sys.stderr, flush=True)
    _stopped.append(reason)


def stopped() -> list[str]:
    return list(_stopped)
