"""Process-level setup, done by the entry points (never on import): OpenMP's wait policy before torch loads,
then per run seeds, threads and quiet libraries."""

from __future__ import annotations

import logging
import os
import warnings

from omegaconf import DictConfig, OmegaConf

from convlab.sweeps.threads import cpu_cores, parallel_jobs, threads_per_job

PASSIVE = "PASSIVE"


def openmp_wait_policy(cfg: DictConfig, multirun: bool) -> str | None:
    """PASSIVE when a job's threads will share cores with other busy threads, else None (OpenMP's default).

    GNU OpenMP's idle threads spin for a while before they sleep: the fastest choice on cores a run has to
    itself (PASSIVE costs a small model's training 25-40% here), and a collapse when several processes spin
    on the same cores. What a run can know of that: a parallel sweep (joblib running more than one job at a
    time) or more torch threads than cores. Two commands started by hand cannot see each other: see README.
    """
    n_jobs = OmegaConf.select(cfg, "hydra.launcher.n_jobs", default=None) if multirun else None
    if n_jobs is not None and parallel_jobs(int(n_jobs)) > 1:
        return PASSIVE
    threads = OmegaConf.select(cfg, "threads", default=None)
    if isinstance(threads, int) and threads > cpu_cores():
        return PASSIVE
    return None


def prepare_process(configs: list[DictConfig], multirun: bool) -> None:
    """Before torch is imported (OpenMP reads its settings once, when torch loads it): the wait policy the
    command's jobs need, inherited by joblib's worker processes too. A user's OMP_WAIT_POLICY always wins."""
    policies = {openmp_wait_policy(cfg, multirun) for cfg in configs}
    if PASSIVE in policies:
        os.environ.setdefault("OMP_WAIT_POLICY", PASSIVE)


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
