"""skip_done=true: resume a sweep in its own directory, skipping the jobs that finished ok.

Resuming works per job: Hydra gives a job of a re-run command line the same directory
(<sweep dir>/<num>_<overrides>); a job whose results.json there says ok is skipped, any other earlier
attempt is moved into <job dir>/attempts/<n>/ (nothing is lost) and the job runs again.
"""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from convlab.config.overrides import NOT_IDENTITY_KEYS, command_line_overrides, job_identity, override_key, values_of
from convlab.config.runtime import invocation
from convlab.errors import ConfigError
from convlab.runfiles.results import RESULTS_NAME, RunRecord, read_results

log = logging.getLogger(__name__)

ATTEMPTS_DIR = "attempts"


def resume_job(cfg: DictConfig) -> RunRecord | None:
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
    given = values_of(list(hydra_overrides), "hydra.sweep.dir")
    if not given:
        raise ConfigError("skip_done=true resumes a sweep: add hydra.sweep.dir=<the sweep's directory>")
    if not Path(given[-1]).is_dir():
        raise ConfigError(f"hydra.sweep.dir={given[-1]}: no such sweep directory to resume")


def resume_sweep_command(overrides: list[str], sweep_dir: str | Path) -> str:
    """The command line that re-runs a sweep in place: the jobs that finished ok are skipped, the others
    (failed, diverged, interrupted, never started) run again from the start."""
    kept = [o for o in overrides if override_key(o) not in (*NOT_IDENTITY_KEYS, "hydra.sweep.dir", "hydra.mode")]
    args = ["-m", *kept, "skip_done=true", f"hydra.sweep.dir={sweep_dir}"]
    return f"{invocation()} {shlex.join(args)}"  # as the user started convlab: python train.py, convlab train, ...
