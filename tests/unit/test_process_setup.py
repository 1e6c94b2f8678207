"""Process setup before torch loads: OpenMP's wait policy for a single run, a parallel sweep, oversubscription."""

from __future__ import annotations

import gc

import pytest
from hydra import compose, initialize_config_dir

from convlab.config import CONFIG_DIR
from convlab.run import collector, environment
from convlab.sweeps import threads


def configs(*overrides: str) -> list:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return [compose("config", overrides=list(overrides), return_hydra_config=True)]


@pytest.fixture
def four_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "cpu_cores", lambda: 4)
    monkeypatch.setattr(environment, "cpu_cores", lambda: 4)
    monkeypatch.setattr(environment, "busy_cores", lambda: 0.0)  # a quiet machine, whatever this one is doing
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv(environment.BUSY_CORES_VARIABLE, raising=False)


@pytest.mark.parametrize(
    ("overrides", "multirun", "policy"),
    [
        ((), False, None),  # a single run has its cores to itself: OpenMP's default (spin, then sleep)
        (("threads=4",), False, None),
        (("threads=8",), False, "PASSIVE"),  # more threads than cores: spinning threads would starve each other
        (("hydra/launcher=joblib",), True, "PASSIVE"),  # joblib's default n_jobs=-1: one job per core at once
        (("hydra/launcher=joblib", "hydra.launcher.n_jobs=2"), True, "PASSIVE"),
        (("hydra/launcher=joblib", "hydra.launcher.n_jobs=1"), True, None),  # one at a time
        (("hydra/launcher=joblib", "hydra.launcher.n_jobs=-4"), True, None),  # -4 of 4 cores: one at a time
        ((), True, None),  # the basic launcher runs one job at a time
    ],
)
def test_wait_policy_per_situation(four_cores, overrides: tuple, multirun: bool, policy: str | None) -> None:
    (cfg,) = configs(*overrides)
    assert environment.openmp_wait_policy(cfg, multirun) == policy


def test_prepare_process_sets_passive_for_a_parallel_sweep_and_leaves_a_single_run_alone(four_cores, monkeypatch):
    environment.prepare_process(configs(), multirun=False)
    assert "OMP_WAIT_POLICY" not in environment.os.environ
    environment.prepare_process(configs("hydra/launcher=joblib"), multirun=True)
    assert environment.os.environ["OMP_WAIT_POLICY"] == "PASSIVE"  # joblib's workers inherit it


def test_a_users_own_setting_wins(four_cores, monkeypatch) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    environment.prepare_process(configs("hydra/launcher=joblib"), multirun=True)
    assert environment.os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


@pytest.mark.parametrize(
    ("busy", "threads", "policy"),
    [
        (0.0, None, None),  # quiet: spin
        (0.4, None, None),  # a background process's fraction of a core: still spin
        (0.6, None, "PASSIVE"),  # another process holds more than half a core: 4 threads would wait on it
        (2.0, 2, None),  # 2 threads fit the 2 cores left free
        (2.7, 2, "PASSIVE"),
        (3.9, 1, None),  # one thread never waits on a sibling
    ],
)
def test_wait_policy_on_a_busy_machine(four_cores, busy: float, threads: int | None, policy: str | None) -> None:
    (cfg,) = configs(*([f"threads={threads}"] if threads else []))
    assert environment.openmp_wait_policy(cfg, multirun=False, busy=busy) == policy


def test_a_second_command_beside_a_busy_one_waits_passively_and_says_why(four_cores, monkeypatch, capsys) -> None:
    monkeypatch.setattr(environment, "busy_cores", lambda: 2.0)  # e.g. another training run's spinning threads
    environment.prepare_process(configs(), multirun=False)
    assert environment.os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert environment.busy_cores_at_start() == 2.0  # recorded in results.json as busy_cores_at_start
    assert "kept 2.0 of" in environment.busy_machine_note() and "PASSIVE" in environment.busy_machine_note()
    assert capsys.readouterr().err == ""  # the pre-check's output stays one line for bad input


def test_busy_cores_reads_the_machines_cpu_time(monkeypatch) -> None:
    samples = iter([(1000, 800), (1100, 850)])  # 100 jiffies passed, 50 of them idle: half the machine busy
    monkeypatch.setattr(environment, "_cpu_times", lambda: next(samples))
    monkeypatch.setattr(environment.os, "cpu_count", lambda: 2)
    assert environment.busy_cores(seconds=0) == pytest.approx(1.0)
    monkeypatch.setattr(environment, "_cpu_times", lambda: None)  # no /proc/stat (macOS, Windows)
    assert environment.busy_cores(seconds=0) == 0.0
    monkeypatch.undo()
    assert 0.0 <= environment.busy_cores(seconds=0.01) <= (environment.os.cpu_count() or 1)  # this machine's own


@pytest.mark.parametrize(("value", "loadable", "left"), [("1", False, None), ("1", True, "1"), (None, False, None)])
def test_the_nvml_check_is_dropped_only_where_nvml_cannot_load(monkeypatch, value, loadable, left) -> None:
    if value is None:
        monkeypatch.delenv(environment.NVML_CHECK_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(environment.NVML_CHECK_VARIABLE, value)
    monkeypatch.setattr(environment, "nvml_loadable", lambda: loadable)
    assert environment.drop_futile_nvml_check() is (value is not None and not loadable)
    assert environment.os.environ.get(environment.NVML_CHECK_VARIABLE) == left


def test_cuda_availability_is_the_same_without_the_futile_nvml_check(monkeypatch) -> None:
    """What a run on this machine does: the answer torch gives is unchanged, only the library search is gone."""
    import pytorch_lightning  # noqa: F401  (sets the variable on import)
    import torch

    monkeypatch.setenv(environment.NVML_CHECK_VARIABLE, "1")
    before = torch.cuda.is_available()
    dropped = environment.drop_futile_nvml_check()
    assert dropped is not environment.nvml_loadable()
    assert torch.cuda.is_available() == before


@pytest.fixture
def fresh_collector(monkeypatch: pytest.MonkeyPatch):
    """The collector as a new process has it; this test process's own state is put back afterwards."""
    was_enabled, was_frozen = gc.isenabled(), gc.get_freeze_count() > 0
    monkeypatch.setattr(collector, "_paused", False)
    monkeypatch.setattr(collector, "_frozen", False)
    gc.enable()
    yield
    if not was_frozen:
        gc.unfreeze()
    (gc.enable if was_enabled else gc.disable)()


@pytest.mark.parametrize(
    ("overrides", "multirun", "paused"),
    [
        ((), False, True),  # a single run: the imports come next, in this process
        ((), True, True),  # the basic launcher runs the jobs here, one after another
        (("hparams_search=optuna",), True, True),  # convlab's Optuna sweeper, through the basic launcher
        (("hydra/launcher=joblib",), True, False),  # the jobs run in worker processes; this one only waits
    ],
)
def test_the_collector_pauses_where_this_process_runs_the_jobs(
    four_cores, fresh_collector, overrides: tuple, multirun: bool, paused: bool
) -> None:
    environment.prepare_process(configs(*overrides), multirun=multirun)
    assert gc.isenabled() is not paused


def test_the_collector_is_on_again_once_the_libraries_are_loaded_and_freezes_once(fresh_collector) -> None:
    collector.pause()
    assert not gc.isenabled()
    collector.freeze_loaded()
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    assert frozen > 10_000  # this process's modules, classes and functions
    later = [[i] for i in range(1000)]  # a later run's objects: a second call must not freeze them
    collector.freeze_loaded()
    assert gc.get_freeze_count() == frozen, f"{len(later)} later objects were frozen"


def test_freezing_does_not_turn_on_a_collector_someone_else_turned_off(fresh_collector) -> None:
    gc.disable()  # e.g. a notebook or a profiler
    collector.pause()
    collector.freeze_loaded()
    assert not gc.isenabled()
