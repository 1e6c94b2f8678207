"""Bad SLURM sweeps stop before anything is submitted: a partition the cluster lacks, DDP with fewer SLURM tasks
than devices; a relative sweep dir under submitit is a warning. SLURM's commands are stand-ins on PATH here
(the real scheduler's answers are what tests/e2e/test_slurm.py sees)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import run_cli

from convlab.cli.precheck import precheck
from convlab.errors import ConvlabError

SWEEP = ["-m", "model=mlp,lenet", "hydra/launcher=slurm"]


@pytest.fixture
def cluster_with_cpu_and_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """`scontrol show partition X` succeeds for cpu and gpu only; `sinfo -h -o %R` lists them."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "scontrol": 'case "$3" in cpu|gpu) echo "PartitionName=$3";; *) echo "no $3" >&2; exit 1;; esac',
        "sinfo": "printf 'cpu\\ngpu\\ngpu\\n'",
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    monkeypatch.setenv("PATH", path)
    return {"PATH": path}


def _precheck(*argv: str) -> None:
    precheck(list(argv), "config", lambda cfg: None)


def test_a_partition_the_cluster_lacks_is_refused(cluster_with_cpu_and_gpu: dict[str, str]) -> None:
    _precheck(*SWEEP, "hydra.launcher.partition=gpu", "hydra.sweep.dir=/tmp/sweep")
    with pytest.raises(ConvlabError, match=r"hydra.launcher.partition=gpus: no such partition .*\(sinfo: cpu, gpu\)"):
        _precheck(*SWEEP, "hydra.launcher.partition=gpus")


def test_the_command_line_stops_with_one_line_and_submits_nothing(
    tmp_path: Path, cluster_with_cpu_and_gpu: dict[str, str]
) -> None:
    proc = run_cli("train.py", *SWEEP, "hydra.launcher.partition=gpus", cwd=tmp_path, env=cluster_with_cpu_and_gpu)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "convlab: error: hydra.launcher.partition=gpus: no such partition on this cluster (sinfo: cpu, gpu)"
    ]
    assert not (tmp_path / "outputs").exists()


def test_ddp_needs_one_slurm_task_per_device(cluster_with_cpu_and_gpu: dict[str, str]) -> None:
    with pytest.raises(ConvlabError, match=r"trainer.devices=2 needs hydra.launcher.tasks_per_node=2 \(it is 1\)"):
        _precheck(*SWEEP, "trainer=ddp")
    _precheck(*SWEEP, "trainer=ddp", "hydra.launcher.tasks_per_node=2", "hydra.sweep.dir=/tmp/sweep")


def test_a_relative_sweep_dir_under_submitit_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _precheck(*SWEEP, "hydra.sweep.dir=outputs/here")
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        f"convlab: warning: hydra.sweep.dir=outputs/here is relative: submitit's jobs write under {tmp_path}/, "
        "which every node running them must see (shared storage); give an absolute hydra.sweep.dir otherwise"
    )
    for quiet in (["hydra.sweep.dir=/tmp/sweep"], ["hydra/launcher=basic"]):  # absolute, or not submitit
        _precheck("-m", "model=mlp,lenet", *SWEEP[2:], *quiet)
        assert capsys.readouterr().err == ""
