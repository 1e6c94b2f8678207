"""Process setup before torch loads: OpenMP's wait policy for a single run, a parallel sweep, oversubscription."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from convlab.config import CONFIG_DIR
from convlab.run import environment
from convlab.sweeps import threads


def configs(*overrides: str) -> list:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return [compose("config", overrides=list(overrides), return_hydra_config=True)]


@pytest.fixture
def four_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "cpu_cores", lambda: 4)
    monkeypatch.setattr(environment, "cpu_cores", lambda: 4)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)


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
