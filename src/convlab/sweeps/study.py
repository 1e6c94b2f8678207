"""The Optuna study of a sweep: created or joined by every worker, checked before any training, and
found again by each trial's job (which reports its validation accuracy to it, epoch by epoch, for pruning)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from convlab.config.runtime import per_command
from convlab.errors import ConfigError
from convlab.sweeps.liveness import LEASE_S, Lease, start_lease
from convlab.sweeps.storage import describe, open_storage, storage_spec

OPTUNA_SWEEPER = "hydra_plugins.convlab_sweeper.optuna_sweeper.OptunaSweeper"
# The pre-check composes every job of a command line: check each study once per command.
_checked: set[tuple[str, str]] = per_command(set())
_opened: dict[str, Any] = {}  # storages opened by jobs: one engine (connection pool) per process, not per trial
_leases: dict[int, Lease] = {}  # trial id: this process's lease on it


def quiet_optuna() -> None:
    """Optuna logs every trial on its own stderr handler: the sweep's console shows one line per job instead."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def pruner_of(cfg: DictConfig) -> Any:
    """The configured pruner (conf/pruner), NopPruner without one."""
    import optuna
    from hydra.utils import instantiate

    node = OmegaConf.select(cfg, "pruner", default=None)
    return instantiate(node) if node is not None else optuna.pruners.NopPruner()


def join_study(storage: str | None, sweep_dir: Path, name: str, direction: str, pruner: Any) -> tuple[Any, str]:
    """(the study, its storage spec): created if missing, joined if it exists; ConfigError if its direction differs."""
    import optuna

    quiet_optuna()
    spec = storage_spec(storage, sweep_dir)
    study = optuna.create_study(
        storage=open_storage(spec, wait_to_open=True),
        study_name=name,
        direction=direction,
        pruner=pruner,
        load_if_exists=True,
    )
    _check_direction(study, spec, direction)
    return study, spec


def _check_direction(study: Any, spec: str, direction: str) -> None:
    found = [d.name.lower() for d in study.directions]
    if found != [direction]:
        raise ConfigError(
            f"study {study.study_name} in {describe(spec)} {'/'.join(found)}s its objective, this sweep would "
            f"{direction} it: choose another hydra.sweeper.study_name or storage"
        )


def check_study(cfg: DictConfig) -> None:
    """The pre-check of an Optuna sweep: its storage opens and its study (if it exists) maximises, before any
    training; a pruner that cannot act is a one-line warning."""
    if OmegaConf.select(cfg, "hydra.sweeper._target_", default=None) != OPTUNA_SWEEPER:
        return
    sweeper = cfg.hydra.sweeper
    storage = OmegaConf.select(sweeper, "storage", default=None)
    key = (str(storage), str(sweeper.study_name))
    if key in _checked:
        return
    _checked.add(key)
    _warn_idle_pruner(cfg)
    if not storage:  # the default journal in the new sweep directory: nothing there yet to check
        return
    import optuna

    quiet_optuna()
    spec = storage_spec(storage, ".")
    opened = open_storage(spec)
    try:
        study = optuna.load_study(study_name=str(sweeper.study_name), storage=opened)
    except KeyError:  # a new study: the sweeper creates it
        return
    _check_direction(study, spec, str(sweeper.direction))


def _warn_idle_pruner(cfg: DictConfig) -> None:
    target = str(OmegaConf.select(cfg, "pruner._target_", default="") or "")
    if not target or target.endswith("NopPruner"):
        return
    n_trials = int(cfg.hydra.sweeper.n_trials)
    startup = OmegaConf.select(cfg, "pruner.n_startup_trials", default=0) or 0
    epochs = OmegaConf.select(cfg, "trainer.max_epochs", default=None)
    why = None
    if n_trials <= startup:
        why = f"n_trials={n_trials} is not more than its n_startup_trials={startup}"
    elif epochs is not None and int(epochs) <= 1:
        why = "trainer.max_epochs=1 leaves no later epoch to stop"
    if why:
        name = target.rsplit(".", 1)[-1]
        print(f"convlab: warning: pruner {name} will prune nothing: {why}", file=sys.stderr, flush=True)


def job_trial(cfg: DictConfig) -> Any:
    """The Optuna trial this job runs (``optuna_trial``, set by the sweeper), found in the sweep's storage by its
    number; None outside an Optuna sweep. Works in the sweeper's process and in a joblib or submitit worker.
    Rank 0 then records where the job runs in its trial and keeps its lease (sweeps/liveness.py)."""
    from hydra.core.hydra_config import HydraConfig

    number = OmegaConf.select(cfg, "optuna_trial", default=None)
    if number is None or not HydraConfig.initialized():
        return None
    hydra_cfg = HydraConfig.get()
    if OmegaConf.select(hydra_cfg, "sweeper._target_", default=None) != OPTUNA_SWEEPER:
        return None  # e.g. a trial's overrides re-run as a single run: no study to report to
    import optuna

    quiet_optuna()
    sweeper = hydra_cfg.sweeper
    spec = storage_spec(OmegaConf.select(sweeper, "storage", default=None), str(hydra_cfg.sweep.dir))
    grace_s = OmegaConf.select(sweeper, "storage_grace_s", default=None)
    if spec not in _opened:
        _opened[spec] = open_storage(spec, grace_s=None if grace_s is None else float(grace_s), wait_to_open=True)
    storage = _opened[spec]
    study = optuna.load_study(
        study_name=str(sweeper.study_name),
        storage=storage,
        sampler=optuna.samplers.RandomSampler(),  # never samples here: the sweeper did
        pruner=pruner_of(cfg),
    )
    trial_id = storage.get_trial_id_from_study_id_trial_number(study._study_id, int(number))
    trial = optuna.trial.Trial(study, trial_id)
    _keep_alive(trial, cfg, float(OmegaConf.select(sweeper, "lease_s", default=LEASE_S) or LEASE_S))
    return trial


def _keep_alive(trial: Any, cfg: DictConfig, lease_s: float) -> None:
    """Rank 0's lease on its trial, once per trial and process."""
    from convlab.config.runtime import process_rank

    if process_rank() != 0 or trial._trial_id in _leases:
        return
    job_dir = Path(str(OmegaConf.select(cfg, "paths.output_dir", default="."))).absolute()
    _leases[trial._trial_id] = start_lease(trial, job_dir, lease_s)
