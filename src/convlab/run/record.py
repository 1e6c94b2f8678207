"""A run's record as training and evaluation build it: what ran (before training), the model's and the test's
figures, and the ending both share (the data files, results.json, pictures, trackers). The refusal of a run
directory that holds another run. The format itself: convlab.runfiles.results."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

import convlab
from convlab.config.overrides import command_line_overrides, group_choices
from convlab.errors import RunDirInUseError
from convlab.report.chance import store_warnings
from convlab.runfiles import LAST_CHECKPOINT
from convlab.runfiles.results import RESULTS_NAME, RunRecord, write_results


def describe_run(cfg: DictConfig) -> RunRecord:
    """The results.json fields known before training: what ran, with which overrides and versions."""
    names = group_choices(cfg)
    return {
        "status": "failed",  # until proven otherwise: a crash never leaves a misleading "ok"
        "dataset": names.get("dataset"),
        "model": names.get("model"),
        "optim": names.get("optim"),
        "loss": names.get("loss"),
        "task": names.get("task"),
        "overrides": command_line_overrides(),
        "seed": int(cfg.seed),
        "run_dir": str(OmegaConf.select(cfg, "paths.output_dir")),
        "versions": library_versions(),
        "convlab_version": convlab.__version__,
        # The user's work, not convlab's: an installed convlab has no commit of its own (its version says which).
        "git_commit": git_commit(working_directory()),
    }


def check_unused_run_dir(out_dir: Path) -> None:
    """Refuse a directory that holds another run's results or checkpoints: never mix or overwrite runs."""
    for name in (RESULTS_NAME, LAST_CHECKPOINT.parent.name):
        if (out_dir / name).exists():
            raise RunDirInUseError(
                f"{out_dir} already holds another run's {name}; choose a new hydra.run.dir "
                f"(to continue that run: ckpt_path={out_dir / LAST_CHECKPOINT})"
            )


def library_versions() -> dict[str, str]:
    import hydra
    import pytorch_lightning
    import torch
    import torchmetrics
    import torchvision

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "lightning": pytorch_lightning.__version__,
        "torchmetrics": torchmetrics.__version__,
        "hydra": hydra.__version__,
    }


def working_directory() -> str:
    """The directory the command was started in (Hydra's runtime cwd; the process's own without Hydra)."""
    from hydra.core.hydra_config import HydraConfig

    return str(HydraConfig.get().runtime.cwd) if HydraConfig.initialized() else os.getcwd()


def git_commit(cwd: str | Path | None = None) -> str | None:
    """The commit of the source tree, with ``+dirty`` when it has local changes; None outside git."""
    try:

        def git(*args: str) -> str:
            return subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=True
            ).stdout.strip()

        commit = git("rev-parse", "HEAD")
        return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return None


def model_figures(task: Any, datamodule: Any) -> dict[str, Any]:
    """Trainable parameters, forward FLOPs per sample, the data's split sizes and class names."""
    import torch

    from convlab.models import count_parameters
    from convlab.models.flops import forward_flops

    example = task.example_input_array
    return {
        "params": count_parameters(task.model),
        "flops_per_sample": forward_flops(task.model, example) if isinstance(example, torch.Tensor) else None,
        **datamodule.describe(),
    }


def record_test(record: RunRecord, task: Any) -> None:
    """A finished test: status ok, the task's test figures and extra keys, and the warnings they call for."""
    record.update(status="ok", test=task.test_results, **task.extra_results())
    store_warnings(record)


def write_run(out_dir: Path, record: RunRecord, task: Any, loggers: Any = ()) -> None:
    """The data files results.json names (only files that exist), results.json, then what is drawn or sent from it."""
    from convlab.trackers.final import log_final_results

    record.update(task.write_data(out_dir))
    write_results(out_dir, record)
    task.write_outputs(out_dir, record)
    if loggers:
        log_final_results(loggers, record, out_dir)
