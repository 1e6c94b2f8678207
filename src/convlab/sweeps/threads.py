"""Torch threads for a job that shares the machine with the other jobs of its sweep."""

from __future__ import annotations

import logging
import os

from hydra.core.hydra_config import HydraConfig

from convlab.config.runtime import in_multirun

log = logging.getLogger(__name__)


def cpu_cores() -> int:
    """CPUs this process may use (affinity and container quotas, as joblib counts them)."""
    try:
        import joblib

        return int(joblib.cpu_count())
    except ImportError:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def parallel_jobs(n_jobs: int) -> int:
    """How many jobs joblib runs at once for ``n_jobs`` (negative: all cores but ``-n_jobs - 1``)."""
    return n_jobs if n_jobs > 0 else max(cpu_cores() + 1 + n_jobs, 1)


def threads_per_job() -> int | None:
    """Torch threads for a job that shares the machine: cores // parallel jobs under the joblib launcher,
    ``cpus_per_task`` under submitit. None (torch's default, one per core) otherwise."""
    if not in_multirun():
        return None
    launcher = HydraConfig.get().launcher
    if launcher.get("cpus_per_task"):
        return int(launcher.cpus_per_task)
    n_jobs = launcher.get("n_jobs")
    if n_jobs is None:
        return None  # the basic launcher runs one job at a time
    cores = cpu_cores()
    parallel = parallel_jobs(int(n_jobs))
    if parallel > cores:
        log.warning("hydra.launcher.n_jobs=%s runs more jobs than the %d cores: they will share cores", n_jobs, cores)
    return max(1, cores // parallel)
