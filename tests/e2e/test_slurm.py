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
from helpers import QUICK, ROOT, cli_env, run_cli

from convlab.report.compare import sweep_job_dirs
from convlab.run.record import read_results

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
        return f"no SLURM controller answers `scontrol ping` ({(ping.stdout + ping.stderr).strip()[:200]})"
    return None


def _out(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=30).stdout


def _sacct_states(array_id: str) -> dict[str, str]:
    """``{"<array>_<task>": state}`` of an array's tasks as accounting has them."""
    lines = _out("sacct", "-n", "-X", "-P", "-j", array_id, "-o", "JobID,State").splitlines()
    return dict(line.split("|", 1) for line in lines)


def _array_ids(sweep: Path) -> list[str]:
    """The SLURM array jobs submitit submitted for a sweep: its folders .submitit/<array id>/ (the sbatch script)."""
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


def test_skip_done_reruns_only_the_job_that_was_cancelled(tmp_path: Path, partition: str) -> None:
    args = ["-m", "seed=0,1,2", "hydra/launcher=slurm", f"hydra.launcher.partition={partition}", *SMALL_JOBS, *QUICK]
    # One task at a time; the first is cancelled while it trains. (A pending array task that is cancelled gets no
    # accounting record in SLURM 22.05, so submitit would wait on it for ever: see docs/slurm.md.)
    first = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *args, "hydra.launcher.array_parallelism=1"],
        cwd=tmp_path,
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    array = _wait_for_array(tmp_path, first)
    subprocess.run(["scancel", f"{array}_0"], check=True, timeout=30)
    output, _ = first.communicate(timeout=600)
    assert first.returncode != 0, output[-2000:]  # the sweep knows a job never ran
    _wait_until_done(array)  # the command stopped waiting at the failure; the array's other tasks go on
    (sweep,) = (tmp_path / "outputs" / "sweeps").iterdir()
    assert _sacct_states(array)[f"{array}_0"].startswith("CANCELLED")
    ok = [job for job in sweep_job_dirs(sweep) if (job / "results.json").exists()]
    done = {job.name: job for job in ok if read_results(job)["status"] == "ok"}
    assert sorted(read_results(job)["seed"] for job in done.values()) == [1, 2]
    written = {name: (job / "results.json").stat().st_mtime_ns for name, job in done.items()}

    again = run_cli("train.py", *args, "skip_done=true", f"hydra.sweep.dir={sweep}", cwd=tmp_path, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    records = [read_results(job) for job in sweep_job_dirs(sweep)]
    assert sorted(r["seed"] for r in records) == [0, 1, 2] and {r["status"] for r in records} == {"ok"}
    assert {name: (job / "results.json").stat().st_mtime_ns for name, job in done.items()} == written  # not rerun
    for name, job in done.items():  # each finished job's log says the second submission skipped it
        assert "skipped" in (job / "train.log").read_text(), name


def _wait_for_array(cwd: Path, proc: subprocess.Popen, limit_s: float = 120) -> str:
    """The array id of the sweep ``proc`` submits, once its first task is running."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0][-2000:]
        sweeps = list((cwd / "outputs" / "sweeps").glob("*/.submitit"))
        ids = _array_ids(sweeps[0].parent) if sweeps else []
        if ids and "RUNNING" in _out("squeue", "-h", "-j", f"{ids[0]}_0", "-o", "%T"):
            return ids[0]
        time.sleep(0.5)
    proc.kill()
    raise AssertionError("no task of the sweep was running within 2 minutes")


def _wait_until_done(array: str, limit_s: float = 300) -> None:
    deadline = time.monotonic() + limit_s
    while _out("squeue", "-h", "-r", "-j", array, "-o", "%i").split():
        assert time.monotonic() < deadline, f"array {array} still queued after {limit_s} s"
        time.sleep(1)
