"""Build a run's objects from its config with hydra.utils.instantiate: data, task, callbacks, loggers, trainer."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from convlab.checkpoints.requeue_callbacks import requeue_environment
from convlab.config.instantiate import make
from convlab.config.model_node import model_node
from convlab.config.overrides import command_line_overrides, group_choices
from convlab.errors import ConfigError


def build_datamodule(cfg: DictConfig) -> pl.LightningDataModule:
    """The data module, with its data loaded and checked (errors here come before any training)."""
    datamodule = make(cfg.dataset, "dataset")
    datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule


def build_task(cfg: DictConfig, datamodule: pl.LightningDataModule) -> pl.LightningModule:
    """The task around the model. The model's node is built as convlab.config.model_node says: replaced when the
    command line set its ``_target_``, the data's ``in_channels`` / ``num_classes`` / ``image_size`` filled in."""
    shape = datamodule.shape() if hasattr(datamodule, "shape") else None
    node = model_node(cfg, shape)
    model = make(node, "model")
    if cfg.get("channels_last"):  # the data module hands over NHWC batches to match
        model = model.to(memory_format=torch.channels_last)
    num_classes = getattr(datamodule, "num_classes", None)
    outputs = node.get("num_classes")
    if num_classes and outputs is not None and outputs != num_classes:
        raise ConfigError(f"model.num_classes={outputs} but the dataset has {num_classes} classes")
    scheduler = cfg.get("scheduler")
    task = make(
        cfg.task,
        "task",
        model=model,
        loss=make(cfg.loss, "loss"),
        optimizer=make(cfg.optim, "optim"),
        scheduler=make(scheduler, "scheduler") if scheduler else None,
        **datamodule.task_inputs(),
    )
    # Set after construction: passed to instantiate, its _target_ nodes would be instantiated too.
    task.checkpoint_meta = {
        "config": OmegaConf.to_container(cfg, resolve=True),  # as composed: ckpt_path=last matches runs by it
        "model_node": OmegaConf.to_container(node),  # as built: eval and visualize rebuild exactly this model
        "choices": group_choices(cfg),
        "overrides": command_line_overrides(),
    }
    return task


def build_callbacks(cfg: DictConfig, console: bool = True, progress_bar: bool = True) -> list[pl.Callback]:
    """The configured callbacks; with ``console=False`` (a sweep's job) none that draws on the terminal, with
    ``progress_bar=False`` no progress bar."""
    from pytorch_lightning.callbacks import ModelSummary, ProgressBar

    nodes = cfg.get("callbacks") or {}
    callbacks = [make(node, f"callbacks.{name}") for name, node in nodes.items() if node and "_target_" in node]
    if not console:
        return [c for c in callbacks if not isinstance(c, (ProgressBar, ModelSummary))]
    return [c for c in callbacks if progress_bar or not isinstance(c, ProgressBar)]


def build_loggers(cfg: DictConfig) -> list[Any]:
    nodes = cfg.get("logger") or {}
    return [make(node, f"logger.{name}") for name, node in nodes.items() if node and "_target_" in node]


def build_trainer(cfg: DictConfig, **overrides: Any) -> pl.Trainer:
    """A Trainer from ``cfg.trainer`` (every key is a Trainer argument), callbacks and loggers."""
    kwargs: dict[str, Any] = dict(overrides)
    if "callbacks" not in kwargs:
        kwargs["callbacks"] = build_callbacks(cfg)
    if "logger" not in kwargs:
        kwargs["logger"] = build_loggers(cfg) or False
    if "plugins" not in kwargs and (slurm := requeue_environment()) is not None:  # see checkpoints/requeue.py
        configured = OmegaConf.select(cfg, "trainer.plugins", default=None)
        kwargs["plugins"] = [*(make(configured, "trainer.plugins") if configured else []), slurm]
    return make(cfg.trainer, "trainer", **kwargs)
