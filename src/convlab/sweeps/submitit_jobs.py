"""convlab's submitit launchers (``hydra/launcher=submitit_local``, ``hydra/launcher=slurm``): Hydra's, except
for what happens after the jobs are submitted.

Hydra's launcher waits with ``[j.results()[0] for j in jobs]``: the first job that dies (SIGKILL, OOM, scancel,
the time limit) raises submitit's UncompletedJobError, the sweep stops with a traceback, the other jobs run on
orphaned and no report is written. Here every job is waited for; a job that died gets a ``failed`` results.json
written by the sweep (convlab.sweeps.fates) and a normal JobReturn, so the sweeper goes on and the report is
written. Ctrl-C cancels the jobs still running and records them ``interrupted``. A SLURM array task cancelled
while pending leaves no accounting record (submitit would wait for ever): it is recorded as never run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig, OmegaConf

from convlab.errors import RunInterrupted
from convlab.runfiles.results import RunRecord
from convlab.sweeps.fates import job_identity, note_unfinished, own_record, planned_job, record_fate

log = logging.getLogger(__name__)

POLL_S = 1.0
CANCEL_WAIT_S = 20.0  # after Ctrl-C: how long the cancelled jobs get to write their own interrupted record
SQUEUE_EVERY_S = 15.0  # how often a SLURM task not yet done is looked for in the queue
VANISHED_AFTER_S = 60.0  # a SLURM task neither queued nor accounted for this long was cancelled while pending


def quiet_schema_warning() -> None:
    """conf/hydra/launcher/submitit_local.yaml replaces the submitit plugin's config of the same name on purpose (its
    schema still checks it): without this, Hydra prints a deprecation warning about that on every run."""
    warnings.filterwarnings("ignore", message=r"\s*'hydra/launcher/submitit_local' is validated against ConfigStore")


class Launched:
    """One submitted job: its submitit handle, directory, overrides and identity."""

    def __init__(self, job: Any, num: int, job_dir: Path, overrides: list[str], identity: RunRecord) -> None:
        self.job, self.num, self.job_dir, self.overrides, self.identity = job, num, job_dir, overrides, identity
        self.unseen_since: float | None = None  # SLURM: when squeue and sacct last stopped knowing the task
        self.asked_at = float("-inf")  # SLURM: when squeue was last asked about it


def job_dirs(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[tuple[Path, Any]]:
    """(directory, composed config) of each job, as Hydra will name it (hydra.sweep.dir / hydra.sweep.subdir)."""
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    out = []
    for idx, overrides in enumerate(job_overrides):
        try:
            out.append(planned_job(launcher.hydra_context, launcher.config, list(overrides), initial_job_idx + idx))
        except Exception as e:  # the job will fail the same way and record it
            log.warning("job %d: directory not known in advance (%s)", initial_job_idx + idx, e)
            out.append((sweep_dir / f"{initial_job_idx + idx}_unknown", None))
    return out


def wait_for_all(launched: list[Launched]) -> list[JobReturn]:
    """Every job's JobReturn once every job has ended; a job that died is recorded by the sweep."""
    returns: dict[int, JobReturn] = {}
    try:
        while len(returns) < len(launched):
            for i, one in enumerate(launched):
                if i not in returns and (ret := _ended(one)) is not None:
                    returns[i] = ret
            if len(returns) < len(launched):
                time.sleep(POLL_S)
    except KeyboardInterrupt:
        _interrupt([one for i, one in enumerate(launched) if i not in returns], launched[-1].num)
    return [returns[i] for i in range(len(launched))]


def _ended(one: Launched) -> JobReturn | None:
    """The job's JobReturn if it has ended, else None."""
    if not one.job.done():
        if _vanished(one):
            record_fate(one.job_dir, one.identity, "failed", "never ran: cancelled while pending (no SLURM record)")
            return _job_return(one, 0.0)
        return None
    try:
        value = one.job.result()
    except Exception as e:  # UncompletedJobError (killed, cancelled, timed out) or FailedJobError
        record_fate(one.job_dir, one.identity, "failed", _death(one.job, e))
        return _job_return(one, 0.0)
    if isinstance(value, JobReturn) and value.status == JobStatus.FAILED:  # the job raised past convlab's wrapper
        error = value._return_value  # e.g. RunInterrupted: SIGINT to the job alone; its own record says so
        record_fate(one.job_dir, one.identity, "failed", f"failed: {type(error).__name__}: {error}")
        value = 0.0
    if (mine := own_record(one.job_dir)) is not None and mine["status"] == "interrupted":
        note_unfinished(one.job_dir, "interrupted", str(mine.get("error") or "interrupted"))
    return _job_return(one, value._return_value if isinstance(value, JobReturn) else value)


def _death(job: Any, error: Exception) -> str:
    """Why a job died, in one line: the scheduler's state (OUT_OF_MEMORY, CANCELLED, TIMEOUT) or exit signal."""
    state = ""
    with contextlib.suppress(Exception):  # the scheduler cannot be asked: the error says enough
        state = str(job.state)
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if type(error).__name__ == "UncompletedJobError" or not lines:
        first = "killed before writing results.json"
    else:  # FailedJobError: the job raised; its message ends with the exception
        first = f"failed: {lines[-1]}"
    informative = state and state not in ("UNKNOWN", "FINISHED", "RUNNING", "DONE")
    return f"{first} (job {job.job_id}, {state})" if informative else f"{first} (job {job.job_id})"


def _vanished(one: Launched) -> bool:
    """A SLURM task that squeue no longer lists and sacct never recorded (cancelled while pending)."""
    if type(one.job).__name__ != "SlurmJob" or time.monotonic() - one.asked_at < SQUEUE_EVERY_S:
        return False
    one.asked_at = time.monotonic()
    if one.job.state not in ("UNKNOWN", "PENDING", "NODE_FAIL"):
        return False
    try:
        queued = subprocess.run(
            ["squeue", "-h", "-j", str(one.job.job_id)], capture_output=True, text=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return False
    if queued:
        one.unseen_since = None
        return False
    one.unseen_since = one.unseen_since or time.monotonic()
    return time.monotonic() - one.unseen_since > VANISHED_AFTER_S


def _interrupt(running: list[Launched], last_num: int) -> None:
    """Ctrl-C: cancel the jobs still running, give them a moment to write their own record, record the rest
    ``interrupted``, then stop the sweep as an interrupted job does (RunInterrupted: train.py prints the rest)."""
    for one in running:
        _cancel(one.job)
    deadline = time.monotonic() + CANCEL_WAIT_S
    while time.monotonic() < deadline and not all(_gone(one) for one in running):
        time.sleep(POLL_S)
    records = [record_fate(one.job_dir, one.identity, "interrupted", "Ctrl-C on the sweep") for one in running]
    print(f"cancelled          {len(running)} job(s) still running, recorded interrupted", flush=True)
    interrupted = RunInterrupted(records[0] if records else {"status": "interrupted"})
    interrupted.job_num = last_num  # train.py lists the jobs after this batch as not run
    interrupted.job_dir = running[0].job_dir if running else None
    raise interrupted


def _cancel(job: Any) -> None:
    """Cancel a job. A local job: SIGINT to its task processes, which stop as a Ctrl-C'd run does (an interrupted
    results.json); submitit's own cancel signals its controller process instead, which dies with a traceback."""
    controller = getattr(getattr(job, "_process", None), "pid", None)
    tasks = _child_pids(controller) if controller is not None else []
    try:
        if tasks:
            for pid in tasks:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGINT)
        else:
            job.cancel(check=False)
    except Exception as e:  # already gone
        log.info("cancel %s: %s", job.job_id, e)


def _child_pids(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux /proc), none where that cannot be read."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []


def _gone(one: Launched) -> bool:
    try:
        return bool(one.job.done()) or own_record(one.job_dir) is not None
    except Exception:
        return True


def _job_return(one: Launched, value: Any) -> JobReturn:
    """A JobReturn the sweepers accept (status COMPLETED: Hydra's BasicSweeper re-raises a failed one) with the job's
    directory where convlab's sweepers read it."""
    hydra_cfg: DictConfig = OmegaConf.create({"hydra": {"runtime": {"output_dir": str(one.job_dir)}}})
    return JobReturn(
        overrides=one.overrides,
        hydra_cfg=hydra_cfg,
        working_dir=str(one.job_dir),
        status=JobStatus.COMPLETED,
        _return_value=value,
    )


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[JobReturn]:
    """Submit the jobs as Hydra's submitit launcher does, then wait for every one of them."""
    dirs = job_dirs(launcher, job_overrides, initial_job_idx)
    jobs = launcher.submit(job_overrides, initial_job_idx)
    launched = [
        Launched(job, initial_job_idx + i, job_dir, list(overrides), job_identity(cfg, list(overrides)))
        for i, (job, (job_dir, cfg), overrides) in enumerate(zip(jobs, dirs, job_overrides, strict=True))
    ]
    return wait_for_all(launched)
