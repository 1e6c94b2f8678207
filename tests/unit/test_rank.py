"""A process's rank as every launcher sets it, SLURM's tasks included: one W&B run per job, not per task."""

from __future__ import annotations

from pathlib import Path

import pytest

from convlab.config.runtime import RANK_VARIABLES, process_rank
from convlab.run.launch import launched_by_distributed_launcher
from convlab.trackers.wandb_run import wandb_logger

# What srun gives the second of a job's two tasks (tasks_per_node=2), and nothing else tells its rank.
SLURM_TASK_1 = {"SLURM_JOB_ID": "42", "SLURM_PROCID": "1", "SLURM_LOCALID": "1", "SLURM_NTASKS": "2"}


@pytest.fixture(autouse=True)
def _no_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*RANK_VARIABLES, "WORLD_SIZE", "NODE_RANK", *SLURM_TASK_1):
        monkeypatch.delenv(name, raising=False)


def test_rank_comes_from_slurm_when_srun_started_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    assert process_rank() == 0 and not launched_by_distributed_launcher()
    for name, value in SLURM_TASK_1.items():
        monkeypatch.setenv(name, value)
    assert process_rank() == 1 and launched_by_distributed_launcher()
    monkeypatch.setenv("RANK", "0")  # torchrun's (or Lightning's) own variable wins where it is set
    assert process_rank() == 0


class Opened(Exception):
    """Raised instead of starting a W&B run."""


@pytest.mark.parametrize(("procid", "opens_a_run"), [("0", True), ("1", False)])
def test_only_slurm_task_0_opens_the_jobs_wandb_run(
    procid: str, opens_a_run: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import wandb

    def init(**kwargs: object) -> None:
        raise Opened

    monkeypatch.setattr(wandb, "init", init)
    for name, value in {**SLURM_TASK_1, "SLURM_PROCID": procid, "SLURM_LOCALID": procid}.items():
        monkeypatch.setenv(name, value)
    if opens_a_run:
        with pytest.raises(Opened):
            wandb_logger(project="p", save_dir=str(tmp_path), mode="offline")
    else:  # a logger that rank 0's run stands for: Lightning logs from rank 0 only
        logger = wandb_logger(project="p", save_dir=str(tmp_path), mode="offline")
        assert logger._experiment is None
