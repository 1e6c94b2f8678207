"""What the process was started as: one job of a Hydra multirun or a single run, and its rank in a distributed
launch. Read where the answer is needed (the record, the trackers, the threads of a sweep's job)."""

from __future__ import annotations

import os

# Lightning's order for finding a process's global rank before the trainer exists.
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


def process_rank() -> int:
    """This process's global rank as its launcher set it in the environment (0 for a plain run)."""
    for name in RANK_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


def in_multirun() -> bool:
    """Whether this job is one of a Hydra multirun (``-m``): its output is one line, the sweep's report the rest.
    False for a single run and for a config composed without Hydra's runtime (tests, the benchmark)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
