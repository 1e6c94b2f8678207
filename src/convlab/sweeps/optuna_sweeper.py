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

``n_trials`` is the study's total over all its workers: a worker asks for no trial once the study holds
``n_trials`` (finished, running or failed), so N workers started with the same command run n_trials in all.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

OPTIMIZATION_RESULTS = "optimization_results.yaml"
SURPLUS_ATTR = "convlab_surplus"  # a trial asked for after the study reached n_trials: told FAIL, never run


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
    ) -> None:
        self.sampler_cfg = sampler
        self.direction = str(direction)
        self.storage = storage
        self.study_name = str(study_name)
        self.n_trials = int(n_trials)
        self.n_jobs = max(1, int(n_jobs))
        self.params = OmegaConf.to_container(params) if params is not None else {}
        self.config: DictConfig | None = None
        self.launcher: Any = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )

    def sweep(self, arguments: list[str]) -> None:
        from hydra.utils import instantiate

        from convlab.sweeps.search_space import search_space
        from convlab.sweeps.study import join_study, pruner_of

        assert self.config is not None
        distributions, fixed = search_space(self.params, list(arguments))
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        study, spec = join_study(self.storage, sweep_dir, self.study_name, self.direction, pruner_of(self.config))
        study.sampler = instantiate(self.sampler_cfg)  # the configured one (reseeded per trial when seeded)
        log.info("study %s in %s: %d trials so far", self.study_name, spec, len(study.trials))
        job_idx = 0
        while asked := self._ask(study, self.n_jobs, distributions, fixed):
            batch, overrides = [trial for trial, _ in asked], [job for _, job in asked]
            try:
                returns = self.launcher.launch(overrides, initial_job_idx=job_idx)
            except BaseException:  # Ctrl-C, or a launcher that died: these trials must not stay RUNNING
                _fail_running(study, batch)
                raise
            job_idx += len(returns)
            for trial, ret in zip(batch, returns, strict=True):
                tell(study, trial, ret)
            if self._ask_count(study) > 0:  # more to come: keep the report current (the callback writes the last)
                _write_live_report(sweep_dir)
        write_optimization_results(study, sweep_dir / OPTIMIZATION_RESULTS, spec)

    def _ask_count(self, study: Any) -> int:
        return self.n_trials - len(study.get_trials(deepcopy=False))

    def _ask(
        self, study: Any, most: int, distributions: dict[str, Any], fixed: dict[str, str]
    ) -> list[tuple[Any, list[str]]]:
        """Up to ``most`` new trials with their jobs' overrides, none numbered n_trials or more (another worker
        may have taken the last)."""
        import optuna

        batch = []
        for _ in range(min(most, self._ask_count(study))):
            trial = self._seeded_ask(study)
            if trial.number >= self.n_trials:
                trial.set_user_attr(SURPLUS_ATTR, f"the study already had n_trials={self.n_trials}")
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                break
            # sampled now, while the study's sampler is this trial's (the next ask reseeds it)
            batch.append((trial, self._overrides(trial, distributions, fixed)))
        return batch

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

    def _overrides(self, trial: Any, distributions: dict[str, Any], fixed: dict[str, str]) -> list[str]:
        from convlab.sweeps.search_space import trial_overrides
        from convlab.sweeps.storage import worker_tag

        params = {key: trial._suggest(key, dist) for key, dist in distributions.items()}
        trial.set_user_attr("worker", worker_tag())
        return [*trial_overrides(params, fixed), f"optuna_trial={trial.number}"]


def outcome(record: dict[str, Any] | None) -> tuple[str, float | None]:
    """(Optuna state name, value) for a job's results.json (see the module docstring for why)."""
    status = (record or {}).get("status")
    val_acc = ((record or {}).get("val") or {}).get("acc")
    if status == "ok" and val_acc is not None:
        return "COMPLETE", float(val_acc)
    if status == "diverged":
        return "COMPLETE", 0.0
    if status == "pruned":
        return "PRUNED", None
    return "FAIL", None


def tell(study: Any, trial: Any, ret: JobReturn) -> None:
    """Tell the study a finished job's outcome, read from its results.json."""
    import optuna

    from convlab.runfiles.results import RESULTS_NAME, read_results

    run_dir = Path(str(OmegaConf.select(ret.hydra_cfg, "hydra.runtime.output_dir", default="") or ""))
    record = read_results(run_dir) if (run_dir / RESULTS_NAME).is_file() else None
    state, value = outcome(record)
    trial.set_user_attr("run_dir", str(run_dir))
    if record and record.get("status") not in ("ok", None):
        trial.set_user_attr("status", str(record["status"]))
    if state == "PRUNED" and not study._storage.get_trial(trial._trial_id).intermediate_values:
        state = "FAIL"  # a pruned trial always reported an epoch; without one the job went wrong elsewhere
    study.tell(trial, value if state == "COMPLETE" else None, state=optuna.trial.TrialState[state])


def _fail_running(study: Any, batch: list[Any]) -> None:
    import optuna

    for trial in batch:
        if study._storage.get_trial(trial._trial_id).state == optuna.trial.TrialState.RUNNING:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)


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
    except (ConvlabError, OSError, ValueError) as e:  # a report is a convenience mid-sweep, never fatal
        log.warning("report not rewritten: %s", e)
