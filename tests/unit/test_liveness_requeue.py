"""A requeued SLURM job's trial is not stale: its first attempt's pid is gone while SLURM holds the job for its
restart (found by scripts/ci/chaos.py: the worker told the requeued trial FAIL and its restart could not report)."""

from __future__ import annotations

import subprocess
import sys
import time

from convlab.sweeps.liveness import JOB_HOST, JOB_PID, LEASE_UNTIL, SLURM_JOB_ID, host, stale_reason


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_slurm_trial_whose_attempt_pid_is_gone_is_judged_by_slurm_not_by_its_pid() -> None:
    pid = _dead_pid()
    attrs = {JOB_HOST: host(), JOB_PID: pid, LEASE_UNTIL: time.time() + 100}
    assert stale_reason(attrs) is not None  # outside SLURM a gone pid is a dead job
    # under SLURM (an id sacct does not know here: no verdict from it), with a live lease: still alive
    assert stale_reason({**attrs, SLURM_JOB_ID: "999999_0"}) is None
