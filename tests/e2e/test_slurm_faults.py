"""Faults of issue 28 through the real scheduler: a SLURM array task cancelled while pending (submitit alone waits
for it for ever: SLURM 22.05 keeps no accounting record of it; convlab's launcher records it as never run, and the
sweep ends), and an Optuna trial pruned while it runs as a DDP job of two SLURM tasks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import QUICK, run_cli, start_train
from test_slurm import SMALL_JOBS, _out, _wait_for_task, partition  # noqa: F401  (partition: the fixture)

from convlab.report.compare import sweep_job_dirs
from convlab.runfiles.results import read_results

pytestmark = pytest.mark.slow


def test_a_pending_array_task_that_is_cancelled_is_reported_as_not_run_and_the_sweep_ends(
    tmp_path: Path,
    partition: str,  # noqa: F811
) -> None:
    args = ["-m", "seed=0,1", "hydra/launcher=slurm", f"hydra.launcher.partition={partition}", *SMALL_JOBS, *QUICK]
    proc = start_train(tmp_path, *args, "hydra.launcher.array_parallelism=1", merge_output=True)  # task 1 waits
    array = _wait_for_task(tmp_path, proc, 1, state="PENDING")
    subprocess.run(["scancel", f"{array}_1"], check=True, timeout=30)
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 1, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    (sweep,) = (tmp_path / "outputs" / "sweeps").iterdir()
    records = sorted((read_results(job) for job in sweep_job_dirs(sweep)), key=lambda r: r.get("seed", -1))
    assert [(r["seed"], r["status"]) for r in records] == [(0, "ok"), (1, "failed")], records
    assert records[1]["recorded_by"] == "sweep", records[1]
    assert "never ran" in records[1]["error"] or "CANCELLED" in records[1]["error"], records[1]
    assert "not finished       1_" in output and "skip_done=true" in output


def test_an_optuna_trial_run_as_a_ddp_job_of_two_slurm_tasks_is_pruned_on_every_rank(
    tmp_path: Path,
    partition: str,  # noqa: F811
) -> None:
    """The issue's command, `hparams_search=optuna pruner=... trainer=ddp`, one SLURM task per rank: the pruner
    (threshold above any accuracy: pruned at its first report) stops both ranks after epoch 1 of 4, the job ends,
    one results.json says pruned, and the study has the trial PRUNED with one report. Before the decision was
    broadcast, rank 1 trained on alone and the job hung until its time limit."""
    import optuna

    quick = [o for o in QUICK if not o.startswith("trainer.max_epochs")]
    proc = run_cli(
        "train.py",
        "-m",
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=1",
        "pruner=threshold",
        "pruner.lower=1.1",
        "model=lenet",
        "trainer=ddp",
        "trainer.max_epochs=4",
        "hydra/launcher=slurm",
        f"hydra.launcher.partition={partition}",
        "hydra.launcher.tasks_per_node=2",
        *SMALL_JOBS,
        *quick,
        cwd=tmp_path,
        timeout=600,  # a rank left training alone hangs until here
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = (tmp_path / "outputs" / "sweeps").iterdir()
    (job,) = sweep_job_dirs(sweep)
    record = read_results(job)
    assert record["status"] == "pruned" and record["pruned_after_epochs"] == 1 and record["world_size"] == 2
    assert len(list(sweep.joinpath(".submitit").glob("*/*_log.out"))) == 2  # two SLURM tasks ran the job
    journal = optuna.storages.journal.JournalFileBackend(str(sweep / "optuna.journal"))
    (trial,) = optuna.load_study(study_name="convlab", storage=optuna.storages.JournalStorage(journal)).trials
    assert trial.state == optuna.trial.TrialState.PRUNED and list(trial.intermediate_values) == [0]
