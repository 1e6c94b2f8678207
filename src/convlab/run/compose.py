"""Compose a run config in-process, as `python train.py` would, for tools and tests that call train()."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

import convlab.config.resolvers  # noqa: F401  (registers the resolvers the run directory names use)
from convlab.config import CONFIG_DIR


def compose_run(overrides: list[str], run_dir: str | Path, config_name: str = "config") -> DictConfig:
    """The composed config with ``run_dir`` as the run's output directory, HydraConfig set."""
    run_dir = Path(run_dir)
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name, overrides=list(overrides), return_hydra_config=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(run_dir)
        cfg.hydra.runtime.cwd = str(run_dir.parent)
        # Literal directories: resolving the whole config (checkpoint metadata does) must not claim new
        # run or sweep directories in the working directory.
        cfg.hydra.run.dir = str(run_dir)
        cfg.hydra.sweep.dir = str(run_dir.parent)
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    return cfg
