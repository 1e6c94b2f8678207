"""A grid sweep through submitit whose job dies: the sweep records it, waits for the other job, writes the report,
names the job that did not finish with the resume command, and exits 1 without a traceback (issue 28)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from helpers import start_train
from test_optuna_study import POSTGRES, postgres_database  # noqa: F401  (postgres_database: the fixture)

from convlab.report.compare import sweep_job_dirs
from convlab.runfiles.results import read_results

# Long enough that a kill lands mid-training with epochs left: digits, 60 epochs of 6 batches.
LONG_JOBS = [
    "trainer.max_epochs=60",
    "++trainer.limit_train_batches=6",
    "++trainer.limit_val_batches=1",
    "~callbacks.progress_bar",
    "++trainer.enable_progress_bar=false",
    "hydra/launcher=submitit_local",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.timeout_min=10",
]


def _training(job_dir: Path, trained: int = 1) -> bool:
    """Whether a job's history.csv shows ``trained`` epochs (and so training is under way)."""
    history = job_dir / "history.csv"
    return history.is_file() and len(history.read_text().splitlines()) >= 1 + trained


def _wait_for_jobs_training(
    cwd: Path, proc: subprocess.Popen, limit_s: float = 240, trained: int = 1
) -> tuple[Path, list[int]]:
    """The sweep directory and the submitit job pids (the local executor's job ids) once both jobs have trained
    ``trained`` epochs."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        sweeps = list((cwd / "outputs" / "sweeps").glob("*/.submitit"))
        if sweeps:
            sweep = sweeps[0].parent
            jobs = [d for d in sweep.iterdir() if d.is_dir() and (d.name[0].isdigit() or d.name.startswith("trial_"))]
            if len(jobs) == 2 and all(_training(j, trained) for j in jobs):
                pids = sorted(int(p.name) for p in sweeps[0].iterdir() if p.name.isdigit())
                return sweep, pids
        time.sleep(0.3)
    proc.kill()
    raise AssertionError("the two jobs were not both training within 4 minutes")


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.slow
def test_a_grid_sweep_whose_job_is_killed_records_it_reports_and_exits_1(tmp_path: Path) -> None:
    proc = start_train(tmp_path, "-m", "seed=0,1", *LONG_JOBS, merge_output=True)
    sweep, pids = _wait_for_jobs_training(tmp_path, proc)
    assert len(pids) == 2, pids
    (task,) = _children(pids[0])  # submitit's local controller runs the job in a child process
    os.kill(task, signal.SIGKILL)  # no Python cleanup, no results.json of its own
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 1, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    records = {job.name: read_results(job) for job in sweep_job_dirs(sweep)}
    assert sorted(r["status"] for r in records.values()) == ["failed", "ok"], records
    (dead_name,) = [name for name, r in records.items() if r["status"] == "failed"]
    dead = records[dead_name]
    assert dead["recorded_by"] == "sweep" and dead["error"].startswith("killed before writing results.json"), dead
    assert dead["seed"] in (0, 1) and dead["model"] == "lenet"
    (alive,) = [r for r in records.values() if r["status"] == "ok"]
    assert "recorded_by" not in alive and alive["epochs"] == 60  # the other job ran to its end
    assert (sweep / "report.html").is_file()
    assert f"not finished       {dead_name}: killed" in output
    assert "resume this sweep  python train.py -m" in output and "skip_done=true" in output


@pytest.mark.slow
def test_an_optuna_trial_killed_mid_training_is_retried_from_its_checkpoint(tmp_path: Path) -> None:
    import optuna
    import torch

    from convlab.sweeps.storage import open_storage

    # 60 epochs (as LONG_JOBS): the job started first must not finish before the other one has trained 4 epochs,
    # or the kill lands on a job that already wrote ok (seen once with 10 epochs: both trials COMPLETE)
    epochs, batches = 60, 6
    args = [
        "-m",
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.n_jobs=2",
        "optim.lr=0.001",
        "dataset.batch_size=32",
        f"trainer.max_epochs={epochs}",
        f"++trainer.limit_train_batches={batches}",
        *LONG_JOBS[2:],
    ]
    proc = start_train(tmp_path, *args, merge_output=True)
    sweep, pids = _wait_for_jobs_training(tmp_path, proc, trained=4)
    (task,) = _children(pids[0])
    os.kill(task, signal.SIGKILL)  # at epoch 4 or later of 60, with epochs left
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output[-3000:]  # the dead trial was retried: nothing is missing
    assert "Traceback" not in output, output[-3000:]
    study = optuna.load_study(study_name="convlab", storage=open_storage(f"journal:{sweep / 'optuna.journal'}"))
    states = {t.number: t.state.name for t in study.trials}
    (dead,) = [t for t in study.trials if t.user_attrs.get("died")]
    (retried,) = [t for t in study.trials if "retry_of" in t.user_attrs]
    assert dead.user_attrs["job_pid"] == task and retried.user_attrs["retry_of"] == dead.number, states
    assert sorted(states.values()) == ["COMPLETE", "COMPLETE", "FAIL"] and retried.params == dead.params
    ckpt = torch.load(retried.user_attrs["resumed_from"], map_location="cpu", weights_only=False)
    record = read_results(retried.user_attrs["job_dir"])
    assert record["status"] == "ok" and record["epochs"] == epochs
    killed_at = ckpt["global_step"] // batches
    trained = (record["steps"] - ckpt["global_step"]) / batches
    print(f"killed after epoch {killed_at} of {epochs}; its retry trained {trained:g} epochs, not {epochs}")
    assert killed_at >= 3 and trained == epochs - killed_at


@pytest.mark.slow
def test_ctrl_c_on_a_submitit_sweep_cancels_its_jobs_and_records_them_interrupted(tmp_path: Path) -> None:
    proc = start_train(tmp_path, "-m", "seed=0,1", *LONG_JOBS, merge_output=True)
    sweep, pids = _wait_for_jobs_training(tmp_path, proc)
    proc.send_signal(signal.SIGINT)  # Ctrl-C reaches the sweep's process (a terminal would signal the jobs too)
    try:
        output, _ = proc.communicate(timeout=300)
    finally:
        proc.kill()  # one that did not stop must not run on after the test
    assert proc.returncode == 130, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    records = [read_results(job) for job in sweep_job_dirs(sweep)]
    assert [r["status"] for r in records] == ["interrupted", "interrupted"], records
    assert all(r["epochs"] < 60 for r in records if "epochs" in r)  # stopped, not run to the end
    assert not [pid for pid in pids if _children(pid)]  # no job left running
    assert "cancelled          2 job(s) still running" in output and "resume this sweep" in output


@pytest.mark.slow
def test_a_study_rides_out_its_postgresql_database_going_away_for_a_few_seconds(
    postgres_database: str,  # noqa: F811
) -> None:
    """As a server restart looks to a client: every open connection is cut and new ones are refused for a while."""
    import threading

    import optuna
    import sqlalchemy

    from convlab.sweeps.storage import open_storage

    admin = sqlalchemy.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    name = sqlalchemy.engine.make_url(postgres_database).database

    def allow(on: bool) -> None:
        with admin.connect() as db:
            db.execute(sqlalchemy.text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {str(on).lower()}"))
            if not on:
                db.execute(
                    sqlalchemy.text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname='{name}'")
                )

    study = optuna.create_study(storage=open_storage(postgres_database, grace_s=30), direction="maximize")
    first = study.ask()
    allow(False)
    back = threading.Timer(4.0, allow, args=(True,))
    back.start()
    start = time.monotonic()
    try:
        study.tell(first, 0.5)  # during the outage: retried until the database is back
        study.tell(study.ask(), 0.7)
    finally:
        back.join()
        admin.dispose()
    assert time.monotonic() - start >= 3.5  # it did wait for the database
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"] and study.best_value == 0.7


@pytest.mark.slow
def test_under_joblib_a_killed_job_breaks_the_pool_and_its_batch_is_retried(tmp_path: Path) -> None:
    import optuna

    from convlab.sweeps.storage import open_storage

    args = [
        "-m",
        "hparams_search=optuna",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.n_jobs=2",
        "optim.lr=0.001",
        "dataset.batch_size=32",
        "trainer.max_epochs=10",
        *LONG_JOBS[1:5],
    ]
    proc = start_train(tmp_path, *args, merge_output=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # both jobs train (their history shows 2 epochs)
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        jobs = list((tmp_path / "outputs" / "sweeps").glob("*/trial_*"))
        if len(jobs) == 2 and all(_training(job, 2) for job in jobs):
            break
        time.sleep(0.3)
    sweep = jobs[0].parent
    study = optuna.load_study(study_name="convlab", storage=open_storage(f"journal:{sweep / 'optuna.journal'}"))
    victim = study.trials[0].user_attrs["job_pid"]  # a loky worker process of joblib's pool
    os.kill(victim, signal.SIGKILL)
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    study = optuna.load_study(study_name="convlab", storage=open_storage(f"journal:{sweep / 'optuna.journal'}"))
    first = study.trials[0]
    assert first.state.name == "FAIL" and first.user_attrs["died"], first.user_attrs
    assert "TerminatedWorkerError" in first.user_attrs["fail_reason"]
    retried = {t.user_attrs.get("retry_of") for t in study.trials}
    assert all(t.number in retried for t in study.trials if t.user_attrs.get("died"))  # the pool's batch, retried
    states = sorted(t.state.name for t in study.trials if t.number not in retried)
    assert states == ["COMPLETE", "COMPLETE"], [(t.number, t.state.name, t.user_attrs) for t in study.trials]
