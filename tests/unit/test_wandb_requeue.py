"""A SLURM job requeued and continued in place logs to the W&B run it started, not a second one (offline
here: the runs are read from their files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from convlab.trackers.wandb_run import RUN_ID_NAME, wandb_logger

pytestmark = pytest.mark.slow  # three offline W&B runs: about 10 s each on 2 busy cores


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("WANDB_API_KEY", "WANDB_BASE_URL", "RANK", "LOCAL_RANK", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))


def _attempt(job_dir: Path) -> str:
    """One attempt of a job: its logger's run, finished as the job wrapper finishes it."""
    run = wandb_logger(project="convlab-test", save_dir=str(job_dir), group="sweep").experiment
    run_id = run.id
    run.finish()
    return run_id


def test_a_continued_job_resumes_its_wandb_run_and_a_new_job_gets_its_own(offline, tmp_path: Path) -> None:
    job = tmp_path / "0_seed=0"
    first = _attempt(job)
    assert (job / RUN_ID_NAME).read_text().strip() == first
    again = _attempt(job)  # the restarted attempt, same directory
    assert again == first
    offline_runs = sorted((job / "wandb").glob("offline-run-*"))
    ids = {p.name.split("-")[3] for p in offline_runs}  # offline-run-<time>-<id>, -1 added in the same second
    assert len(offline_runs) == 2 and ids == {first}
    assert all(list(p.glob(f"run-{first}.wandb")) for p in offline_runs)  # both attempts write to one run
    assert _attempt(tmp_path / "1_seed=1") != first  # another job: a run of its own
