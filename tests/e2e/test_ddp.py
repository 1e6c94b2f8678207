"""Data-parallel training on a real distributed engine: Lightning's DDP with 2 CPU processes (gloo).

The data is sharded (each rank takes half of every epoch), metrics are synced (test accuracy equals a
single-process evaluation of the same weights), rank 0 alone writes results.json, and all ranks share one
run directory, whether Lightning starts the workers or torchrun does.
"""

from __future__ import annotations

import math
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import QUICK, ROOT, cli_env, run_cli
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from convlab.cli.precheck import precheck
from convlab.cli.train import check_train_job as check_train_config
from convlab.config import CONFIG_DIR, checks
from convlab.errors import ConfigError
from convlab.run.compose import compose_run
from convlab.run.evaluate import evaluate
from convlab.run.launch import check_launch
from convlab.runfiles.predictions import read_predictions
from convlab.runfiles.results import read_results

RUN = [
    "trainer=ddp",
    "model=mlp",
    "trainer.max_epochs=2",
    "threads=1",
    *(o for o in QUICK if "limit_" not in o and "max_epochs" not in o),
]
TRAIN_SAMPLES, BATCH, TEST_SAMPLES = 1293, 64, 360  # the digits split


def only_run_dir(cwd: Path) -> Path:
    (run_dir,) = (cwd / "outputs" / "runs").iterdir()  # one directory for all ranks
    return run_dir


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("ddp")
    proc = run_cli("train.py", *RUN, cwd=cwd, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return only_run_dir(cwd)


@pytest.mark.slow
def test_two_processes_shard_the_data_and_share_one_run_directory(ddp_run: Path) -> None:
    results = read_results(ddp_run)
    assert results["status"] == "ok" and results["world_size"] == 2
    # Sharded: each rank steps through half an epoch (padded to equal length), so half the optimizer steps.
    assert results["steps"] == 2 * math.ceil(math.ceil(TRAIN_SAMPLES / 2) / BATCH) == 22
    # Evaluation shards are not padded and the counts are summed over ranks: every test sample once.
    assert results["test"]["samples"] == TEST_SAMPLES
    assert sum(map(sum, results["test"]["confusion_matrix"])) == TEST_SAMPLES
    # Both ranks log into the run directory; only rank 0 writes results.json.
    rank0_log, rank1_log = (ddp_run / "train.log").read_text(), (ddp_run / "train_ddp_process_1.log").read_text()
    assert rank0_log.count("wrote ") == 1 and "rank 0 wrote" in rank0_log and "wrote" not in rank1_log


@pytest.mark.slow
def test_synced_test_metrics_equal_a_single_process_evaluation(ddp_run: Path, tmp_path: Path) -> None:
    trained = read_results(ddp_run)["test"]
    single = evaluate(compose_run([f"ckpt_path={ddp_run / 'checkpoints' / 'last.ckpt'}"], tmp_path, "eval"))
    assert single["test"]["samples"] == trained["samples"]
    # Counts and everything computed from them are exact; the loss is a float sum in another order.
    for key in ("acc", "f1_macro", "per_class", "confusion_matrix"):
        assert single["test"][key] == trained[key], key
    assert single["test"]["loss"] == pytest.approx(trained["loss"], rel=1e-6)
    # Each rank's shard of predictions, gathered to rank 0 and joined in order: the single process's, sample by sample.
    sharded, whole = read_predictions(ddp_run), read_predictions(tmp_path)
    assert len(sharded) == TEST_SAMPLES and sharded.fingerprint == whole.fingerprint == trained["fingerprint"]
    assert np.array_equal(sharded.label, whole.label) and np.array_equal(sharded.pred, whole.pred)
    assert np.allclose(sharded.prob, whole.prob, rtol=1e-5)


@pytest.mark.slow
def test_torchrun_processes_share_the_run_directory_they_are_given(ddp_run: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command += [str(ROOT / "train.py"), *RUN, "hydra.run.dir=outputs/runs/shared"]
    proc = subprocess.run(command, cwd=tmp_path, env=cli_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert only_run_dir(tmp_path).name == "shared"
    results = read_results(tmp_path / "outputs" / "runs" / "shared")
    assert results["world_size"] == 2 and results["test"] == read_results(ddp_run)["test"]  # same seed, same run
    assert (tmp_path / "outputs" / "runs" / "shared" / "train.log").read_text().count("wrote ") == 1


@pytest.mark.slow
def test_a_diverging_ddp_run_stops_every_rank(tmp_path: Path) -> None:
    proc = run_cli("train.py", *RUN, "optim=sgd", "optim.lr=1e30", cwd=tmp_path, timeout=300)  # a hang times out
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = read_results(only_run_dir(tmp_path))
    assert results["status"] == "diverged" and "test" not in results and results["world_size"] == 2


def compose_unresolved(overrides: list[str]):
    """The config as the command line's pre-check sees it: hydra.run.dir still the unique-directory recipe."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=True)


def test_processes_of_an_external_launcher_must_be_given_one_run_dir(monkeypatch) -> None:
    cfg = compose_unresolved(["trainer=ddp"])
    check_launch(cfg, multirun=False)  # a plain run claims its own unique directory
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun sets it in every process it starts
    with pytest.raises(ConfigError, match=r"give every process the same run directory with hydra.run.dir="):
        check_launch(cfg, multirun=False)
    check_launch(compose_unresolved(["trainer=ddp", "hydra.run.dir=outputs/runs/shared"]), multirun=False)


def readme_commands(section: str) -> list[list[str]]:
    """The command lines in the README section's bash blocks, as argv lists."""
    text = (ROOT / "README.md").read_text().split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [shlex.split(line, comments=True) for block in blocks for line in block.splitlines() if line.strip()]


def test_the_readme_distributed_commands_pass_the_precheck(monkeypatch) -> None:
    commands = readme_commands("Multi-GPU and multi-node")
    assert len(commands) >= 5 and any("submitit_slurm" in " ".join(c) for c in commands)
    # The README's partition (gpu) is a cluster's, not this machine's, which may run a test scheduler.
    monkeypatch.setattr(checks, "_check_partition", lambda partition: None)
    for argv in commands:
        if argv[0] == "torchrun":
            monkeypatch.setenv("WORLD_SIZE", "8")  # what torchrun sets in each process it starts
        precheck(argv[argv.index("train.py") + 1 :], "config", check_train_config)
        monkeypatch.delenv("WORLD_SIZE", raising=False)
