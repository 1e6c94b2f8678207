"""callbacks=feature_maps: at the end of training, picture every layer's output for one test image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from convlab.viz.feature_maps import log_pictures, model_pictures, save_pictures
from convlab.viz.trained_run import input_from_data


class FeatureMapsCallback(pl.Callback):
    """Saves PNGs into ``dirpath`` and logs the same images to the run's TensorBoard / W&B loggers."""

    def __init__(self, dirpath: str, index: int = 0) -> None:
        self.dirpath, self.index = Path(dirpath), index
        self.saved: list[Path] = []

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero or trainer.datamodule is None:
            return
        x, label = input_from_data(trainer.datamodule, self.index)
        model: Any = pl_module.model
        was_training = model.training
        pictures = model_pictures(model, x.to(pl_module.device), label)
        model.train(was_training)
        self.saved = save_pictures(pictures, self.dirpath, f"after {trainer.global_step} steps: {label}")
        log_pictures(trainer.loggers, pictures, step=trainer.global_step, prefix="feature_maps/")
