"""Multirun support: torch threads for parallel jobs, resuming a sweep (skip_done), sweep checks.

Resuming works per job: Hydra gives a job of a re-run command line the same directory
(<sweep dir>/<num>_<overrides>); a job whose results.json there says ok is skipped, any other earlier
attempt is moved into <job dir>/attempts/<n>/ (nothing is lost) and the job runs again.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from convlab.config_checks import check_config, command_line_overrides
from convlab.errors import ConfigError
from convlab.results import RESULTS_NAME, read_results

log = logging.getLogger("convlab")

# Overrides that say how a sweep runs, not what a job is: ignored when matching a resumed job.
NOT_IDENTITY_KEYS = ("skip_done", "sweep_label")
ATTEMPTS_DIR = "attempts"


def override_key(override: str) -> str:
    """``++trainer.max_epochs=3`` -> ``trainer.max_epochs``."""
    return override.split("=", 1)[0].lstrip("+~")


def job_identity(overrides: list[str]) -> list[str]:
    return sorted(o for o in overrides if override_key(o) not in NOT_IDENTITY_KEYS)


def cpu_cores() -> int:
    """CPUs this process may use (affinity and container quotas, as joblib counts them)."""
    try:
        import joblib

        return int(joblib.cpu_count())
    except ImportError:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def threads_per_job() -> int | None:
    """Torch threads for a job that shares the machine: cores // parallel jobs under the joblib launcher,
    ``cpus_per_task`` under submitit. None (torch's default, one per core) otherwise."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    launcher = HydraConfig.get().launcher
    if launcher.get("cpus_per_task"):
        return int(launcher.cpus_per_task)
    n_jobs = launcher.get("n_jobs")
    if n_jobs is None:
        return None  # the basic launcher runs one job at a time
    cores = cpu_cores()
    parallel = int(n_jobs) if n_jobs > 0 else max(cores + 1 + int(n_jobs), 1)  # joblib: -1 = all cores
    if parallel > cores:
        log.warning("hydra.launcher.n_jobs=%s runs more jobs than the %d cores: they will share cores", n_jobs, cores)
    return max(1, cores // parallel)


def resume_job(cfg: DictConfig) -> dict[str, Any] | None:
    """With skip_done=true: the earlier record of this job if it finished ok (the job is skipped); else
    None, after moving any earlier attempt aside so the job runs again in a clean directory."""
    if not cfg.get("skip_done"):
        return None
    out_dir = Path(str(OmegaConf.select(cfg, "paths.output_dir")))
    status = "killed before writing results.json"
    if (out_dir / RESULTS_NAME).exists():
        previous = read_results(out_dir)
        mine, theirs = job_identity(command_line_overrides()), job_identity(previous["overrides"])
        if mine != theirs:
            raise ConfigError(
                f"{out_dir} holds the job [{' '.join(theirs)}], not [{' '.join(mine)}]: "
                "resume with the sweep's original command line (same overrides, same order)"
            )
        if previous["status"] == "ok":
            log.info("skip_done: %s finished earlier (status ok); skipped", out_dir.name)
            return previous
        status = f"status {previous['status']}"
    if _earlier_outputs(out_dir):
        log.info("skip_done: earlier attempt (%s) moved to %s; running again", status, archive_attempt(out_dir))
    return None


def _earlier_outputs(run_dir: Path) -> list[Path]:
    """What an earlier attempt left: everything but Hydra's .hydra/, the job log and older attempts."""
    return [p for p in run_dir.iterdir() if p.name not in (ATTEMPTS_DIR, ".hydra") and p.suffix != ".log"]


def archive_attempt(run_dir: Path) -> Path:
    """Move a job's earlier outputs into <run_dir>/attempts/<n>/. Hydra's .hydra/ (rewritten for the new
    attempt, same config) and the job log (appended to) stay in place."""
    attempts = run_dir / ATTEMPTS_DIR
    attempts.mkdir(exist_ok=True)
    n = 1
    while (attempts / str(n)).exists():
        n += 1
    dest = attempts / str(n)
    dest.mkdir()
    for child in _earlier_outputs(run_dir):
        child.rename(dest / child.name)
    return dest


def check_resume(cfg: DictConfig) -> None:
    """skip_done=true needs the directory of the sweep to resume (a new sweep directory has nothing to skip)."""
    if not cfg.get("skip_done"):
        return
    hydra_overrides = OmegaConf.select(cfg, "hydra.overrides.hydra", default=None) or []
    given = [o.split("=", 1)[1] for o in hydra_overrides if o.startswith("hydra.sweep.dir=")]
    if not given:
        raise ConfigError("skip_done=true resumes a sweep: add hydra.sweep.dir=<the sweep's directory>")
    if not Path(given[-1]).is_dir():
        raise ConfigError(f"hydra.sweep.dir={given[-1]}: no such sweep directory to resume")


def check_job(cfg: DictConfig) -> None:
    """The CLI pre-check of every job of a train.py command line."""
    check_config(cfg)
    check_resume(cfg)


def missing_sweeper_plugin(argv: list[str]) -> str | None:
    """A one-line hint when the command line asks for the Optuna sweeper and it is not installed."""
    wants_optuna = any(a.split("=", 1) in (["hparams_search", "optuna"], ["hydra/sweeper", "optuna"]) for a in argv)
    if wants_optuna and importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is None:
        return "hparams_search=optuna needs the optional Optuna sweeper: pip install -e '.[optuna]'"
    return None
