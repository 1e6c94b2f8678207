"""Sweeps that survive faults, without training (issue 28): each trial told from its own job whatever the launcher
did, retries of dead jobs and the n_trials budget, stale RUNNING trials recovered on a journal and on SQLite, the
job's lease, storage calls across a dropped connection."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
import sqlalchemy.exc
from omegaconf import OmegaConf

from convlab.config.runtime import start_command
from convlab.runfiles.results import read_results, write_results
from convlab.sweeps import fates
from convlab.sweeps import storage as storages
from convlab.sweeps.liveness import JOB_DIR, host, stale_reason, start_lease
from convlab.sweeps.optuna_sweeper import OptunaSweeperBase
from convlab.sweeps.retrying_storage import RetryingStorage, transient
from convlab.sweeps.trial_fates import recover_stale

optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = {"optim.lr": "tag(log, interval(1e-4, 1e-1))"}
IDENTITY = {"dataset": "d", "model": "m", "optim": "o", "loss": "l"}
TEST = {"acc": 0.4, "f1_macro": 0.4, "loss": 1.0, "samples": 10}


@pytest.fixture(autouse=True)
def _no_leftover_fates(monkeypatch: pytest.MonkeyPatch) -> None:
    start_command()  # no unfinished job or stopped sweeper of an earlier test
    # the report between batches (plots) is tested in test_optuna_sweeper.py; here it would only cost seconds
    monkeypatch.setattr("convlab.sweeps.optuna_sweeper._write_live_report", lambda sweep_dir: None)


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def write_record(job_dir: Path, status: str, overrides: list[str] | None = None) -> None:
    job_dir.mkdir(parents=True, exist_ok=True)
    record = {"status": status, **IDENTITY, "overrides": overrides or [], "val": {"acc": 0.5}, "test": TEST}
    write_results(job_dir, record)


class DyingLauncher:
    """Runs each trial's job in ``<sweep>/trial_<n>_x``: ``fate(n)`` is "ok" or "failed" (the job writes that
    results.json) or "die" (it writes nothing, leaves a checkpoint, and the launcher raises after the batch, as
    submitit's UncompletedJobError or joblib's TerminatedWorkerError do)."""

    def __init__(self, sweep_dir: Path, fate: Callable[[int], str]) -> None:
        self.sweep_dir, self.fate, self.batches = sweep_dir, fate, []

    def launch(self, overrides: list[list[str]], initial_job_idx: int) -> list:
        self.batches.append([list(job) for job in overrides])
        raise_after = False
        for job in overrides:
            number = int(next(o for o in job if o.startswith("optuna_trial=")).split("=")[1])
            job_dir = self.sweep_dir / f"trial_{number}_x"
            job_dir.mkdir(parents=True)
            fate = self.fate(number)
            if fate in ("ok", "failed"):
                write_record(job_dir, fate, job)
            else:
                (job_dir / "checkpoints").mkdir()
                with zipfile.ZipFile(job_dir / "checkpoints" / "last.ckpt", "w") as ckpt:  # torch's format
                    ckpt.writestr("archive/data.pkl", b"epoch 7")
                raise_after = True
        if raise_after:
            raise RuntimeError("UncompletedJobError: Job 123 has not produced any output (state: KILLED)")
        return []


def sweeper(tmp_path: Path, n_trials: int, n_jobs: int = 1, retries: int = 1, **kw) -> OptunaSweeperBase:
    sampler = OmegaConf.create({"_target_": "optuna.samplers.RandomSampler", "seed": 0})
    worker = OptunaSweeperBase(
        sampler, "maximize", None, "s", n_trials, n_jobs, OmegaConf.create(SPACE), retries=retries, **kw
    )
    worker.config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "sweep")}}, "pruner": None})
    return worker


def sweep_study(tmp_path: Path) -> optuna.Study:
    spec = storages.storage_spec(None, tmp_path / "sweep")
    return optuna.load_study(study_name="s", storage=storages.open_storage(spec))


class OkAfterFirstBatch(DyingLauncher):
    def launch(self, overrides: list[list[str]], initial_job_idx: int) -> list:
        if not self.batches:
            return super().launch(overrides, initial_job_idx)
        self.batches.append([list(job) for job in overrides])
        for job in overrides:
            number = int(next(o for o in job if o.startswith("optuna_trial=")).split("=")[1])
            write_record(self.sweep_dir / f"trial_{number}_x", "ok", job)
        return []  # a launcher that returns nothing useful: the trials are still told from their directories


def test_a_launcher_that_raises_costs_no_finished_trial_its_result_and_the_dead_one_is_retried(tmp_path: Path) -> None:
    worker = sweeper(tmp_path, n_trials=2, n_jobs=2)
    worker.launcher = OkAfterFirstBatch(tmp_path / "sweep", lambda n: "ok" if n == 0 else "die")
    worker.sweep([])
    trials = sweep_study(tmp_path).trials
    assert [(t.number, t.state.name) for t in trials] == [(0, "COMPLETE"), (1, "FAIL"), (2, "COMPLETE")]
    assert trials[0].value == 0.5  # told from its own results.json although launch raised
    assert trials[1].user_attrs["died"] is True and "UncompletedJobError" in trials[1].user_attrs["fail_reason"]
    assert trials[2].user_attrs["retry_of"] == 1 and trials[2].params == trials[1].params  # the same parameters
    retry_job = worker.launcher.batches[1][0]
    ckpt = tmp_path / "sweep" / "trial_1_x" / "checkpoints" / "last.ckpt"
    assert f"ckpt_path='{ckpt}'" in retry_job and trials[2].user_attrs["resumed_from"] == str(ckpt)
    assert not fates.stopped()


class OneByOne(DyingLauncher):
    """One trial per batch: ``fate(n)`` ok returns normally, anything else dies."""

    def launch(self, overrides: list[list[str]], initial_job_idx: int) -> list:
        number = int(next(o for o in overrides[0] if o.startswith("optuna_trial=")).split("=")[1])
        if self.fate(number) != "ok":
            return super().launch(overrides, initial_job_idx)
        self.batches.append(overrides)
        write_record(self.sweep_dir / f"trial_{number}_x", "ok", overrides[0])
        return []


def test_retries_are_numbered_and_bounded_and_superseded_trials_leave_the_budget(tmp_path: Path) -> None:
    worker = sweeper(tmp_path, n_trials=3, retries=1)
    worker.launcher = OneByOne(tmp_path / "sweep", lambda n: "die" if n in (1, 2) else "ok")
    worker.sweep([])
    trials = sweep_study(tmp_path).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "FAIL", "COMPLETE"]
    assert trials[2].user_attrs["retry_of"] == 1 and trials[2].user_attrs["retries"] == 1
    assert "retry_of" not in trials[3].user_attrs  # the retry died too: retries=1 spent, a new trial instead
    # n_trials=3 counts trials 0, 2, 3 (1 was superseded by its retry)


def test_a_job_interrupted_from_outside_is_retried_one_that_failed_by_itself_is_not(tmp_path: Path) -> None:
    class Launcher(OneByOne):
        def launch(self, overrides: list[list[str]], initial_job_idx: int) -> list:
            number = int(next(o for o in overrides[0] if o.startswith("optuna_trial=")).split("=")[1])
            if number == 0:  # scancel: the job wrote its own record, interrupted
                self.batches.append(overrides)
                write_record(self.sweep_dir / "trial_0_x", "interrupted", overrides[0])
                return []
            return super().launch(overrides, initial_job_idx)

    worker = sweeper(tmp_path, n_trials=2, retries=1)
    worker.launcher = Launcher(tmp_path / "sweep", lambda n: "failed" if n == 2 else "ok")
    worker.sweep([])
    trials = sweep_study(tmp_path).trials
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE", "FAIL"]
    assert trials[0].user_attrs["died"] is True and trials[1].user_attrs["retry_of"] == 0
    assert "died" not in trials[2].user_attrs and trials[2].user_attrs["status"] == "failed"  # its own verdict


def test_a_worker_stops_after_max_failures_in_a_row_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    worker = sweeper(tmp_path, n_trials=10, retries=0)
    worker.launcher = DyingLauncher(tmp_path / "sweep", lambda n: "die")
    worker.sweep([])
    assert len(sweep_study(tmp_path).trials) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("convlab: 3 trials failed in a row") and fates.stopped()


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_stale_running_trials_are_told_from_their_job_or_failed_and_live_ones_left_alone(
    tmp_path: Path, kind: str
) -> None:
    spec = f"journal:{tmp_path / 'o.journal'}" if kind == "journal" else f"sqlite:///{tmp_path}/o.db"
    study = optuna.create_study(storage=storages.open_storage(spec), study_name="s", direction="maximize")
    gone = dead_pid()

    def running(**attrs: object) -> optuna.trial.Trial:
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        return trial

    finished = tmp_path / "trial_0_x"
    write_record(finished, "ok")
    running(job_host=host(), job_pid=gone, job_dir=str(finished))  # died after writing ok
    running(job_host="elsewhere", job_pid=1, lease_until=time.time() - 5, job_dir=str(tmp_path / "t1"))  # lapsed
    running(job_host=host(), job_pid=os.getpid(), lease_until=time.time() + 60)  # alive
    running(worker=f"{host()}:{gone}")  # its worker died before the job started
    running(worker="otherhost:1")  # a worker elsewhere, job not started yet: its own business
    assert recover_stale(study, tmp_path, retries=1) == 3
    trials = study.trials
    assert [t.state.name for t in trials[:5]] == ["COMPLETE", "FAIL", "RUNNING", "FAIL", "RUNNING"]
    assert trials[0].value == 0.5
    assert "lease expired" in trials[1].user_attrs["fail_reason"] and "worker" in trials[3].user_attrs["fail_reason"]
    waiting = [t for t in trials if t.state.name == "WAITING"]
    assert sorted(t.user_attrs["retry_of"] for t in waiting) == [1, 3]  # the dead ones, to be run again


def test_a_worker_runs_the_trials_still_owed_when_dead_jobs_used_up_the_budget(tmp_path: Path) -> None:
    (tmp_path / "sweep").mkdir()
    spec = storages.storage_spec(None, tmp_path / "sweep")
    study = optuna.create_study(storage=storages.open_storage(spec), study_name="s", direction="maximize")
    for _ in range(2):  # a worker killed with its jobs: two trials RUNNING for ever, the whole budget
        trial = study.ask()
        trial.set_user_attr("job_host", host())
        trial.set_user_attr("job_pid", dead_pid())
    worker = sweeper(tmp_path, n_trials=2, retries=1)
    worker.launcher = OneByOne(tmp_path / "sweep", lambda n: "ok")
    worker.sweep([])
    trials = sweep_study(tmp_path).trials
    assert [t.state.name for t in trials] == ["FAIL", "FAIL", "COMPLETE", "COMPLETE"]
    assert [t.user_attrs.get("retry_of") for t in trials[2:]] == [0, 1]  # owed again: retried, not forgotten


def test_a_job_records_where_it_runs_and_renews_its_lease(tmp_path: Path) -> None:
    study = optuna.create_study()
    trial = study.ask()
    lease = start_lease(trial, tmp_path, lease_s=0.2)
    first = study.trials[0].user_attrs
    assert first["job_host"] == host() and first["job_pid"] == os.getpid() and first[JOB_DIR] == str(tmp_path)
    time.sleep(0.3)
    assert study.trials[0].user_attrs["lease_until"] > first["lease_until"]  # renewed by the thread
    assert stale_reason(study.trials[0].user_attrs) is None
    lease.stop()
    time.sleep(0.3)
    assert "lease expired" in str(stale_reason(study.trials[0].user_attrs))


class FlakyStorage(optuna.storages.InMemoryStorage):
    """An in-memory storage whose first ``drops`` calls fail as a restarting PostgreSQL does."""

    def __init__(self, drops: int) -> None:
        super().__init__()
        self.drops = drops

    def get_all_trials(self, *args: object, **kwargs: object) -> list:
        self._maybe_drop()
        return super().get_all_trials(*args, **kwargs)

    def set_trial_state_values(self, *args: object, **kwargs: object) -> bool:
        self._maybe_drop()
        return super().set_trial_state_values(*args, **kwargs)

    def _maybe_drop(self) -> None:
        if self.drops > 0:
            self.drops -= 1
            cause = sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))
            raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from cause


def test_storage_calls_ride_out_a_dropped_connection_for_the_grace_period() -> None:
    waits: list[float] = []
    storage = RetryingStorage(FlakyStorage(drops=3), grace_s=60, sleep=waits.append)
    study = optuna.create_study(storage=storage, direction="maximize")
    trial = study.ask()
    study.tell(trial, 0.7)  # get_all_trials / set_trial_state_values failed three times on the way
    assert study.best_value == 0.7 and len(waits) == 3 and waits[1] > waits[0]
    down = RetryingStorage(FlakyStorage(drops=10**6), grace_s=3, sleep=lambda s: None)
    with pytest.raises(optuna.exceptions.StorageInternalError):  # longer than the grace period: a failure
        optuna.create_study(storage=down).trials  # noqa: B018
    assert not transient(ValueError("no such study"))


def test_an_rdb_storage_pings_its_connections_and_retries(tmp_path: Path) -> None:
    storage = storages.open_storage(f"sqlite:///{tmp_path}/o.db")
    assert isinstance(storage, RetryingStorage)
    assert storage._inner._backend.engine.pool._pre_ping


def test_a_worker_waits_for_the_jobs_of_a_dead_worker_and_tells_them_when_they_end(tmp_path: Path) -> None:
    (tmp_path / "sweep").mkdir()
    spec = storages.storage_spec(None, tmp_path / "sweep")
    study = optuna.create_study(storage=storages.open_storage(spec), study_name="s", direction="maximize")
    job = subprocess.Popen(["sleep", "1.5"])  # the job, still running when the new worker starts
    trial = study.ask()
    job_dir = tmp_path / "sweep" / "trial_0_x"
    write_record(job_dir, "ok")  # what it will have written when it ends
    for key, value in {"worker": f"{host()}:{dead_pid()}", "job_host": host(), "job_pid": job.pid}.items():
        trial.set_user_attr(key, value)
    trial.set_user_attr("job_dir", str(job_dir))
    worker = sweeper(tmp_path, n_trials=1)
    worker.launcher = OneByOne(tmp_path / "sweep", lambda n: "ok")
    reaper = threading.Timer(0.1, job.wait)  # the job's parent reaps it, as submitit's would
    reaper.start()
    worker.sweep([])
    reaper.join()
    assert [(t.state.name, t.value) for t in sweep_study(tmp_path).trials] == [("COMPLETE", 0.5)]


class FakeJob:
    """A submitit job as convlab's launcher sees it: done(), result(), state, job_id."""

    def __init__(self, job_id: str, result: object) -> None:
        self.job_id, self._result, self.state = job_id, result, "FINISHED"

    def done(self) -> bool:
        return True

    def result(self) -> object:
        if isinstance(self._result, Exception):
            raise self._result
        return self._result


def test_the_submitit_launcher_records_a_dead_job_and_returns_every_job(tmp_path: Path) -> None:
    from submitit.core.utils import UncompletedJobError

    from convlab.sweeps.submitit_jobs import Launched, wait_for_all

    ok_dir, dead_dir = tmp_path / "0_seed=0", tmp_path / "1_seed=1"
    write_record(ok_dir, "ok")
    identity = {"status": "failed", **IDENTITY, "overrides": ["seed=1"], "seed": 1}
    killed = UncompletedJobError("Job 42 (task: 0) with path ... has not produced any output (state: FINISHED)")
    returns = wait_for_all(
        [
            Launched(FakeJob("41", 0.9), 0, ok_dir, ["seed=0"], {**identity, "seed": 0}),
            Launched(FakeJob("42", killed), 1, dead_dir, ["seed=1"], identity),
        ]
    )
    assert [r.return_value for r in returns] == [0.9, 0.0]  # both COMPLETED for the sweeper: it goes on
    assert [r.hydra_cfg.hydra.runtime.output_dir for r in returns] == [str(ok_dir), str(dead_dir)]
    dead = read_results(dead_dir)
    assert dead["status"] == "failed" and dead["recorded_by"] == "sweep" and dead["seed"] == 1
    assert dead["error"] == "killed before writing results.json (job 42)"
    assert [(u.job_dir, u.status) for u in fates.unfinished()] == [(dead_dir, "failed")]
    assert read_results(ok_dir).get("recorded_by") is None  # the job's own record is never overwritten


def test_a_checkpoint_cut_short_by_the_kill_is_passed_over(tmp_path: Path) -> None:
    from convlab.sweeps.trial_fates import newest_checkpoint

    (tmp_path / "checkpoints").mkdir()
    with zipfile.ZipFile(tmp_path / "checkpoints" / "best.ckpt", "w") as ckpt:
        ckpt.writestr("archive/data.pkl", b"epoch 3")
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"PK\x03\x04 half of a zip")  # SIGKILL mid-write
    assert newest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "best.ckpt"
    assert newest_checkpoint(tmp_path / "nothing") is None


def test_a_job_opening_the_storage_while_the_database_restarts_waits_for_it(monkeypatch, tmp_path):
    """Found by the chaos test: a job started during a PostgreSQL restart failed ('cannot open it'); a sweep's jobs
    and workers now ask again within the grace period, while the pre-check still refuses at once (bad input)."""
    import optuna.storages
    import sqlalchemy.exc

    from convlab.errors import ConfigError
    from convlab.sweeps import storage as storage_module

    real, calls = optuna.storages.RDBStorage, []

    def restarting(url, **kwargs):
        calls.append(url)
        if len(calls) < 3:
            raise sqlalchemy.exc.OperationalError("connect", {}, ConnectionRefusedError("the database is restarting"))
        return real(url, **kwargs)

    monkeypatch.setattr(optuna.storages, "RDBStorage", restarting)
    monkeypatch.setattr(storage_module, "OPEN_RETRY_S", 0.01)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    with pytest.raises(ConfigError, match="cannot open it"):
        storage_module.open_storage(url)  # the pre-check: one line at once
    calls.clear()
    assert storage_module.open_storage(url, grace_s=5, wait_to_open=True) is not None and len(calls) == 3
