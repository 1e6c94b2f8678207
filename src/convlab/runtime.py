"""Process-level setup shared by train, eval and the benchmark: seeds, threads, quiet libraries."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from convlab.config_checks import command_line_overrides, group_choices
from convlab.results import git_commit, library_versions

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")


def setup_runtime(cfg: DictConfig) -> None:
    import pytorch_lightning as pl
    import torch

    from convlab.sweeps import threads_per_job

    threads = cfg.get("threads") or threads_per_job()  # parallel sweep jobs split the cores between them
    if threads:
        torch.set_num_threads(int(threads))
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    quiet_libraries()


def quiet_libraries() -> None:
    """Drop start-up chatter that says nothing about this run (device availability tips, promotions)."""
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning.pytorch.utilities.rank_zero"):
        logging.getLogger(name).addFilter(_drop_chatter)
    warnings.filterwarnings("ignore", message=r".*(LitLogger|litlogger|Tip:).*")
    # Lightning 2.6 on torch >= 2.10 trips torch's own deprecation of LeafSpec checks: not actionable here.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings("ignore", message=r".*the number of training batches.*smaller than the logging interval.*")
    # Under DDP the task logs sums it has already all-gathered; Lightning cannot know and suggests sync_dist.
    warnings.filterwarnings("ignore", message=r".*It is recommended to use `self.log\(.*sync_dist=True\)`.*")
    warnings.filterwarnings("ignore", message=r".*torch.distributed.nn.functional.all_gather is deprecated.*")
    # A resumed run writes into a new directory of its own by design, never into the interrupted run's.
    warnings.filterwarnings("ignore", message=r".*The dirpath has changed from .* won't be reloaded.*")


def _drop_chatter(record: logging.LogRecord) -> bool:
    msg = record.getMessage()
    return not any(
        s in msg
        for s in (
            "available:",
            "Tip:",
            "litlogger",
            "LitLogger",
            "`Trainer(limit_",
            "already configured with model summary",
        )
    )


def describe_run(cfg: DictConfig) -> dict[str, Any]:
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
        "git_commit": git_commit(Path(__file__).parent),
    }
