"""No trial RUNNING forever: liveness comes from the job, not from the worker that asked for the trial.

Job side (``start_lease``, rank 0 of a trial's job): at start it records where it runs in its trial (user attributes
``job_host``, ``job_pid``, ``slurm_job_id`` under SLURM, ``job_dir``) and keeps a lease: ``lease_until`` (Unix time)
renewed every ``lease_s / 4`` seconds by a daemon thread. One mechanism for every storage (a journal file has no
heartbeats; Optuna's RDB heartbeats are only read inside ``study.optimize``).

Worker side (``stale_reason``): a RUNNING trial is stale when its job's pid is gone on this host, ``sacct`` says its
SLURM job ended, or its lease expired; a trial whose job never started is stale when its worker's pid is gone on
this host. The sweeper then tells the trial from its job's results.json, or fails it (and retries it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from convlab.checkpoints.job_signals import slurm_job_id  # as sacct and scontrol name it

log = logging.getLogger(__name__)

LEASE_S = 120.0  # a job that has not renewed its lease for this long is presumed dead
JOB_HOST, JOB_PID, SLURM_JOB_ID, JOB_DIR, LEASE_UNTIL = "job_host", "job_pid", "slurm_job_id", "job_dir", "lease_until"
WORKER = "worker"  # host:pid of the worker that asked for the trial (sweeps/storage.worker_tag)
SLURM_ALIVE = ("PENDING", "RUNNING", "REQUEUED", "RESIZING", "SUSPENDED", "CONFIGURING", "COMPLETING", "REQUEUE_HOLD")


def host() -> str:
    return os.uname().nodename


class Lease:
    """The job's lease on its trial, renewed from a daemon thread until ``stop``."""

    def __init__(self, trial: Any, lease_s: float) -> None:
        self.trial, self.lease_s = trial, float(lease_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="convlab-trial-lease", daemon=True)

    def start(self) -> Lease:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _renew(self) -> None:
        while not self._stop.wait(self.lease_s / 4):
            try:
                self.trial.set_user_attr(LEASE_UNTIL, time.time() + self.lease_s)
            except Exception as e:  # the trial was told (finished) or the storage is down: the lease lapses
                log.info("trial lease not renewed: %s", e)
                if "finished" in str(e).lower():
                    return


def start_lease(trial: Any, job_dir: Path, lease_s: float = LEASE_S) -> Lease:
    """Record where this job runs in its trial and keep its lease (see the module docstring)."""
    attrs: dict[str, Any] = {JOB_HOST: host(), JOB_PID: os.getpid(), JOB_DIR: str(job_dir)}
    if (slurm := slurm_job_id()) is not None:
        attrs[SLURM_JOB_ID] = slurm
    attrs[LEASE_UNTIL] = time.time() + float(lease_s)
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    return Lease(trial, lease_s).start()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def slurm_state(job_id: str) -> str | None:
    """sacct's state of a SLURM job (``CANCELLED by 0`` -> CANCELLED), None when sacct cannot say."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["sacct", "-n", "-X", "-P", "-o", "State", "-j", job_id], capture_output=True, text=True, timeout=30
        ).stdout.split()
        return out[0].upper() if out else None
    return None


def orphaned(attrs: dict[str, Any]) -> bool:
    """A RUNNING trial whose job runs on while the worker that asked for it is gone (on this host): no one else
    would tell it when its job ends."""
    return JOB_PID in attrs and _worker_gone(attrs)


def _worker_gone(attrs: dict[str, Any]) -> bool:
    """The worker that asked for the trial (``WORKER``, host:pid) ran on this host and its process is gone."""
    worker_host, _, worker_pid = str(attrs.get(WORKER, "")).rpartition(":")
    return worker_host == host() and worker_pid.isdigit() and not pid_alive(int(worker_pid))


def stale_reason(attrs: dict[str, Any], now: float | None = None) -> str | None:
    """Why a RUNNING trial with these user attributes has no live job, or None when it may still be alive."""
    now = time.time() if now is None else now
    if JOB_PID in attrs:  # the job started
        # a SLURM job's pid goes with every requeue while the job lives on: SLURM's state decides for it
        if not attrs.get(SLURM_JOB_ID) and attrs.get(JOB_HOST) == host() and not pid_alive(int(attrs[JOB_PID])):
            return f"its job (pid {attrs[JOB_PID]} on {host()}) is gone"
        if (job := attrs.get(SLURM_JOB_ID)) and (state := slurm_state(str(job))) and state not in SLURM_ALIVE:
            return f"its SLURM job {job} ended ({state})"
        if (until := attrs.get(LEASE_UNTIL)) is not None and float(until) < now:
            return f"its job's lease expired {now - float(until):.0f} s ago"
        return None
    if _worker_gone(attrs):
        return f"its worker ({attrs[WORKER]}) is gone and its job never started"
    return None
