"""What the Optuna sweeper tells the study about a trial, read from the trial's own job directory, whatever the
launcher did (returned, raised, was interrupted); the retry of a trial whose job died; stale trials.

User attributes (stable names; docs/optuna.md lists them):
- ``job_dir``: the trial's job directory, recorded when the trial is asked (and again by the job at start);
- ``status``: the job's results.json status when it is not ok;
- ``fail_reason``: why a trial is FAIL (the job's error, or how it died);
- ``died``: True when the job died before writing its own record (killed, node lost, never started) or was
  ``interrupted`` from outside (scancel, SIGTERM), not by the worker's Ctrl-C: such a trial is retried;
- ``retry_of``: the number of the trial a retry replaces (same parameters, resumed from its newest checkpoint);
  ``retries``: how many retries precede this trial in its line; ``resumed_from``: the checkpoint it resumed;
- ``job_host``, ``job_pid``, ``slurm_job_id``, ``lease_until``, ``worker``: liveness (sweeps/liveness.py).
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Any

from convlab.sweeps.fates import own_record, sweep_reason
from convlab.sweeps.liveness import JOB_DIR, stale_reason

log = logging.getLogger(__name__)

FAIL_REASON, DIED, RETRY_OF, RETRIES, RESUMED_FROM = "fail_reason", "died", "retry_of", "retries", "resumed_from"
SURPLUS_ATTR = "convlab_surplus"  # a trial asked for after the study reached n_trials: told FAIL, never run
CHECKPOINTS = "checkpoints"


def outcome(record: dict[str, Any] | None) -> tuple[str, float | None]:
    """(Optuna state name, value) for a job's results.json (see optuna_sweeper's docstring for why)."""
    status = (record or {}).get("status")
    val_acc = ((record or {}).get("val") or {}).get("acc")
    if status == "ok" and val_acc is not None:
        return "COMPLETE", float(val_acc)
    if status == "diverged":
        return "COMPLETE", 0.0
    if status == "pruned":
        return "PRUNED", None
    return "FAIL", None


def job_dir_of(trial: Any, sweep_dir: Path, returned: str | None = None) -> Path | None:
    """The trial's job directory: as recorded at ask (or by its job), else as the launcher returned it, else the
    one directory of the sweep named for its number."""
    attrs = _attrs(trial)
    if attrs.get(JOB_DIR):
        return Path(str(attrs[JOB_DIR]))
    if returned:
        return Path(returned)
    found = sorted(sweep_dir.glob(f"trial_{trial.number}_*"))
    return found[0] if len(found) == 1 else None


def tell_from_job(
    study: Any, trial: Any, job_dir: Path | None, why_dead: str, worker_interrupted: bool = False
) -> str | None:
    """Tell ``trial`` what its job's own results.json says; without one it is FAIL with ``why_dead`` (the
    launcher's or the sweep's account) and marked ``died``, as is a job ``interrupted`` from outside (scancel,
    SIGTERM; not the worker's own Ctrl-C). Returns the state told, None when the trial was already finished
    (another worker told it)."""
    import optuna

    if _state(study, trial) != optuna.trial.TrialState.RUNNING:
        return None
    record = own_record(job_dir)
    state, value = outcome(record)
    if job_dir is not None:
        trial.set_user_attr("run_dir", str(job_dir))
        trial.set_user_attr(JOB_DIR, str(job_dir))
    if record is None:
        trial.set_user_attr(DIED, True)
        trial.set_user_attr(FAIL_REASON, sweep_reason(job_dir) or why_dead)
    elif record.get("status") not in ("ok", None):
        trial.set_user_attr("status", str(record["status"]))
        if state == "FAIL":
            trial.set_user_attr(FAIL_REASON, str(record.get("error") or record["status"]))
        if record["status"] == "interrupted" and not worker_interrupted:
            trial.set_user_attr(DIED, True)
    if state == "PRUNED" and not study._storage.get_trial(trial._trial_id).intermediate_values:
        state = "FAIL"  # a pruned trial always reported an epoch; without one the job went wrong elsewhere
    try:
        study.tell(trial, value if state == "COMPLETE" else None, state=optuna.trial.TrialState[state])
    except (RuntimeError, ValueError) as e:  # told meanwhile by another worker (stale-trial recovery)
        if _state(study, trial) == optuna.trial.TrialState.RUNNING:
            raise
        log.info("trial %d already told: %s", trial.number, e)
        return None
    return state


def _state(study: Any, trial: Any) -> Any:
    return study._storage.get_trial(trial._trial_id).state


def _attrs(trial: Any) -> dict[str, Any]:
    attrs = getattr(trial, "user_attrs", None)
    return dict(attrs) if attrs is not None else {}


def newest_checkpoint(job_dir: Path | None) -> Path | None:
    """The newest whole checkpoint a dead job left (its checkpoints/ folder; last.ckpt when there is one, the state
    at the end of its latest epoch), to resume its retry from. A file cut short by the kill (torch writes a zip
    archive, not atomically) is passed over: the retry then starts from an older one, or from scratch."""
    if job_dir is None or not (job_dir / CHECKPOINTS).is_dir():
        return None
    found = [p for p in (job_dir / CHECKPOINTS).glob("*.ckpt") if p.is_file() and zipfile.is_zipfile(p)]
    found.sort(key=lambda p: (p.name == "last.ckpt", p.stat().st_mtime), reverse=True)
    return found[0] if found else None


def retry(study: Any, frozen: Any, retries: int) -> bool:
    """Queue a retry of a trial whose job died (same parameters, ``retry_of``), if its line has retries left."""
    attrs = dict(frozen.user_attrs)
    done = int(attrs.get(RETRIES, 0))
    if (
        not attrs.get(DIED)
        or done >= retries
        or any(t.user_attrs.get(RETRY_OF) == frozen.number for t in study.get_trials(deepcopy=False))
    ):
        return False
    study.enqueue_trial(
        dict(frozen.params), user_attrs={RETRY_OF: frozen.number, RETRIES: done + 1}, skip_if_exists=False
    )
    log.warning("trial %d died (%s): retried with the same parameters", frozen.number, attrs.get(FAIL_REASON))
    return True


def superseded(trials: list[Any]) -> set[int]:
    """Numbers of the trials a retry replaces (they no longer count towards n_trials)."""
    return {int(t.user_attrs[RETRY_OF]) for t in trials if RETRY_OF in t.user_attrs}


def counted(trials: list[Any], below: int | None = None) -> int:
    """Trials that count towards n_trials: not surplus, not superseded by a retry (numbered below ``below``)."""
    replaced = superseded(trials)
    return sum(
        1
        for t in trials
        if SURPLUS_ATTR not in t.user_attrs and t.number not in replaced and (below is None or t.number < below)
    )


def recover_stale(study: Any, sweep_dir: Path, retries: int) -> int:
    """Tell (from their job directories) or fail every RUNNING trial whose job is dead; queue retries. Returns how
    many trials were recovered. Trials whose jobs are alive elsewhere are left alone."""
    import optuna

    recovered = 0
    for frozen in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        why = stale_reason(dict(frozen.user_attrs))
        if why is None:
            continue
        trial = optuna.trial.Trial(study, frozen._trial_id)
        job_dir = job_dir_of(frozen, sweep_dir)
        if tell_from_job(study, trial, job_dir, f"stale: {why}") is None:
            continue
        recovered += 1
        log.warning("trial %d was RUNNING but %s: told from %s", frozen.number, why, job_dir)
        retry(study, study._storage.get_trial(frozen._trial_id), retries)
    return recovered
