"""Process-level setup, done by the entry points (never on import): OpenMP's wait policy before torch loads,
then per run seeds, threads and quiet libraries."""

from __future__ import annotations

import logging
import os
import time
import warnings

from omegaconf import DictConfig, OmegaConf

from convlab.run import collector
from convlab.run.launch import runs_jobs_in_process
from convlab.sweeps.threads import cpu_cores, parallel_jobs, threads_per_job

PASSIVE = "PASSIVE"


# A sample this short costs a quiet run nothing noticeable and still sees another process's spinning threads.
BUSY_SAMPLE_SECONDS = 0.05
# Cores that other processes keep busy above this count (a browser, an editor) mean a run's threads will wait.
BUSY_MARGIN = 0.5
BUSY_CORES_VARIABLE = "CONVLAB_BUSY_CORES"
# The words of the busy-machine log line that name it (tests drop that host-dependent line by them).
BUSY_NOTE_MARK = "cores busy as this command started"


def openmp_wait_policy(cfg: DictConfig, multirun: bool, busy: float = 0.0) -> str | None:
    """PASSIVE when a job's threads will share cores with other busy threads, else None (OpenMP's default).

    GNU OpenMP's idle threads spin for a while before they sleep: the fastest choice on cores a run has to
    itself (PASSIVE costs a small model's training 25-40% here), and a collapse when several processes spin
    on the same cores. What a run can know of that: a parallel sweep (joblib running more than one job at a
    time), more torch threads than cores, or more threads than the cores other processes leave free
    (``busy``: cores in use by the rest of the machine just before the run, see ``busy_cores``).
    """
    n_jobs = OmegaConf.select(cfg, "hydra.launcher.n_jobs", default=None) if multirun else None
    if n_jobs is not None and parallel_jobs(int(n_jobs)) > 1:
        return PASSIVE
    threads = OmegaConf.select(cfg, "threads", default=None)
    threads = threads if isinstance(threads, int) and threads > 0 else cpu_cores()
    if threads > 1 and threads > cpu_cores() - busy + BUSY_MARGIN:  # one thread has no sibling to spin for
        return PASSIVE
    return None


def busy_cores(seconds: float = BUSY_SAMPLE_SECONDS) -> float:
    """How many cores the machine's other processes keep busy, from /proc/stat over ``seconds`` (this process
    sleeps meanwhile); 0.0 where there is no /proc/stat. Counted over the whole machine, so in a container
    with a CPU quota the figure can overstate what this process competes with: then PASSIVE is the safe side."""
    first = _cpu_times()
    if first is None:
        return 0.0
    time.sleep(seconds)
    second = _cpu_times()
    if second is None:
        return 0.0
    total, idle = second[0] - first[0], second[1] - first[1]
    return 0.0 if total <= 0 else (os.cpu_count() or 1) * (total - idle) / total


def _cpu_times() -> tuple[int, int] | None:
    """(all jiffies, idle + iowait jiffies) of the "cpu" line of /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 5:
        return None
    return sum(fields[:8]), fields[3] + fields[4]  # user nice system idle iowait irq softirq steal


def prepare_process(configs: list[DictConfig], multirun: bool) -> None:
    """Before torch is imported (OpenMP reads its settings once, when torch loads it): the wait policy the
    command's jobs need, inherited by joblib's worker processes too. A user's OMP_WAIT_POLICY always wins
    (and then the machine is not sampled). Where this process runs the jobs itself, the garbage collector
    pauses until their libraries have loaded (run.collector; setup_runtime turns it back on)."""
    if not multirun or all(runs_jobs_in_process(cfg) for cfg in configs):
        collector.pause()
    if "OMP_WAIT_POLICY" in os.environ:
        return
    busy = busy_cores()
    os.environ[BUSY_CORES_VARIABLE] = f"{busy:.2f}"  # for results.json (and joblib's workers), beside the policy
    policies = {openmp_wait_policy(cfg, multirun, busy) for cfg in configs}
    if PASSIVE in policies:
        os.environ["OMP_WAIT_POLICY"] = PASSIVE


def busy_machine_note() -> str | None:
    """A line for the run's log when other processes kept cores busy as the command started, else None."""
    busy = busy_cores_at_start()
    if busy is None or busy <= BUSY_MARGIN:
        return None
    policy = " (OpenMP threads wait passively: OMP_WAIT_POLICY=PASSIVE)" if os.environ.get("OMP_WAIT_POLICY") else ""
    return f"other processes kept {busy:.1f} of {os.cpu_count()} {BUSY_NOTE_MARK}{policy}"


def busy_cores_at_start() -> float | None:
    """What prepare_process measured for this command (None: not measured, e.g. OMP_WAIT_POLICY set by hand)."""
    value = os.environ.get(BUSY_CORES_VARIABLE)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def setup_runtime(cfg: DictConfig) -> None:
    import pytorch_lightning as pl
    import torch

    threads = cfg.get("threads") or threads_per_job()  # parallel sweep jobs split the cores between them
    if threads:
        torch.set_num_threads(int(threads))
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    # trainer.deterministic=true turns on torch.use_deterministic_algorithms, which by default also fills every
    # new tensor's memory with NaN before the op writes it: a debugging aid for ops that read memory they never
    # wrote, no part of the results' determinism, and a second pass over every activation and gradient.
    torch.utils.deterministic.fill_uninitialized_memory = False
    drop_futile_nvml_check()
    quiet_libraries()
    collector.freeze_loaded()  # torch and Lightning are loaded; the run's own objects come next


NVML_CHECK_VARIABLE = "PYTORCH_NVML_BASED_CUDA_CHECK"


def drop_futile_nvml_check() -> bool:
    """Unset PYTORCH_NVML_BASED_CUDA_CHECK where NVML's library cannot be loaded; True if it was dropped.

    Importing Lightning sets it, so that ``torch.cuda.is_available()`` asks NVML rather than initialising CUDA
    (which would poison a later fork). Every torch optimizer step calls ``is_available()`` (a check for CUDA graph
    capture), and on a CUDA build of torch without the NVIDIA driver, pip's default torch on a CPU machine, each
    call then searches the library path for libnvidia-ml, fails, and asks the CUDA runtime anyway: the same
    answer, 0.1-0.4 ms later, every step. Where the library loads (a GPU machine), the variable stays.
    """
    if os.environ.get(NVML_CHECK_VARIABLE) != "1" or nvml_loadable():
        return False
    del os.environ[NVML_CHECK_VARIABLE]
    return True


def nvml_loadable() -> bool:
    import ctypes

    try:
        ctypes.CDLL("libnvidia-ml.so.1")  # the name torch.cuda loads
    except OSError:
        return False
    return True


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
    # On a machine with SLURM installed (a login node) a run outside a job is not a mistake: convlab submits to SLURM
    # through hydra/launcher=submitit_slurm (docs/slurm.md), never by prefixing srun.
    warnings.filterwarnings("ignore", message=r".*The `srun` command is available on your system but is not used.*")


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
