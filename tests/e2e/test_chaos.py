"""The chaos test (issue 28): scripts/ci/chaos.py run as CI runs it, once per flavour.

joblib: a journal study, two workers, two jobs and one worker SIGKILLed. slurm: a PostgreSQL study through the
CI's scheduler with every fault of the issue (job SIGKILL, scancel, scontrol requeue, the time-limit signal, a
worker SIGKILL, a database restart). Each passes only when the script's own verdict is PASSED: every fault
injected and survived, no trial lost, no record disagreeing with the study, no process hung. The SLURM one fails,
not skips, under CI=1 when the scheduler or the database is missing, like tests/e2e/test_slurm.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

pytestmark = pytest.mark.slow
CHAOS = ROOT / "scripts" / "ci" / "chaos.py"
TABLE = ("faults injected", "faults survived", "trials lost", "records that disagree with the study", "hung processes")


def run_chaos(tmp_path: Path, *args: str, timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(CHAOS), *args, "--workdir", str(tmp_path / "chaos")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_until_every_fault_lands(tmp_path: Path, *args: str, timeout: int, faults: int) -> subprocess.CompletedProcess:
    """The chaos run; once more with the next seed (other targets) when, and only when, a fault found no target
    under way (on a quiet machine trials can end before a late fault lands: the run's premise failed, not convlab)
    while nothing was lost, disagreed or hung. Any other failure is the verdict."""
    proc = run_chaos(tmp_path, *args, timeout=timeout)
    rows = table(proc.stdout)
    premise_only = rows.get("faults injected") != f"{faults} of {faults}" and all(
        rows.get(name) == "0" for name in ("trials lost", "records that disagree with the study", "hung processes")
    )
    if proc.returncode != 0 and premise_only:
        print(proc.stdout)  # the first run's table, for the log
        (tmp_path / "seed1").mkdir()
        proc = run_chaos(tmp_path / "seed1", *args, "--seed", "1", timeout=timeout)
    return proc


def table(stdout: str) -> dict[str, str]:
    """The script's closing table: name -> value."""
    rows = {}
    for line in stdout.splitlines():
        for name in TABLE:
            if line.startswith(name + " "):
                rows[name] = line[len(name) :].strip()
    return rows


def assert_passed(proc: subprocess.CompletedProcess, faults: int) -> None:
    out = proc.stdout + proc.stderr[-3000:]
    assert proc.returncode == 0, out
    rows = table(proc.stdout)
    assert rows == {
        "faults injected": f"{faults} of {faults}",
        "faults survived": f"{faults} of {faults}",
        "trials lost": "0",
        "records that disagree with the study": "0",
        "hung processes": "0",
    }, out
    assert "chaos: PASSED" in proc.stdout, out


def test_a_joblib_study_survives_killed_jobs_and_a_killed_worker(tmp_path: Path) -> None:
    proc = run_until_every_fault_lands(tmp_path, "--launcher", "joblib", timeout=600, faults=3)
    assert_passed(proc, faults=3)


def _missing_servers() -> str | None:
    if shutil.which("scontrol") is None:
        return "no SLURM here (scontrol not found)"
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    if ping.returncode != 0 or "UP" not in ping.stdout:
        return "no SLURM controller answers `scontrol ping` (sudo scripts/ci/slurm.sh start)"
    url = os.environ.get("CONVLAB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/optuna")
    try:
        import sqlalchemy

        engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 3})
        engine.connect().close()
        engine.dispose()
    except Exception as e:
        return f"no PostgreSQL server at {url} (scripts/ci/postgres.sh start): {str(e).splitlines()[0]}"
    return None


def test_a_slurm_study_on_postgresql_survives_every_fault_of_the_issue(tmp_path: Path) -> None:
    reason = _missing_servers()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(f"{reason}; CI must start SLURM and PostgreSQL (.ci/run)")
        pytest.skip(reason)
    proc = run_until_every_fault_lands(tmp_path, "--launcher", "slurm", timeout=900, faults=6)
    assert_passed(proc, faults=6)
