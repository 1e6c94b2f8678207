"""Where and how a run is launched: its output directory, and the processes of a distributed run.

Every run writes into a directory of its own. Under Lightning's own DDP launcher the worker processes are
given rank 0's directory (``hydra.run.dir=...`` on their command line); processes started by an external
launcher (torchrun, srun) each compose their own config, so they must be told one shared directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from convlab.errors import ConfigError

# The launchers that start one process per device themselves, so Lightning's DDP does not re-run the command.
PROCESS_PER_DEVICE_LAUNCHERS = ("SlurmLauncher",)
# Hydra's launcher that runs a multirun's jobs in the calling process, one after another.
BASIC_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"


def launched_by_distributed_launcher() -> bool:
    """Whether torchrun, srun, a multi-node command line (NODE_RANK) or Lightning's DDP started this process."""
    sizes = [os.environ.get(name, "") for name in ("WORLD_SIZE", "SLURM_NTASKS")]
    return max([int(s) for s in sizes if s.isdigit()] or [1]) > 1 or "NODE_RANK" in os.environ


def runs_jobs_in_process(cfg: DictConfig) -> bool:
    """Whether a multirun's launcher runs its jobs in this process, one after another (Hydra's basic launcher)."""
    return OmegaConf.select(cfg, "hydra.launcher._target_", default=None) == BASIC_LAUNCHER


def check_launch(cfg: DictConfig, multirun: bool) -> None:
    """Output directories can be created, and a distributed run ends up in one of them."""
    log_dir = OmegaConf.select(cfg, "paths.log_dir", default=None, throw_on_resolution_failure=False)
    _check_writable("paths.log_dir", log_dir)
    for key in ("hydra.sweep.dir",) if multirun else ("hydra.run.dir",):
        raw = _raw(cfg, key)
        if raw and "${" not in raw:
            _check_writable(key, raw)
    distributed = _config_world_size(cfg) > 1 and launched_by_distributed_launcher()
    if distributed and not multirun and "convlab_unique" in (_raw(cfg, "hydra.run.dir") or ""):
        raise ConfigError(
            "this is one process of a distributed launch (torchrun, srun or NODE_RANK): give every process the same "
            "run directory with hydra.run.dir=outputs/runs/<name>"
        )
    if multirun and _config_world_size(cfg) > 1:
        launcher = str(OmegaConf.select(cfg, "hydra.launcher._target_", default="") or "")
        if not launcher.endswith(PROCESS_PER_DEVICE_LAUNCHERS):
            raise ConfigError(
                f"trainer.strategy={OmegaConf.select(cfg, 'trainer.strategy')} with {_config_world_size(cfg)} "
                f"processes cannot run inside a sweep on {launcher.rsplit('.', 1)[-1] or 'this launcher'} (each DDP "
                "worker would re-run the whole sweep); use hydra/launcher=submitit_slurm, or run the jobs one by one"
            )


def _config_world_size(cfg: DictConfig) -> int:
    strategy = OmegaConf.select(cfg, "trainer.strategy", default=None)
    if strategy is None or "ddp" not in str(strategy):
        return 1
    devices = OmegaConf.select(cfg, "trainer.devices", default=1)
    nodes = OmegaConf.select(cfg, "trainer.num_nodes", default=1) or 1
    if isinstance(devices, int) and devices > 0:
        per_node = devices
    elif OmegaConf.is_list(devices) or isinstance(devices, list):
        per_node = len(devices)
    else:  # "auto", -1: as many as the machine has; assume more than one
        per_node = 2
    return per_node * int(nodes)


def _raw(cfg: DictConfig, key: str) -> str | None:
    """A config value as written, interpolations unresolved: resolving a run dir would claim (create) it,
    and so would ``in`` or attribute access on its node."""
    node = OmegaConf.to_container(cfg, resolve=False)
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return None if node is None else str(node)


def _check_writable(key: str, path: str | None) -> None:
    if not path:
        return
    target = Path(str(path))
    existing = next((p for p in (target, *target.parents) if p.exists()), None)
    if existing is None:
        return
    if not existing.is_dir():
        raise ConfigError(f"{key}={path}: cannot create it, {existing} is a file; choose a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{key}={path}: {existing} is not writable; choose a directory you can write to")
