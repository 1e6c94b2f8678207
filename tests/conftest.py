"""Fixtures: compose configs the way `python train.py` does, each test with its own data directory.

Helpers that tests import (run_cli, QUICK, generated IDX/CSV files) live in helpers.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import NO_WANDB_ACCOUNT, QUICK, the_sweep, train_py
from omegaconf import DictConfig

from convlab.run.compose import compose_run


@pytest.fixture
def compose_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    def make(overrides: list[str] = (), name: str = "run", config_name: str = "config") -> DictConfig:
        return compose_run(list(overrides), tmp_path / name, config_name)

    return make


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path / "data"))


BAD_INTERVAL = "++trainer.val_check_interval"


@pytest.fixture(scope="session")
def raising_job_with_wandb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two jobs logging to W&B; the second raises inside Trainer.fit, after its W&B run started (Lightning
    refuses a validation interval longer than the epoch's 2 batches only once fitting begins)."""
    cwd = tmp_path_factory.mktemp("wandb")
    code, stdout = train_py("-m", f"{BAD_INTERVAL}=null,100000", "logger=wandb", *QUICK, cwd=cwd, env=NO_WANDB_ACCOUNT)
    assert code == 0, stdout[-3000:]
    return cwd, the_sweep(cwd)
