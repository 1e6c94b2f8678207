"""hparams_search=optuna end to end through train.py: storages, pruning with the basic and joblib launchers,
two workers on one study, one report over their sweep directories, and bad input before any training."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from helpers import QUICK, run_cli, start_train, the_sweep, train_py

from convlab.report.compare import sweep_job_dirs
from convlab.runfiles.results import RunRecord, read_results

# Trial n samples with seed + n: seed 6 draws lr 0.01 for trial 0, then the hopeless 1e-6 for trials 1-3.
PRUNABLE = [
    "hparams_search=optuna",
    "hydra.sweeper.sampler.seed=6",
    "optim.lr=choice(0.01,1e-6)",
    "dataset.batch_size=64",
    "model=mlp",
    "pruner=median",
    "pruner.n_startup_trials=1",
    "pruner.n_warmup_steps=0",
    *QUICK,
    "trainer.max_epochs=3",
    "++trainer.limit_train_batches=4",
    "++trainer.limit_val_batches=2",
]


def trial_records(sweep: Path) -> dict[int, dict]:
    """Each trial's results.json by its trial number (the optuna_trial override the sweeper gave the job)."""
    records = {}
    for job in sweep_job_dirs(sweep):
        record = read_results(job)
        (number,) = [o.split("=", 1)[1] for o in record["overrides"] if o.startswith("optuna_trial=")]
        assert job.name.startswith(f"trial_{number}_")  # the job directory is named by its trial number
        records[int(number)] = record
    return records


@pytest.mark.slow
def test_a_journal_study_prunes_hopeless_trials_and_reads_back_like_the_dashboard(tmp_path: Path) -> None:
    journal = tmp_path / "study.journal"
    code, out = train_py("-m", *PRUNABLE, "hydra.sweeper.n_trials=3", f"hydra.sweeper.storage={journal}", cwd=tmp_path)
    assert code == 0, out
    records = trial_records(the_sweep(tmp_path))
    assert records[0]["status"] == "ok" and records[0]["epochs"] == 3
    job_lines = [line for line in out.splitlines() if line.startswith("pruned ")]  # the console's line per job
    assert len(job_lines) == 2 and all(" val acc  0." in line and "epochs)" in line for line in job_lines), out
    for n in (1, 2):  # lr 1e-6: below trial 0 (the median of one trial) after an epoch, stopped before the end
        assert records[n]["status"] == "pruned" and records[n]["pruned_after_epochs"] < 3, records[n]
        assert records[n]["epochs"] == records[n]["pruned_after_epochs"] and "test" not in records[n]
        assert set(records[n]) <= set(RunRecord.__annotations__)  # its keys are the contract's
    # What optuna-dashboard shows: the study loaded from its storage, per-epoch values and states.
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    study = optuna.load_study(study_name="convlab", storage=storage)
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "PRUNED", "PRUNED"]
    assert study.best_value == pytest.approx(records[0]["val"]["acc"])
    assert sorted(study.trials[0].intermediate_values) == [0, 1, 2]
    reported = study.trials[1].intermediate_values  # epoch (0-based) -> validation accuracy
    assert len(reported) == records[1]["pruned_after_epochs"]
    assert reported[len(reported) - 1] == pytest.approx(records[1]["val"]["acc"])
    page = (the_sweep(tmp_path) / "comparison.md").read_text()
    assert "## Trials pruned by Optuna" in page and "Jobs that did not finish" not in page


@pytest.mark.slow
def test_pruning_works_when_joblib_runs_the_trials_in_other_processes(tmp_path: Path) -> None:
    code, out = train_py(
        "-m",
        *PRUNABLE,
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.n_jobs=2",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        cwd=tmp_path,
    )
    assert code == 0, out
    sweep = the_sweep(tmp_path)
    records = trial_records(sweep)
    assert sorted(records) == [0, 1, 2, 3]
    assert [records[n]["status"] for n in (0, 1)] == ["ok", "ok"]  # run together: no finished trial to compare to
    # Trials 2-3 (lr 1e-6) meet the median of trials 0 (lr 0.01) and 1 in joblib workers: both stopped there.
    pruned = [n for n in (2, 3) if records[n]["status"] == "pruned"]
    assert pruned == [2, 3], [records[n]["status"] for n in (2, 3)]
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(sweep / "optuna.journal")))
    states = [t.state.name for t in optuna.load_study(study_name="convlab", storage=storage).trials]
    assert [states[n] for n in pruned] == ["PRUNED"] * len(pruned) and states[:2] == ["COMPLETE", "COMPLETE"]


@pytest.mark.slow
def test_pruning_works_when_submitit_runs_the_trials(tmp_path: Path) -> None:
    code, out = train_py("-m", *PRUNABLE, "hydra.sweeper.n_trials=3", "hydra/launcher=submitit_local", cwd=tmp_path)
    assert code == 0, out
    sweep = the_sweep(tmp_path)
    assert [r["status"] for _, r in sorted(trial_records(sweep).items())] == ["ok", "pruned", "pruned"]
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(sweep / "optuna.journal")))
    states = [t.state.name for t in optuna.load_study(study_name="convlab", storage=storage).trials]
    assert states == ["COMPLETE", "PRUNED", "PRUNED"]


@pytest.mark.slow
def test_two_workers_started_together_share_one_new_sqlite_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/optuna.db"
    args = ["hparams_search=optuna", f"hydra.sweeper.storage={url}", "hydra.sweeper.n_trials=4", "model=mlp", *QUICK]
    workers = [start_train(tmp_path, "-m", *args, "threads=1") for _ in range(2)]  # the same second: a schema race
    for worker in workers:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err[-3000:]
    sweeps = sorted((tmp_path / "outputs" / "sweeps").iterdir())
    assert len(sweeps) == 2  # each worker its own sweep directory
    numbers = [n for sweep in sweeps for n in trial_records(sweep)]
    assert sorted(numbers) == [0, 1, 2, 3]  # the study's total, distinct numbers, no directory written twice
    study = optuna.load_study(study_name="convlab", storage=url)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    assert len({(t.params["optim.lr"], t.params["dataset.batch_size"]) for t in study.trials}) == 4  # seeds differ
    workers_seen = {t.user_attrs["worker"] for t in study.trials}
    assert len(workers_seen) == 2, workers_seen  # both took trials

    proc = run_cli("scripts/compare.py", *map(str, sweeps), "--out", str(tmp_path / "report"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = (tmp_path / "report" / "comparison.csv").read_text().splitlines()
    assert len(rows) == 1 + 4  # one report over both workers' trials
    assert (tmp_path / "report" / "optuna_history.png").is_file()


@pytest.mark.parametrize(
    ("storage", "words"),
    [
        ("postgresql://nobody@127.0.0.1:9/optuna", "storage postgresql://nobody@127.0.0.1:9/optuna: "),
        ("journal:/no/such/dir/s.journal", "no directory /no/such/dir"),
        ("optuna.db", "neither an SQLAlchemy URL"),
    ],
)
def test_a_storage_that_cannot_be_opened_stops_before_training(
    tmp_path: Path, capfd: pytest.CaptureFixture, storage: str, words: str
) -> None:
    code, _ = train_py("-m", "hparams_search=optuna", f"hydra.sweeper.storage={storage}", cwd=tmp_path)
    err = capfd.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("convlab: error: ") and words in err[0], err
    assert not (tmp_path / "outputs").exists()  # nothing ran


def test_a_study_that_minimises_is_refused_before_training(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    url = f"sqlite:///{tmp_path}/o.db"
    optuna.create_study(storage=url, study_name="loss", direction="minimize")
    overrides = ["hparams_search=optuna", f"hydra.sweeper.storage={url}", "hydra.sweeper.study_name=loss"]
    code, _ = train_py("-m", *overrides, cwd=tmp_path)
    err = capfd.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "study loss in sqlite:///" in err[0] and "minimizes" in err[0], err
    assert not (tmp_path / "outputs").exists()


# A PostgreSQL server on loopback: scripts/ci/postgres.sh start (.ci/run starts it for the slow suite).
POSTGRES = os.environ.get("CONVLAB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/optuna")


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A new, empty database on the test server (so two workers race on creating its tables); dropped after."""
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(POSTGRES, connect_args={"connect_timeout": 3}, isolation_level="AUTOCOMMIT")
        engine.connect().close()
    except Exception as e:
        reason = f"no PostgreSQL server at {POSTGRES} (scripts/ci/postgres.sh start): {str(e).splitlines()[0]}"
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(reason)  # CI starts one: its absence is a failure there, not a skip
        pytest.skip(reason)
    name = f"convlab_test_{uuid.uuid4().hex[:8]}"
    with engine.connect() as db:
        db.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    try:
        yield str(sqlalchemy.engine.make_url(POSTGRES).set(database=name).render_as_string(hide_password=False))
    finally:
        with engine.connect() as db:
            db.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()


@pytest.mark.slow
def test_two_workers_share_one_postgresql_study_and_prune_its_hopeless_trials(
    tmp_path: Path, postgres_database: str
) -> None:
    args = [*PRUNABLE, f"hydra.sweeper.storage={postgres_database}", "hydra.sweeper.n_trials=6", "threads=1"]
    workers = [start_train(tmp_path, "-m", *args) for _ in range(2)]  # the same second, on a database without tables
    for worker in workers:
        _, err = worker.communicate(timeout=900)
        assert worker.returncode == 0, err[-3000:]
    sweeps = sorted((tmp_path / "outputs" / "sweeps").iterdir())
    records = {n: r for sweep in sweeps for n, r in trial_records(sweep).items()}
    assert sorted(records) == list(range(6)) and sum(len(trial_records(s)) for s in sweeps) == 6
    study = optuna.load_study(study_name="convlab", storage=postgres_database)
    assert len(study.trials) == 6 and len({t.user_attrs["worker"] for t in study.trials}) == 2
    states = {t.number: t.state.name for t in study.trials}
    pruned = [n for n, r in records.items() if r["status"] == "pruned"]
    assert pruned and all(states[n] == "PRUNED" for n in pruned)  # lr 1e-6 trials stopped early
    assert all(states[n] == "COMPLETE" for n in records if n not in pruned)

    proc = run_cli("scripts/compare.py", *map(str, sweeps), "--out", str(tmp_path / "report"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len((tmp_path / "report" / "comparison.csv").read_text().splitlines()) == 1 + 6
    assert "## Trials pruned by Optuna" in (tmp_path / "report" / "comparison.md").read_text()


@pytest.mark.slow
def test_ctrl_c_in_a_worker_leaves_its_trial_failed_and_the_study_usable(tmp_path: Path) -> None:
    journal = tmp_path / "study.journal"
    args = ["hparams_search=optuna", f"hydra.sweeper.storage={journal}", "hydra.sweeper.n_trials=3", "model=mlp"]
    worker = start_train(tmp_path, "-m", *args, "trainer.max_epochs=500", "~callbacks.progress_bar")
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("outputs/sweeps/*/trial_0_*/train.log")) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # into the trial's run
    worker.send_signal(signal.SIGINT)
    try:
        _, err = worker.communicate(timeout=120)
    finally:
        worker.kill()  # one that did not stop must not train on after the test
    assert worker.returncode == 130, err[-2000:]
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    study = optuna.load_study(study_name="convlab", storage=storage)
    assert [t.state.name for t in study.trials] == ["FAIL"]  # not RUNNING forever
    code, out = train_py("-m", *args, *QUICK, cwd=tmp_path)  # another worker carries on with the study
    assert code == 0, out
    study = optuna.load_study(study_name="convlab", storage=storage)
    assert [t.state.name for t in study.trials] == ["FAIL", "COMPLETE", "COMPLETE"]
