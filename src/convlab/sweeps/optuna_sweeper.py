"""convlab's Hydra sweeper on Optuna's ask-and-tell API (conf/hydra/sweeper/optuna.yaml; docs/optuna.md).

Each batch: ask the study for up to ``n_jobs`` trials, hand their overrides to the launcher (basic,
joblib, submitit), then tell the study what each job's results.json says. Hydra imports this module at
start-up (through hydra_plugins.convlab_sweeper): Optuna is imported only when a sweep runs.

What Optuna is told (``outcome``):
- ok: COMPLETE with the final validation accuracy (never test);
- diverged: COMPLETE with 0.0, the worst accuracy. A diverged trial says something about its
  hyperparameters (the learning rate is too high); as FAIL the sampler would ignore it and keep proposing
  its neighbours;
- pruned: PRUNED (its last reported validation accuracy stands);
- failed, interrupted, no results.json: FAIL. An exception (a bug, out of memory) or Ctrl-C says nothing
  about the hyperparameters, so the sampler leaves it out.

Each trial is told from its own job directory (sweeps/trial_fates.py), whatever ``launch`` did: a job that died
(no results.json of its own) is FAIL with the reason in ``fail_reason`` and retried up to ``retries`` times from
its newest checkpoint; the worker goes on asking (Ctrl-C stops it after it told what finished; ``max_failures``
trials failed in a row stop it with one line). Before every batch, trials left RUNNING by dead jobs are recovered
(sweeps/liveness.py).

``n_trials`` is the study's total over all its workers: a worker asks for no trial once the study holds
``n_trials`` trials (finished, running or failed; not counting those a retry replaced), so N workers started with
the same command run n_trials in all.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from convlab.sweeps.fates import forget_unfinished, planned_job, stop_sweep
from convlab.sweeps.liveness import JOB_DIR, orphaned
from convlab.sweeps.trial_fates import (
    RESUMED_FROM,
    RETRY_OF,
    SURPLUS_ATTR,
    counted,
    job_dir_of,
    newest_checkpoint,
    outcome,
    recover_stale,
    retry,
    tell_from_job,
)

__all__ = ["SURPLUS_ATTR", "OptunaSweeperBase", "outcome", "tell"]

log = logging.getLogger(__name__)

OPTIMIZATION_RESULTS = "optimization_results.yaml"
ORPHAN_POLL_S = 2.0  # how often a worker looks again at the jobs of a dead worker that still run
MAX_FAILURES = 3  # trials failed in a row before a worker stops: a broken setup must not burn the budget


class OptunaSweeperBase(Sweeper):
    """Hydra's Sweeper interface; the plugin class Hydra instantiates is hydra_plugins.convlab_sweeper's."""

    def __init__(
        self,
        sampler: DictConfig,
        direction: str,
        storage: str | None,
        study_name: str,
        n_trials: int,
        n_jobs: int,
        params: DictConfig | None = None,
        retries: int = 1,
        max_failures: int = MAX_FAILURES,
        lease_s: float = 120.0,
        storage_grace_s: float = 60.0,
    ) -> None:
        self.sampler_cfg = sampler
        self.direction = str(direction)
        self.storage = storage
        self.study_name = str(study_name)
        self.n_trials = int(n_trials)
        self.n_jobs = max(1, int(n_jobs))
        self.params = OmegaConf.to_container(params) if params is not None else {}
        self.retries, self.max_failures = max(0, int(retries)), max(1, int(max_failures))
        self.lease_s, self.storage_grace_s = float(lease_s), float(storage_grace_s)  # read by the jobs (study.py)
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher: Any = None
        self.sweep_dir = Path(".")

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )

    def sweep(self, arguments: list[str]) -> None:
        from hydra.utils import instantiate

        from convlab.sweeps.search_space import search_space
        from convlab.sweeps.study import join_study, pruner_of

        assert self.config is not None
        distributions, fixed = search_space(self.params, list(arguments))
        self.sweep_dir = Path(str(self.config.hydra.sweep.dir))
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        study, spec = join_study(self.storage, self.sweep_dir, self.study_name, self.direction, pruner_of(self.config))
        study.sampler = instantiate(self.sampler_cfg)  # the configured one (reseeded per trial when seeded)
        log.info("study %s in %s: %d trials so far", self.study_name, spec, len(study.trials))
        job_idx, failures = 0, 0
        while True:
            recover_stale(study, self.sweep_dir, self.retries)  # the budget used up by dead jobs is owed again
            asked = self._ask(study, self.n_jobs, distributions, fixed)
            if not asked and not self._orphans(study):
                break
            if not asked:  # a dead worker's jobs run on: tell them when they end (they may need a retry)
                time.sleep(ORPHAN_POLL_S)
                continue
            states = self._run_batch(study, asked, job_idx)
            job_idx += len(asked)
            # failures in a row: FAIL trials not retried (a killed job's retry, e.g. its joblib siblings, is no verdict)
            failures = 0 if any(s in ("COMPLETE", "PRUNED") for s in states) else failures + states.count("FAIL")
            if failures >= self.max_failures:
                stop_sweep(f"{failures} trials failed in a row ({self._last_reason(study)}): this worker stops")
                break
            if self._ask_count(study) > 0:  # more to come: keep the report current (the callback writes the last)
                _write_live_report(self.sweep_dir)
        write_optimization_results(study, self.sweep_dir / OPTIMIZATION_RESULTS, spec)

    def _run_batch(self, study: Any, asked: list[tuple[Any, list[str]]], job_idx: int) -> list[str | None]:
        """Launch one batch and tell every trial from its own job, whatever launch did; Ctrl-C is re-raised after."""
        batch, overrides = [trial for trial, _ in asked], [job for _, job in asked]
        returned: list[str | None] = [None] * len(batch)
        why_dead, interrupted = "its job died before writing results.json", None
        try:
            returns = self.launcher.launch(overrides, initial_job_idx=job_idx)
            returned = [*(_output_dir(ret) for ret in returns), *returned][: len(batch)]
        except KeyboardInterrupt as e:  # Ctrl-C (RunInterrupted too): tell what finished, then stop
            interrupted, why_dead = e, "interrupted: Ctrl-C on the worker"
        except Exception as e:  # the launcher broke (joblib's TerminatedWorkerError: a killed job takes its pool)
            why_dead = f"its job died before writing results.json ({type(e).__name__}: {_first_line(e)})"
            log.warning("launch of trials %s failed: %s", [t.number for t in batch], why_dead)
        forget_unfinished()  # the launcher's record of dead jobs: told (and retried) here instead
        states = []
        for trial, ret_dir in zip(batch, returned, strict=True):
            job_dir = job_dir_of(trial, self.sweep_dir, ret_dir)
            states.append(tell_from_job(study, trial, job_dir, why_dead, worker_interrupted=interrupted is not None))
            if interrupted is None and retry(study, study._storage.get_trial(trial._trial_id), self.retries):
                states[-1] = "RETRIED"  # not a failure of the setup (yet): its retry will say
        if interrupted is not None:
            raise interrupted
        return states

    def _orphans(self, study: Any) -> list[int]:
        """RUNNING trials whose job runs on although their worker (on this host) is gone."""
        import optuna

        running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        return [t.number for t in running if orphaned(dict(t.user_attrs))]

    def _last_reason(self, study: Any) -> str:
        failed = [t for t in study.get_trials(deepcopy=False) if "fail_reason" in t.user_attrs]
        return str(failed[-1].user_attrs["fail_reason"]) if failed else "no reason recorded"

    def _ask_count(self, study: Any) -> int:
        return self.n_trials - counted(study.get_trials(deepcopy=False))

    def _ask(
        self, study: Any, most: int, distributions: dict[str, Any], fixed: dict[str, str]
    ) -> list[tuple[Any, list[str]]]:
        """Up to ``most`` new trials with their jobs' overrides; a new trial with n_trials counted trials before it
        (another worker took the last) is told FAIL. Retries waiting in the study come first."""
        import optuna

        batch = []
        for _ in range(max(0, min(most, self._ask_count(study) + self._waiting(study)))):
            trial = self._seeded_ask(study)
            if RETRY_OF not in trial.user_attrs and counted(study.get_trials(deepcopy=False), trial.number) >= (
                self.n_trials
            ):
                trial.set_user_attr(SURPLUS_ATTR, f"the study already had n_trials={self.n_trials}")
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                break
            # sampled now, while the study's sampler is this trial's (the next ask reseeds it)
            batch.append((trial, self._overrides(study, trial, distributions, fixed)))
        return batch

    def _waiting(self, study: Any) -> int:
        import optuna

        return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))

    def _seeded_ask(self, study: Any) -> Any:
        """A new trial sampled with seed + its number: unique over workers, reproducible for one worker."""
        import optuna
        from hydra.utils import instantiate

        trial = study.ask()
        seed = OmegaConf.select(self.sampler_cfg, "seed", default=None)
        if seed is not None:
            study.sampler = instantiate(self.sampler_cfg, seed=int(seed) + trial.number)
            trial = optuna.trial.Trial(study, trial._trial_id)  # its relative (multivariate) draws, reseeded
        return trial

    def _overrides(self, study: Any, trial: Any, distributions: dict[str, Any], fixed: dict[str, str]) -> list[str]:
        from convlab.sweeps.search_space import trial_overrides
        from convlab.sweeps.storage import worker_tag

        params = {key: trial._suggest(key, dist) for key, dist in distributions.items()}
        trial.set_user_attr("worker", worker_tag())
        overrides = [*trial_overrides(params, fixed), f"optuna_trial={trial.number}"]
        if RETRY_OF in trial.user_attrs:  # resume the dead job's training, in this trial's own directory
            dead = study._storage.get_trial(
                study._storage.get_trial_id_from_study_id_trial_number(study._study_id, int(trial.user_attrs[RETRY_OF]))
            )
            if (ckpt := newest_checkpoint(job_dir_of(dead, self.sweep_dir))) is not None:
                trial.set_user_attr(RESUMED_FROM, str(ckpt))
                overrides.append(f"ckpt_path={quoted(str(ckpt))}")
        if (job_dir := self._job_dir(overrides)) is not None:
            trial.set_user_attr(JOB_DIR, str(job_dir))
        return overrides

    def _job_dir(self, overrides: list[str]) -> Path | None:
        """The directory Hydra will give the job of these overrides (hydra.sweep.dir / hydra.sweep.subdir)."""
        if self.hydra_context is None or self.config is None:
            return None
        try:
            return planned_job(self.hydra_context, self.config, overrides)[0].absolute()
        except Exception as e:  # the job will say what is wrong; its directory is found from the launcher
            log.info("job directory of %s not known in advance: %s", overrides, e)
            return None


def quoted(value: str) -> str:
    """A value as a quoted string of Hydra's override grammar (a job directory holds '=' and ',')."""
    return "'" + value.replace("'", "\\'") + "'"  # Hydra unescapes a backslash only before a quote


def _output_dir(ret: JobReturn) -> str | None:
    return str(OmegaConf.select(ret.hydra_cfg, "hydra.runtime.output_dir", default="") or "") or None


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else ""


def tell(study: Any, trial: Any, ret: JobReturn) -> None:
    """Tell the study a finished job's outcome, read from its results.json (the job directory ``ret`` names)."""
    out = _output_dir(ret)
    tell_from_job(study, trial, Path(out) if out else None, "its job died before writing results.json")


def write_optimization_results(study: Any, path: Path, spec: str) -> None:
    """The best trial of the whole study (every worker's), as Hydra's Optuna sweeper wrote it, plus the study."""
    from convlab.fileio import atomic_write_text
    from convlab.sweeps.storage import describe

    try:
        best = study.best_trial
        best_params, best_value = dict(best.params), float(best.value)
    except ValueError:  # no trial completed
        best_params, best_value = {}, None
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
    found = {
        "name": "optuna",
        "best_params": best_params,
        "best_value": best_value,
        "study_name": study.study_name,
        "storage": describe(spec),
        "trials": counts,
    }
    atomic_write_text(path, OmegaConf.to_yaml(OmegaConf.create(found)))


def _write_live_report(sweep_dir: Path) -> None:
    """Rewrite the sweep's report between batches, so an interrupted sweep still has a current one."""
    from convlab.errors import ConvlabError
    from convlab.report.comparison_report import write_comparison_report

    try:
        write_comparison_report([sweep_dir], sweep_dir)
    except (ConvlabError, OSError, ValueError, KeyError) as e:  # a report is a convenience mid-sweep, never fatal
        log.warning("report not rewritten: %s", e)
