"""Sweeps through a real SLURM scheduler (`scripts/ci/slurm.sh start`: one node, one partition, accounting).

Skipped, with the reason, where no controller answers `scontrol ping`; under CI (``CI`` set) that fails the
run instead: .ci/run starts the scheduler, so a missing one is a broken CI, not a machine without SLURM.
Jobs are tiny (digits, two batches) and one CPU each, so the node's cores run them side by side.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import FASHION_DIR, NO_WANDB_ACCOUNT, QUICK, ROOT, cli_env, run_cli, start_train

from convlab.report.compare import sweep_job_dirs
from convlab.runfiles.history import read_history
from convlab.runfiles.results import read_results

pytestmark = pytest.mark.slow
# One CPU and little memory per job, whatever the cluster preset asks: the CI node has two cores.
SMALL_JOBS = ["hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1", "hydra.launcher.timeout_min=10"]


@pytest.fixture(scope="module")
def partition() -> str:
    """The partition to submit to (CONVLAB_SLURM_PARTITION, else the cluster's default one)."""
    reason = _no_scheduler()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(f"{reason}; CI must start it with scripts/ci/slurm.sh start")
        pytest.skip(f"{reason} (start one with: sudo scripts/ci/slurm.sh start)")
    name = os.environ.get("CONVLAB_SLURM_PARTITION")
    if name:
        return name
    listed = _out("sinfo", "-h", "-o", "%P").split()
    return next((p.rstrip("*") for p in listed if p.endswith("*")), listed[0])


def _no_scheduler() -> str | None:
    if shutil.which("scontrol") is None:
        return "no SLURM here (scontrol not found)"
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    if ping.returncode != 0 or "UP" not in ping.stdout:
        said = (ping.stdout + ping.stderr).strip().splitlines() or ["no output"]
        return f"no SLURM controller answers `scontrol ping` ({said[0][:200]})"
    return None


def _out(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=30).stdout


def _sacct_states(array_id: str) -> dict[str, str]:
    """``{"<array>_<task>": state}`` of an array's tasks as accounting has them."""
    lines = _out("sacct", "-n", "-X", "-P", "-j", array_id, "-o", "JobID,State").splitlines()
    return dict(line.split("|", 1) for line in lines)


def _array_ids(sweep: Path) -> list[str]:
    """The SLURM jobs submitit submitted for a sweep (arrays by their id): its folders .submitit/<id>/."""
    return sorted(p.name for p in (sweep / ".submitit").iterdir() if p.name.isdigit())


def test_a_sweep_runs_as_a_slurm_array_one_job_per_configuration(tmp_path: Path, partition: str) -> None:
    proc = run_cli(
        "train.py",
        "-m",
        "model=mlp,lenet",
        "hydra/launcher=slurm",
        f"hydra.launcher.partition={partition}",
        *SMALL_JOBS,
        *QUICK,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = (tmp_path / "outputs" / "sweeps").iterdir()
    records = [read_results(job) for job in sweep_job_dirs(sweep)]
    assert sorted(r["model"] for r in records) == ["lenet", "mlp"] and {r["status"] for r in records} == {"ok"}
    assert {r["threads"] for r in records} == {1}  # cpus_per_task
    (array,) = _array_ids(sweep)  # one sbatch: the two jobs are the tasks of one array
    assert _sacct_states(array) == {f"{array}_0": "COMPLETED", f"{array}_1": "COMPLETED"}
    for task in (0, 1):  # where the docs say: <sweep dir>/.submitit/<array>_<task>/
        log = sweep / ".submitit" / f"{array}_{task}" / f"{array}_{task}_0_log.out"
        assert log.is_file() and "ok" in log.read_text(), log
    report = (sweep / "report.html").read_text()
    assert all(Path(r["run_dir"]).name in report or r["model"] in report for r in records)
    assert (sweep / "comparison.csv").read_text().count("\n") == 3  # header + both jobs


# Jobs long enough to be cancelled mid-training: 6 epochs of 10 digits batches (about a second each on one CPU).
CANCELLABLE = ["trainer.max_epochs=6", "++trainer.limit_train_batches=10", *(o for o in QUICK if "epochs" not in o)]
CANCELLABLE = [o for o in CANCELLABLE if "limit_train_batches=2" not in o]


def test_skip_done_reruns_only_the_jobs_that_were_cancelled(tmp_path: Path, partition: str) -> None:
    args = ["-m", "seed=0,1,2", "hydra/launcher=slurm", f"hydra.launcher.partition={partition}", *SMALL_JOBS]
    args += CANCELLABLE
    # One task at a time. Task 0 is cancelled while it trains (its history shows an epoch done, most still to
    # go), task 1 as soon as it runs (in Python's, submitit's or Hydra's start-up, or convlab's): neither ends
    # ok. (A pending array task that is cancelled gets no accounting record in SLURM 22.05, so submitit would
    # wait on it for ever: see docs/slurm.md.)
    first = start_train(tmp_path, *args, "hydra.launcher.array_parallelism=1", merge_output=True)
    array = _wait_for_task(tmp_path, first, 0)
    (sweep,) = (tmp_path / "outputs" / "sweeps").iterdir()
    epochs_done = _wait_for_training(sweep, "0_", first)
    subprocess.run(["scancel", f"{array}_0"], check=True, timeout=30)
    assert epochs_done < 4, f"task 0 had trained {epochs_done} of 6 epochs when it was cancelled"
    _wait_for_task(tmp_path, first, 1)
    subprocess.run(["scancel", f"{array}_1"], check=True, timeout=30)  # during start-up
    output, _ = first.communicate(timeout=600)
    assert first.returncode != 0, output[-2000:]  # the sweep knows two jobs did not finish
    _wait_until_done(array)  # the command may stop waiting at the failure; the array's other tasks go on
    states = _sacct_states(array)
    assert states[f"{array}_0"].startswith("CANCELLED") and states[f"{array}_1"].startswith("CANCELLED")
    jobs = {job.name.split("_", 1)[0]: job for job in sweep_job_dirs(sweep)}
    cancelled = read_results(jobs["0"])  # SIGTERM while training: stopped at the batch's end, recorded
    assert cancelled["status"] == "interrupted" and cancelled["error"].startswith("SIGTERM at step"), cancelled
    if "1" in jobs and (jobs["1"] / "results.json").exists():  # a cancelled job never ends ok: it recorded
        early = read_results(jobs["1"])  # itself interrupted, or, killed before convlab ran, the sweep recorded it
        assert (early["status"], early.get("recorded_by")) in (("interrupted", None), ("failed", "sweep")), early
    done = {name: job for name, job in jobs.items() if name == "2" and read_results(job)["status"] == "ok"}
    assert sorted(read_results(job)["seed"] for job in done.values()) == [2]
    written = {name: (job / "results.json").stat().st_mtime_ns for name, job in done.items()}

    again = run_cli("train.py", *args, "skip_done=true", f"hydra.sweep.dir={sweep}", cwd=tmp_path, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    records = [read_results(job) for job in sweep_job_dirs(sweep)]
    assert sorted(r["seed"] for r in records) == [0, 1, 2] and {r["status"] for r in records} == {"ok"}
    assert {name: (job / "results.json").stat().st_mtime_ns for name, job in done.items()} == written  # not rerun
    for name, job in done.items():  # the finished job's log says the second submission skipped it
        assert "skipped" in (job / "train.log").read_text(), name


def _wait_for_task(cwd: Path, proc: subprocess.Popen, task: int, limit_s: float = 120, state: str = "RUNNING") -> str:
    """The array id of the sweep ``proc`` submits, once squeue shows its task ``task`` in ``state``."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0][-2000:]
        sweeps = list((cwd / "outputs" / "sweeps").glob("*/.submitit"))
        ids = _array_ids(sweeps[0].parent) if sweeps else []
        if ids and state in _out("squeue", "-h", "-j", f"{ids[0]}_{task}", "-o", "%T"):
            return ids[0]
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"task {task} of the sweep was not {state.lower()} within {limit_s} s")


def _wait_for_training(sweep: Path, prefix: str, proc: subprocess.Popen, limit_s: float = 180) -> int:
    """Once the job whose directory starts with ``prefix`` has a first epoch in its history.csv: the epochs done."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0][-2000:]
        for history in sweep.glob(f"{prefix}*/history.csv"):
            rows = history.read_text().strip().splitlines()[1:]  # the header, then one row per epoch
            if rows:
                return len(rows)
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"no epoch of job {prefix}* within {limit_s} s")


def _wait_until_done(array: str, limit_s: float = 300) -> None:
    deadline = time.monotonic() + limit_s
    while _out("squeue", "-h", "-r", "-j", array, "-o", "%i").split():
        assert time.monotonic() < deadline, f"array {array} still queued after {limit_s} s"
        time.sleep(1)


# A LeNet run on real data long enough to be requeued in its second epoch: 3 epochs of 150 batches.
PREEMPTED = [
    "dataset=fashion_mnist",
    "model=lenet",
    "trainer.max_epochs=3",
    "++trainer.limit_train_batches=150",
    "++trainer.limit_val_batches=4",
    "~callbacks.progress_bar",
    "++trainer.enable_progress_bar=false",
    "seed=0",
]


def _requeued_job(tmp_path: Path, partition: str, stop: list[str], *extra: str) -> tuple[Path, dict, dict]:
    """One PREEMPTED job through SLURM, stopped in its second epoch by ``stop`` (a command, given the job id),
    and the same run without SLURM: (the job's directory, its record, the uninterrupted record)."""
    if not FASHION_DIR.is_dir():
        pytest.skip(f"{FASHION_DIR} missing: apt-get install dataset-fashion-mnist")
    command = [sys.executable, str(ROOT / "train.py")]
    # The same run without SLURM, one thread as the job has (cpus_per_task=1): the numbers to end with.
    reference = subprocess.Popen(
        [*command, *PREEMPTED, "threads=1", f"hydra.run.dir={tmp_path / 'reference'}"],
        cwd=tmp_path,
        env=cli_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    sweep = tmp_path / "sweep"
    launcher = ["hydra/launcher=slurm", f"hydra.launcher.partition={partition}", *SMALL_JOBS]
    job = subprocess.Popen(
        [*command, "-m", *PREEMPTED, *launcher, f"hydra.sweep.dir={sweep}", *extra],
        cwd=tmp_path,
        env={**cli_env(tmp_path), "WANDB_MODE": "offline", "NETRC": "/nonexistent/netrc"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    job_dir = _wait_for_first_epoch(sweep, job)
    (job_id,) = _array_ids(sweep)  # submitit submits a one-job sweep as a plain job, not an array
    subprocess.run([*stop, job_id], check=True, timeout=30)
    output, _ = job.communicate(timeout=600)
    assert job.returncode == 0, output[-3000:]
    _, errors = reference.communicate(timeout=600)
    assert reference.returncode == 0, errors[-3000:]
    assert [p.name for p in sweep_job_dirs(sweep)] == [job_dir.name]  # one job, one directory: continued in place
    return job_dir, read_results(job_dir), read_results(tmp_path / "reference")


def _ends_as_the_uninterrupted_run(job_dir: Path, record: dict, uninterrupted: dict, reference: Path) -> None:
    assert record["status"] == "ok" and record["requeue_count"] == 1
    (requeue,) = record["requeues"]
    assert requeue["restart"] == 1 and 150 < requeue["at_step"] < 300 and requeue["at_step"] % 150  # mid-epoch 2
    assert record["resumed_from"] == str(job_dir / "checkpoints" / "hpc_ckpt_1.ckpt")
    assert record["steps"] == uninterrupted["steps"] == 450
    assert record["test"]["acc"] == uninterrupted["test"]["acc"]
    assert record["test"]["loss"] == uninterrupted["test"]["loss"]  # bit for bit: the same batches, in order
    assert record["test"]["confusion_matrix"] == uninterrupted["test"]["confusion_matrix"]
    epochs = [{k: v for k, v in row.items() if k != "seconds"} for row in read_history(job_dir)]
    assert [row["step"] for row in epochs] == [150, 300, 450]  # one history, the epochs before the requeue kept
    assert epochs == [{k: v for k, v in r.items() if k != "seconds"} for r in read_history(reference)]
    assert f"resuming epoch 1 at batch {requeue['at_step'] - 150}" in (job_dir / "train.log").read_text()
    assert not list(job_dir.glob("hpc_ckpt_*"))  # Lightning's own copy, which its test would have restored


def test_a_job_requeued_mid_epoch_continues_in_place_to_the_uninterrupted_result(
    tmp_path: Path, partition: str
) -> None:
    # What a preemption does: SIGTERM to the job, then SLURM starts it again.
    job_dir, record, uninterrupted = _requeued_job(tmp_path, partition, ["scontrol", "requeue"])
    _ends_as_the_uninterrupted_run(job_dir, record, uninterrupted, tmp_path / "reference")


def test_a_job_at_its_time_limit_requeues_itself_and_ends_as_the_uninterrupted_run(
    tmp_path: Path, partition: str
) -> None:
    # The time limit's signal, as SLURM sends it to the job's steps signal_delay_s before the limit (--signal=USR2).
    job_dir, record, uninterrupted = _requeued_job(tmp_path, partition, ["scancel", "--signal=USR2"], "logger=wandb")
    _ends_as_the_uninterrupted_run(job_dir, record, uninterrupted, tmp_path / "reference")
    assert "time limit signal" in (job_dir / "train.log").read_text()
    (run_id,) = {p.name.rsplit("-", 1)[1] for p in (job_dir / "wandb").glob("offline-run-*")}  # one W&B run...
    assert len(list((job_dir / "wandb").glob("offline-run-*"))) == 2  # ...that both attempts wrote to
    assert (job_dir / "wandb_run_id").read_text().strip() == run_id


def _wait_for_first_epoch(sweep: Path, proc: subprocess.Popen, limit_s: float = 300) -> Path:
    """The job's directory, once its first epoch's checkpoint is written."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0][-2000:]
        found = list(sweep.glob("0_*/checkpoints/last.ckpt"))
        if found:
            return found[0].parent.parent
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"no first epoch within {limit_s} s")


def test_a_ddp_job_of_two_slurm_tasks_writes_one_result_and_one_wandb_run(tmp_path: Path, partition: str) -> None:
    proc = run_cli(
        "train.py",
        "-m",
        "model=lenet",
        "trainer=ddp",  # 2 CPU processes, each a task srun starts (tasks_per_node=2)
        "hydra/launcher=slurm",
        f"hydra.launcher.partition={partition}",
        "hydra.launcher.tasks_per_node=2",
        *SMALL_JOBS,
        "logger=wandb",
        *QUICK,
        cwd=tmp_path,
        timeout=600,
        env={**NO_WANDB_ACCOUNT, "WANDB_MODE": "offline"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = (tmp_path / "outputs" / "sweeps").iterdir()
    (job,) = sweep_job_dirs(sweep)
    record = read_results(job)
    assert record["status"] == "ok" and record["world_size"] == 2
    (log,) = (sweep / ".submitit").glob("*/*_0_log.out")  # task 0's log; task 1 has its own
    assert len(list(log.parent.glob("*_log.out"))) == 2  # two SLURM tasks ran the job
    (offline_run,) = (job / "wandb").glob("offline-run-*")  # one W&B run for the job, from rank 0 only
    assert list(offline_run.glob("run-*.wandb"))
