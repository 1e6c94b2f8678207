"""Inside a SLURM job convlab owns two signals from train()'s first line until the process exits.

- SIGTERM: ``scancel``, ``scontrol requeue``, a preemption, SLURM ending the job. SLURM sends SIGKILL
  KillWait seconds later (30 s by default).
- The time-limit signal submitit's sbatch script asks for (``--signal=USR2@<signal_delay_s>``; another one
  with SUBMITIT_PREEMPT_SIGNAL).

A handler only notes the signal and, while the trainer runs, asks it to stop at the end of the current batch
(Lightning's own SIGTERM path: the loops raise SIGTERMException, which the run records as ``interrupted``).
The run reads the note between its phases: a job signalled before training does not train, one signalled
before its test does not test, one signalled while it writes finishes writing and then says ``interrupted``.
A job that got a signal never ends ``ok``. On the time-limit signal the run requeues its own job
(``scontrol requeue``) once results.json and the checkpoint are written.

Before convlab's handler is installed, submitit's ignores SIGTERM (it logs "Bypassing signal SIGTERM"), so
a job cancelled while Python and Hydra start would run on unnoticed: when the handler is installed the run
also asks SLURM whether the job is still RUNNING.

Lightning never sees the time-limit signal (it installs its own only on a signal nobody handles) and never
writes its ``<default_root_dir>/hpc_ckpt_<n>.ckpt``: the checkpoint is convlab's, under checkpoints/
(convlab.checkpoints.requeue). No Lightning import here: this runs before torch is loaded.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

TIME_LIMIT = "time limit"  # what the notes call the time-limit signal (USR2 by default)


def in_slurm_job() -> bool:
    """Lightning's rule (SLURMEnvironment.detect): SLURM started this process as a task of a batch job."""
    return "SLURM_NTASKS" in os.environ and os.environ.get("SLURM_JOB_NAME") not in ("bash", "interactive")


def time_limit_signal() -> signal.Signals:
    """The signal submitit's sbatch script asks SLURM for before the time limit (USR2 unless configured)."""
    return signal.Signals["SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2").upper()]  # submitit's rule


def slurm_job_id() -> str | None:
    """``<array>_<task>`` for an array task, else SLURM_JOB_ID (what scontrol requeue takes)."""
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array and os.environ.get("SLURM_ARRAY_TASK_ID"):
        return f"{array}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ.get("SLURM_JOB_ID")


class JobSignals:
    """The signals a job received (``received``: names in arrival order) and the trainer they stop."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.trainer: Any = None  # a running Lightning trainer: stopped at the end of its current batch
        self.requeued = False

    def install(self) -> None:
        for signum in {signal.SIGTERM, time_limit_signal()}:
            signal.signal(signum, self.note)
        state = _slurm_job_state()
        if state not in (None, "RUNNING"):  # a SIGTERM submitit's handler swallowed during start-up
            self.received.append(f"SIGTERM (job {state} before convlab started)")
            log.warning("SLURM says job %s is %s: this run will not train", slurm_job_id(), state)

    def note(self, signum: int, frame: FrameType | None = None) -> None:
        name = TIME_LIMIT if signum == time_limit_signal() else signal.Signals(signum).name
        if name not in self.received:
            self.received.append(name)
            log.warning("received %s: stopping at the next safe point", name)
        self.stop_trainer()

    def stop_trainer(self) -> None:
        """Lightning's SIGTERM flag: fit and test stop at the end of the current batch (on every rank)."""
        if self.received and self.trainer is not None:
            self.trainer._signal_connector.received_sigterm = True  # what Lightning's own SIGTERM handler sets

    @property
    def stop(self) -> bool:
        """A signal asked this job to stop."""
        return bool(self.received)

    @property
    def time_limit(self) -> bool:
        return TIME_LIMIT in self.received

    @property
    def time_limit_only(self) -> bool:
        """Only the time-limit signal: the job may still finish what it is doing before the limit."""
        return self.received == [TIME_LIMIT]

    def reason(self, steps: int) -> str:
        """results.json's ``error`` for a signalled run."""
        if self.time_limit:
            return f"time limit signal at step {steps}: requeued to continue from its checkpoint"
        first = self.received[0] if self.received else "SIGTERM"
        return f"{first} at step {steps} (scancel, SLURM requeue or preemption)"

    def requeue(self) -> None:
        """On the time-limit signal: ``scontrol requeue`` this job once (its restart continues in place)."""
        job = slurm_job_id()
        if not self.time_limit or self.requeued or not job or not re.fullmatch(r"[0-9_]+", job):
            return
        self.requeued = True
        done = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True, timeout=60)
        if done.returncode:
            log.error("scontrol requeue %s failed: %s", job, (done.stderr or done.stdout).strip())
        else:
            log.info("requeued SLURM job %s before its time limit", job)


_signals: JobSignals | None = None


def job_signals() -> JobSignals:
    """This process's JobSignals, installed on first use inside a SLURM job (outside one: nothing is
    installed and nothing is ever received)."""
    global _signals
    if _signals is None:
        _signals = JobSignals()
        if in_slurm_job():
            _signals.install()
    return _signals


def _slurm_job_state() -> str | None:
    """The job's state as slurmctld has it (RUNNING, CANCELLED, REQUEUED, ...); None if unknown."""
    job = os.environ.get("SLURM_JOB_ID")
    if not job or not in_slurm_job():
        return None
    try:
        shown = subprocess.run(["scontrol", "show", "job", "-o", job], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"\bJobState=(\w+)", shown.stdout)
    return found.group(1) if found and shown.returncode == 0 else None
