"""W&B without a server: the mode rules, the sweep file's commands, and an unreachable server."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import QUICK, ROOT
from PIL import Image

from convlab.cli.precheck import precheck
from convlab.cli.train import check_train_job as check_job
from convlab.errors import ConfigError, ConvlabError
from convlab.report.compare import sweep_job_dirs
from convlab.runfiles.predictions import read_predictions
from convlab.runfiles.results import read_results
from convlab.trackers.wandb_run import wandb_logger, wandb_mode

BAD_INTERVAL = "++trainer.val_check_interval"  # the raising_job_with_wandb fixture (conftest.py) sweeps it

SWEEP_FILE = ROOT / "scripts" / "wandb_sweep.yaml"


@pytest.fixture
def no_account(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No WANDB_* settings and an empty netrc file; returns the netrc path."""
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text("")
    monkeypatch.setenv("NETRC", str(netrc))
    return netrc


def test_mode_is_offline_without_an_api_key_and_online_with_one(no_account: Path, monkeypatch) -> None:
    assert wandb_mode(None) == "offline"
    no_account.write_text("machine api.wandb.ai\n  login user\n  password " + "k" * 40 + "\n")  # `wandb login`
    assert wandb_mode(None) == "online"
    no_account.write_text("")
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    assert wandb_mode(None) == "online"


def test_mode_precedence_env_then_config_then_key(no_account: Path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    assert wandb_mode("offline") == "offline"  # config beats the key
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert wandb_mode("online") == "disabled"  # the environment beats the config
    monkeypatch.setenv("WANDB_MODE", "dryrun")
    assert wandb_mode("online") == "offline"  # wandb's own alias
    monkeypatch.setenv("WANDB_MODE", "sometimes")
    with pytest.raises(ConfigError, match="WANDB_MODE='sometimes' is not valid"):
        wandb_mode(None)


def test_a_slurm_task_other_than_rank_0_leaves_the_wandb_run_to_rank_0(no_account, monkeypatch, tmp_path) -> None:
    """srun sets SLURM_PROCID, not RANK or LOCAL_RANK: rank 1 must not start a W&B run of its own."""
    import wandb

    for name in ("RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLURM_PROCID", "1")
    wandb_logger(project="convlab-test", save_dir=str(tmp_path / "wandb"), mode="offline")
    assert wandb.run is None and not (tmp_path / "wandb").exists()


def test_a_bad_mode_in_the_config_is_refused_before_anything_runs() -> None:
    with pytest.raises(ConvlabError, match=r"logger.wandb.mode='sometimes' is not valid"):
        precheck(["logger=[csv,wandb]", "logger.wandb.mode=sometimes"], "config", check_job)


def agent_commands(sweep: dict) -> list[list[str]]:
    """Every command W&B's agent runs for a grid sweep: all combinations of the parameters' values, with
    the command's macros filled in the way wandb's agent fills them (wandb.wandb_agent.Agent._command_run)."""
    from wandb.sdk.launch.sweeps.utils import create_sweep_command, create_sweep_command_args

    names = list(sweep["parameters"])
    choices = [spec["values"] if "values" in spec else [spec["value"]] for spec in sweep["parameters"].values()]
    commands = []
    for combo in itertools.product(*choices):
        sweep_vars = create_sweep_command_args({"args": {n: {"value": v} for n, v in zip(names, combo, strict=True)}})
        sweep_vars.update(interpreter=["python"], program=[sweep["program"]], env=["/usr/bin/env"])
        command = []
        for chunk in create_sweep_command(list(sweep["command"])):
            chunk = str(chunk)
            macro = chunk[2:-1] if chunk.startswith("${") and chunk.endswith("}") else None
            command += (sweep_vars.get(macro) or []) if macro else [chunk]
        commands.append(command)
    return commands


def test_wandb_sweep_file_drives_train_py_with_hydra_overrides_for_every_combination() -> None:
    sweep = yaml.safe_load(SWEEP_FILE.read_text())
    assert sweep["method"] == "grid" and sweep["metric"] == {"name": "test/acc", "goal": "maximize"}
    assert "${args_no_hyphens}" in sweep["command"]
    commands = agent_commands(sweep)
    assert len(commands) == 3 * 2 * 2
    combos = set()
    for command in commands:
        assert command[:3] == ["/usr/bin/env", "python", "train.py"] and (ROOT / command[2]).is_file()
        overrides = command[3:]
        assert all(not o.startswith("-") for o in overrides)  # Hydra overrides, no argparse flags
        # what `python train.py <overrides>` checks before it runs: composition and every value
        precheck([*overrides, *QUICK], "config", check_job)
        choices = dict(o.split("=", 1) for o in overrides if o.split("=")[0] in ("model", "optim", "loss"))
        combos.add((choices["model"], choices["optim"], choices["loss"]))
        assert "logger=[csv,wandb]" in overrides
    assert combos == set(itertools.product(["mlp", "lenet", "cnn8"], ["sgd", "rmsprop"], ["ce", "mse"]))


@pytest.mark.slow
def test_unreachable_server_falls_back_to_offline_without_hanging(compose_cfg, no_account, monkeypatch, caplog) -> None:
    import time

    from convlab.cli.job import run_job
    from convlab.run.train import train

    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)  # looks configured: the mode is online ...
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # ... but nothing listens there
    cfg = compose_cfg([*QUICK, "logger=wandb", "logger.wandb.init_timeout=15"])
    start = time.monotonic()
    record = run_job(train, cfg)
    assert time.monotonic() - start < 120
    assert "W&B online failed" in caplog.text and "logging offline instead" in caplog.text
    run_dir = Path(cfg.paths.output_dir)
    assert record["status"] == "ok" and read_results(run_dir)["status"] == "ok"
    (offline_run,) = (run_dir / "wandb").glob("offline-run-*")  # logged offline instead: `wandb sync` later
    assert list(offline_run.glob("run-*.wandb"))
    import wandb

    assert wandb.run is None  # finished


def test_many_preset_combines_csv_tensorboard_and_wandb(compose_cfg) -> None:
    cfg = compose_cfg(["logger=many"])
    assert set(cfg.logger) == {"csv", "tensorboard", "wandb"}
    assert cfg.logger.wandb._target_ == "convlab.trackers.wandb_run.wandb_logger"


def inspect_wandb_run(run_dir: Path) -> tuple[dict, dict]:
    """Read an offline run back with W&B's own reader: (its summary view, its first 'run' record)."""
    wandb_cli = [sys.executable, "-m", "wandb", "leet", "inspect"]
    summary = subprocess.run([*wandb_cli, "--summary", "--json", str(run_dir)], capture_output=True, text=True)
    records = subprocess.run([*wandb_cli, "--json", str(run_dir)], capture_output=True, text=True)
    assert summary.returncode == 0 and records.returncode == 0, summary.stderr + records.stderr
    run_records = [json.loads(line) for line in records.stdout.splitlines() if '"type":"run"' in line]
    return json.loads(summary.stdout), run_records[0]["run"]


def wandb_table(offline_run: Path, key: str) -> dict:
    (path,) = (offline_run / "files" / "media" / "table").rglob(f"{key.split('/')[-1]}*.table.json")
    return json.loads(path.read_text())


def wandb_table_artifact(offline_run: Path, key: str) -> tuple[dict, dict[str, str]]:
    """A table logged with media, as W&B stores it (an artifact, staged locally by an offline run): its json and
    its files' local paths by their path in the artifact. The run's own copy names each image only "Image"."""
    wandb_cli = [sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(offline_run)]
    records = subprocess.run(wandb_cli, capture_output=True, text=True, check=True).stdout.splitlines()
    for line in records:
        record = json.loads(line)
        if record.get("type") != "artifact":
            continue
        files = {c["path"]: c["local_path"] for c in record["artifact"]["manifest"]["contents"]}
        if f"{key}.table.json" in files:
            return json.loads(Path(files[f"{key}.table.json"]).read_text()), files
    raise AssertionError(f"no artifact holds {key}")


def test_wandb_offline_runs_one_per_job_with_config_and_summary(raising_job_with_wandb) -> None:
    _, sweep = raising_job_with_wandb
    seen_ids = set()
    for job in sweep_job_dirs(sweep):
        record = read_results(job)
        (offline_run,) = (job / "wandb").glob("offline-run-*")  # one run per job, in the job's own directory
        view, run = inspect_wandb_run(offline_run)
        seen_ids.add(view["run_id"])
        assert run["run_group"] == sweep.name and run["job_type"] == "lenet-rmsprop"
        interval = next(o for o in record["overrides"] if o.startswith(BAD_INTERVAL))
        assert interval in view["name"].split(",")  # the run is named by the job's overrides
        config = view["config"]  # the resolved Hydra config
        assert config["model"]["_target_"] == "convlab.models.LeNet" and config["trainer"]["max_epochs"] == 1
        assert config["trainer"]["val_check_interval"] == (None if interval.endswith("=null") else 100000)
        summary = view["summary"]
        # Closed with an exit code, even when the job raised (an open run would read "running")
        assert view["state"] == ("finished" if record["status"] == "ok" else "failed")
        assert summary["status"] == record["status"]
        if record["status"] == "ok":
            assert view["exit_code"] == 0
            assert summary["test/acc"] == record["test"]["acc"] and summary["params"] == record["params"]
            assert summary["test/f1_macro"] == record["test"]["f1_macro"]
            matrix = wandb_table(offline_run, "confusion_matrix_table")
            counts = {(a, p): n for a, p, n in matrix["data"]}
            names = record["class_names"]
            for i, row in enumerate(record["test"]["confusion_matrix"]):
                for j, n in enumerate(row):
                    assert counts.get((names[i], names[j]), 0) == n
            per_class = wandb_table(offline_run, "test/per_class")
            assert per_class["columns"] == ["class", "precision", "recall", "f1", "support"]
            assert [r[3] for r in per_class["data"]] == record["test"]["per_class"]["f1"]
            low, high = record["test"]["acc_ci95"]
            assert (summary["test/acc_ci95_low"], summary["test/acc_ci95_high"]) == (low, high)
            assert summary["flops_per_sample"] == record["flops_per_sample"] == 1_504_224
            # The mistakes, most confident first, from predictions.npz; its images travel in the table's artifact.
            mistakes, files = wandb_table_artifact(offline_run, "test/mistakes")
            assert mistakes["columns"] == ["image", "index", "true", "predicted", "probability"]
            found = read_predictions(job / record["predictions"])
            assert [r[1] for r in mistakes["data"]] == found.mistake_index[:32].tolist() and mistakes["data"]
            assert all(r[2] != r[3] for r in mistakes["data"])
            with Image.open(files[mistakes["data"][0][0]["path"]]) as first:
                assert np.array_equal(np.asarray(first), found.mistake_images[0][0])  # 1 x H x W, drawn as H x W
        else:
            assert view["exit_code"] == 1 and summary["error"] == record["error"] and "test/acc" not in summary
    assert len(seen_ids) == 2  # two separate runs, never merged
