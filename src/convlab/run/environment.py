"""Process-level setup, done by the entry points (never on import): OpenMP's wait policy before torch loads,
then per run seeds, threads and quiet libraries."""

from __future__ import annotations

import logging
import os
import warnings

from omegaconf import DictConfig

from convlab.sweeps.threads import threads_per_job


def prepare_process() -> None:
    """Before torch is imported: OpenMP reads its settings once, when torch loads it."""
    # OpenMP threads spin while waiting for work by default. On a shared or oversubscribed CPU (parallel
    # sweep jobs, a busy laptop) that collapses multi-threaded training 3-30x; passive waiting costs little
    # when the machine is quiet. A user's setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def setup_runtime(cfg: DictConfig) -> None:
    import pytorch_lightning as pl
    import torch

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
    # The data loaders index in-memory tensors (convlab.data.tensor_data); worker processes would only add overhead.
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")


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
            "`Trainer.fit` stopped",  # the summary says how many epochs ran
        )
    )
