"""convlab's Optuna sweeper without training: the search space, storages, the n_trials rule, per-trial seeds,
what Optuna is told, the pruned record and the pre-check of a study."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import optuna
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from convlab.config import CONFIG_DIR
from convlab.errors import ConfigError
from convlab.runfiles.results import read_results, write_results
from convlab.sweeps import storage as storages
from convlab.sweeps.optuna_sweeper import SURPLUS_ATTR, OptunaSweeperBase, outcome
from convlab.sweeps.pruning import OptunaPruning, record_pruning
from convlab.sweeps.search_space import search_space
from convlab.sweeps.study import check_study, join_study

optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = {"optim.lr": "tag(log, interval(1e-4, 1e-1))", "dataset.batch_size": "choice(32, 64, 128, 256)"}


def sweeper(n_trials: int = 4, seed: int | None = 0, n_jobs: int = 1) -> OptunaSweeperBase:
    sampler = OmegaConf.create({"_target_": "optuna.samplers.TPESampler", "seed": seed})
    return OptunaSweeperBase(sampler, "maximize", None, "s", n_trials, n_jobs, OmegaConf.create(SPACE))


def test_the_search_space_reads_hydras_sweep_syntax() -> None:
    params = {
        **SPACE,
        "a": "tag(int, interval(0, 10))",
        "a_log": "tag(int, log, interval(1, 64))",
        "b": "interval(0.5, 1.5)",
        "c": "range(2, 10, 3)",
        "d": "range(0.0, 1.0, 0.25)",
        "model": "mlp",
    }
    distributions, fixed = search_space(params, ["dataset.batch_size=choice(16,32)", "seed=3"])
    assert distributions["optim.lr"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert distributions["dataset.batch_size"] == CategoricalDistribution([16, 32])  # the command line wins
    assert distributions["a"] == IntDistribution(0, 10)
    assert distributions["a_log"] == IntDistribution(1, 64, log=True)
    assert distributions["b"] == FloatDistribution(0.5, 1.5)
    assert distributions["c"] == IntDistribution(2, 8, step=3)  # 2, 5, 8: range's stop excluded, as in Python
    assert distributions["d"] == FloatDistribution(0.0, 0.75, step=0.25)
    assert fixed == {"model": "mlp", "seed": "3"}


@pytest.mark.parametrize(("params", "words"), [({"x": "tag(log, interval(0, 1))"}, "positive"), ({"x": "(("}, "x")])
def test_a_search_space_optuna_cannot_use_is_one_line(params: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        search_space(params, [])


def test_storage_specs_name_a_journal_or_an_rdb(tmp_path: Path) -> None:
    assert storages.storage_spec(None, tmp_path) == f"journal:{tmp_path / 'optuna.journal'}"
    assert storages.journal_path(f"journal://{tmp_path}/s.journal") == tmp_path / "s.journal"
    assert storages.journal_path("journal:shared/study") == Path("shared/study")
    assert storages.journal_path("/nfs/team/study.journal") == Path("/nfs/team/study.journal")
    assert storages.journal_path("sqlite:///optuna.db") is None
    assert storages.describe("postgresql://me:secret@db.lab:5432/optuna") == "postgresql://me:***@db.lab:5432/optuna"


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("optuna.db", "neither an SQLAlchemy URL"),
        ("journal:/no/such/dir/s.journal", "no directory /no/such/dir"),
        ("nosuchdb://x/y", "not a usable URL"),
        # nothing listens on port 9 (without the postgres extra: psycopg missing, said as much)
        ("postgresql://nobody@127.0.0.1:9/optuna", "cannot open it|driver is missing.*postgres"),
    ],
)
def test_a_storage_that_cannot_be_opened_is_one_line(spec: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as e:
        storages.open_storage(spec)
    assert "\n" not in str(e.value)


def test_every_worker_creates_or_joins_the_same_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/o.db"
    first, _ = join_study(url, tmp_path, "s", "maximize", optuna.pruners.NopPruner())
    first.ask()
    second, _ = join_study(url, tmp_path, "s", "maximize", optuna.pruners.NopPruner())
    assert second._study_id == first._study_id and len(second.trials) == 1
    with pytest.raises(ConfigError, match="maximizes its objective, this sweep would minimize"):
        join_study(url, tmp_path, "s", "minimize", optuna.pruners.NopPruner())


def test_trial_n_is_sampled_with_seed_plus_n_so_workers_differ_and_one_worker_repeats() -> None:
    def draws(study: optuna.Study, worker: OptunaSweeperBase, n: int) -> list[list[str]]:
        distributions, fixed = search_space(worker.params, [])
        out = []
        for _ in range(n):
            ((trial, overrides),) = worker._ask(study, 1, distributions, fixed)
            out.append(overrides)
            study.tell(trial, 0.5)
        return out

    once = draws(optuna.create_study(direction="maximize"), sweeper(), 3)
    batched = optuna.create_study(direction="maximize")  # one batch of 3 (n_jobs=3): trial n still seed + n
    distributions, fixed = search_space(SPACE, [])
    assert [job for _, job in sweeper()._ask(batched, 3, distributions, fixed)] == once
    again = draws(optuna.create_study(direction="maximize"), sweeper(), 3)
    assert once == again  # reproducible
    shared = optuna.create_study(direction="maximize")  # two workers, turn about, on one study
    a, b = sweeper(), sweeper()
    both = [*draws(shared, a, 1), *draws(shared, b, 1), *draws(shared, a, 1)]
    assert both == once  # trial n is trial n, whichever worker asked for it
    assert len({tuple(o[:2]) for o in both}) == 3  # distinct draws (the same seed per worker would repeat)


def test_n_trials_is_the_studys_total_over_all_workers() -> None:
    study = optuna.create_study(direction="maximize")
    for _ in range(3):  # another worker's trials
        study.tell(study.ask(), 0.1)
    worker = sweeper(n_trials=4, n_jobs=3)
    batch = worker._ask(study, 3, {}, {})
    assert [(t.number, job) for t, job in batch] == [(3, ["optuna_trial=3"])]
    study.ask()  # a worker racing past the count: its trial number 4 is beyond n_trials=4
    worker.n_trials = 6
    assert [t.number for t, _ in worker._ask(study, 3, {}, {})] == [5]
    worker.n_trials = 5  # now full: a trial asked anyway is told FAIL and never run
    study2 = optuna.create_study(direction="maximize")
    study2.ask(), study2.ask()
    worker.n_trials = 1
    assert worker._ask(study2, 1, {}, {}) == []
    worker._ask_count = lambda s: 1  # type: ignore[method-assign]  (as if another worker had not asked yet)
    assert worker._ask(study2, 1, {}, {}) == []
    surplus = study2.trials[-1]
    assert surplus.state == optuna.trial.TrialState.FAIL and SURPLUS_ATTR in surplus.user_attrs


@pytest.mark.parametrize(
    ("record", "told"),
    [
        ({"status": "ok", "val": {"acc": 0.9}}, ("COMPLETE", 0.9)),
        ({"status": "diverged"}, ("COMPLETE", 0.0)),  # the worst accuracy: steer away from its learning rate
        ({"status": "pruned", "val": {"acc": 0.3}}, ("PRUNED", None)),
        ({"status": "failed", "error": "CUDA out of memory"}, ("FAIL", None)),  # says nothing about the params
        ({"status": "interrupted"}, ("FAIL", None)),
        (None, ("FAIL", None)),  # killed before results.json
    ],
)
def test_what_optuna_is_told_for_each_status(record: dict | None, told: tuple) -> None:
    assert outcome(record) == told


def test_a_pruned_trial_records_its_epochs_and_last_validation_accuracy(tmp_path: Path) -> None:
    class Trial:
        def __init__(self) -> None:
            self.reports: list[tuple[float, int]] = []

        def report(self, value: float, step: int) -> None:
            self.reports.append((value, step))

        def should_prune(self) -> bool:
            return len(self.reports) == 2

    class Trainer:
        sanity_checking, is_global_zero, should_stop, current_epoch = False, True, False, 0

        class strategy:  # one process: rank 0's decision is the decision (Lightning's single-device broadcast)
            broadcast = staticmethod(lambda obj, src=0: obj)

    pruning, trainer, module = OptunaPruning(Trial()), Trainer(), type("M", (), {"val_results": {"acc": 0.2}})()
    for epoch, acc in enumerate([0.2, 0.25]):
        trainer.current_epoch, module.val_results = epoch, {"acc": acc, "loss": 2.0}
        pruning.on_validation_end(trainer, module)
    assert trainer.should_stop and pruning.trial.reports == [(0.2, 0), (0.25, 1)]
    record = {"status": "failed", "dataset": "digits", "model": "mlp", "optim": "sgd", "loss": "ce", "overrides": []}
    record["val"] = {"loss": 2.0, "acc": 0.25}
    record_pruning(record, [pruning])
    assert record["status"] == "pruned" and record["pruned_after_epochs"] == 2 and record["val"]["acc"] == 0.25
    assert read_results(write_results(tmp_path, record).parent)["status"] == "pruned"  # a valid results.json
    diverged = {**record, "status": "diverged"}
    record_pruning(diverged, [pruning])
    assert diverged["status"] == "diverged"


def _optuna_config(*overrides: str):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("config", overrides=["hparams_search=optuna", *overrides], return_hydra_config=True)


def test_the_threshold_pruner_judges_each_trial_on_its_own_accuracy_at_the_epochs_it_names(tmp_path: Path) -> None:
    """pruner=threshold: below ``lower`` at a judged epoch is pruned, whatever other trials did; with
    n_warmup_steps=1 and interval_steps = epochs (the chaos run's setting) only the second epoch is judged."""
    from convlab.sweeps.study import pruner_of

    pruner = pruner_of(_optuna_config("pruner=threshold", "pruner.n_warmup_steps=1", "pruner.interval_steps=6"))
    assert isinstance(pruner, optuna.pruners.ThresholdPruner)
    study = optuna.create_study(direction="maximize", pruner=pruner)

    def decisions(accuracies: list[float]) -> list[bool]:
        trial = study.ask()
        return [trial.report(acc, step) or trial.should_prune() for step, acc in enumerate(accuracies)]

    assert decisions([0.1, 0.15, 0.1, 0.1]) == [False, True, False, False]  # below 0.2 at epoch 2: pruned there
    assert decisions([0.1, 0.9, 0.1, 0.1]) == [False, False, False, False]  # past epoch 2: never judged again
    assert decisions([0.95, 0.97, 0.98]) == [False, False, False]


def test_the_precheck_refuses_a_study_that_minimises(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/o.db"
    optuna.create_study(storage=url, study_name="theirs", direction="minimize")
    with pytest.raises(ConfigError, match="minimizes its objective"):
        check_study(_optuna_config(f"hydra.sweeper.storage={url}", "hydra.sweeper.study_name=theirs"))
    check_study(_optuna_config(f"hydra.sweeper.storage={url}", "hydra.sweeper.study_name=new"))  # created later


def test_a_pruner_with_too_few_trials_is_a_one_line_warning(capsys: pytest.CaptureFixture) -> None:
    check_study(_optuna_config("pruner=median", "hydra.sweeper.n_trials=3", "hydra.sweeper.study_name=w1"))
    err = capsys.readouterr().err
    assert err == "convlab: warning: pruner MedianPruner will prune nothing: n_trials=3 is not more than its " + (
        "n_startup_trials=3\n"
    )
    check_study(_optuna_config("pruner=median", "hydra.sweeper.n_trials=20", "hydra.sweeper.study_name=w2"))
    assert capsys.readouterr().err == ""


class Launcher:
    """A launcher whose jobs write a results.json each (``statuses``), then is stopped by Ctrl-C."""

    def __init__(self, root: Path, statuses: list[str]) -> None:
        self.root, self.statuses, self.launched = root, statuses, []

    def launch(self, overrides: list[list[str]], initial_job_idx: int) -> list:
        from hydra.core.utils import JobReturn

        if len(self.launched) + len(overrides) > len(self.statuses):
            raise KeyboardInterrupt
        returns = []
        for job in overrides:
            out = self.root / f"job{len(self.launched)}"
            out.mkdir(parents=True)
            status = self.statuses[len(self.launched)]
            record = {"status": status, "dataset": "d", "model": "m", "optim": "o", "loss": "l", "overrides": job}
            write_results(out, {**record, "val": {"acc": 0.5}, "test": {"acc": 0.4}})
            self.launched.append(job)
            ret = JobReturn()
            ret.hydra_cfg = OmegaConf.create({"hydra": {"runtime": {"output_dir": str(out)}}})
            returns.append(ret)
        return returns


def run_sweep(tmp_path: Path, launcher: Launcher, n_trials: int) -> optuna.Study:
    worker = sweeper(n_trials=n_trials)
    worker.config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "sweep")}}, "pruner": None})
    worker.launcher = launcher
    worker.sweep([])
    return sweep_study(tmp_path)


def sweep_study(tmp_path: Path) -> optuna.Study:
    spec = storages.storage_spec(None, tmp_path / "sweep")  # the default: a journal in the sweep directory
    return optuna.load_study(study_name="s", storage=storages.open_storage(spec))


def test_a_sweep_tells_optuna_what_each_results_json_says(tmp_path: Path) -> None:
    study = run_sweep(tmp_path, Launcher(tmp_path / "sweep", ["ok", "failed", "diverged"]), n_trials=3)
    assert [(t.state.name, t.value) for t in study.trials] == [("COMPLETE", 0.5), ("FAIL", None), ("COMPLETE", 0.0)]
    assert study.trials[1].user_attrs["status"] == "failed" and study.trials[0].user_attrs["run_dir"].endswith("job0")
    best = OmegaConf.load(tmp_path / "sweep" / "optimization_results.yaml")
    assert best.best_value == 0.5 and set(best.best_params) == {"optim.lr", "dataset.batch_size"}
    assert dict(best.trials) == {"complete": 2, "fail": 1}


def test_ctrl_c_leaves_the_running_trial_failed_and_the_report_of_the_trials_before(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        run_sweep(tmp_path, Launcher(tmp_path / "sweep", ["ok"]), n_trials=3)
    assert [t.state.name for t in sweep_study(tmp_path).trials] == ["COMPLETE", "FAIL"]  # not RUNNING forever
    assert (tmp_path / "sweep" / "report.html").is_file()  # rewritten after every batch: the first trial's
    assert len((tmp_path / "sweep" / "comparison.csv").read_text().splitlines()) == 1 + 1


def test_the_configured_sampler_is_used_even_unseeded(tmp_path: Path) -> None:
    worker = sweeper(n_trials=2, seed=None)
    worker.sampler_cfg = OmegaConf.create({"_target_": "optuna.samplers.RandomSampler", "seed": None})
    worker.config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "sweep")}}, "pruner": None})
    worker.launcher = Launcher(tmp_path / "sweep", ["ok", "ok"])
    seen: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        for sampler in (optuna.samplers.RandomSampler, optuna.samplers.TPESampler):
            original = sampler.sample_independent
            patch.setattr(
                sampler,
                "sample_independent",
                lambda self, *a, _original=original: seen.append(type(self).__name__) or _original(self, *a),
            )
        worker.sweep([])
    assert seen == ["RandomSampler"] * 4  # two parameters, two trials; never Optuna's default (TPE)


def test_the_reports_optuna_history_follows_trial_numbers_over_workers() -> None:
    from convlab.report.compare import Job
    from convlab.report.hyperparams import _trial_number

    def job(number: int) -> Job:
        overrides = ["optim.lr=0.1", f"optuna_trial={number}"]
        return Job(Path(f"w/trial_{number}"), {"status": "ok", "overrides": overrides})

    jobs = [job(10), job(2), job(0)]  # directory order, or two workers' directories one after the other
    assert [j.run_dir.name for j in sorted(jobs, key=_trial_number)] == ["trial_0", "trial_2", "trial_10"]
    assert job(3).overrides == ["optim.lr=0.1"]  # the trial number names the job, it is not a hyperparameter


def docs_commands() -> list[list[str]]:
    """The ``python train.py`` command lines of docs/optuna.md's code blocks (continuation lines joined)."""
    from helpers import ROOT

    text = (ROOT / "docs" / "optuna.md").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line for block in text.split("```")[1::2] for line in block.splitlines()]
    lines = [line.removeprefix("$ ").split("#", 1)[0].strip() for line in lines]
    return [shlex.split(line)[2:] for line in lines if line.startswith("python train.py")]


def test_every_command_of_the_optuna_page_passes_the_precheck() -> None:
    from convlab.cli.precheck import precheck
    from convlab.cli.train import check_train_job

    commands = docs_commands()
    assert len(commands) >= 6
    for args in commands:
        if not any(a.startswith("hydra.sweeper.storage=") for a in args):  # a server or NFS path of the reader's
            precheck(args, "config", check_train_job)


def test_a_missing_database_driver_is_one_line_that_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # The Quick start installs no PostgreSQL driver: Optuna then raises an ImportError of its own around psycopg's.
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    with pytest.raises(ConfigError, match=r"database driver is missing: .*psycopg.*\.\[postgres\]") as e:
        storages.open_storage("postgresql://nobody@127.0.0.1:9/optuna")
    assert "\n" not in str(e.value)
