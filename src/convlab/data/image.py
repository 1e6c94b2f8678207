"""One real grayscale photo and its filtered copy: the data of the Sobel experiment (``dataset=image``).

The training set is a single image, used whole (full batch). One epoch is ``steps_per_epoch`` steps on that same
batch: experiment=sobel runs its 2000 steps as one epoch, so Lightning's per-epoch work (validation loop,
checkpoint callback, epoch logging) runs once, not 2000 times.
The target is made once, with the same cross-correlation ``nn.Conv2d`` computes; with ``convolution=true``
it is made by true convolution instead, and the kernel the network must learn is then the flipped one.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from convlab.data.kernels import convolve, cross_correlate, flip_kernel, kernel_from_spec, kernel_label
from convlab.data.photos import check_image_spec, load_grayscale
from convlab.errors import ConfigError, DataError


def _whole_batches(*batches: tuple[torch.Tensor, ...], repeat: int = 1) -> DataLoader:
    """A loader yielding each given (input, target) pair as one batch, as is, ``repeat`` times over."""
    return DataLoader(list(batches) * repeat, batch_size=None, shuffle=False)


class ImageFilterDataModule(pl.LightningDataModule):
    """(photo, photo filtered with ``kernel``) as N x 1 x H x W tensors; the test adds a held-out photo."""

    task_kind = "filter"

    def __init__(
        self,
        image: str = "camera",
        kernel: Any = "sobel_x",
        convolution: bool = False,
        held_out_image: str | None = "chelsea",
        kernel_size: int = 3,
        steps_per_epoch: int = 1,
    ) -> None:
        super().__init__()
        self.image_spec, self.held_out_spec = str(image), held_out_image
        self.kernel_spec = OmegaConf.to_container(kernel) if OmegaConf.is_config(kernel) else kernel
        self.kernel = kernel_from_spec(self.kernel_spec, size=kernel_size)
        self.convolution = bool(convolution)
        self.steps_per_epoch = _steps_per_epoch(steps_per_epoch)
        self.train_pair: tuple[torch.Tensor, torch.Tensor] | None = None
        self.held_out_pair: tuple[torch.Tensor, torch.Tensor] | None = None

    @classmethod
    def check_config(cls, cfg: DictConfig) -> None:
        """Checks that need no data, run before any run directory is made: the kernel and the image names."""
        size = OmegaConf.select(cfg, "model.kernel_size", default=3)
        kernel = OmegaConf.select(cfg, "dataset.kernel", default="sobel_x")
        kernel_from_spec(OmegaConf.to_container(kernel) if OmegaConf.is_config(kernel) else kernel, size=size)
        check_image_spec(OmegaConf.select(cfg, "dataset.image"))
        check_image_spec(OmegaConf.select(cfg, "dataset.held_out_image"), "dataset.held_out_image")
        _steps_per_epoch(OmegaConf.select(cfg, "dataset.steps_per_epoch", default=1))

    @property
    def learnable_kernel(self) -> torch.Tensor:
        """The weights that reproduce the target through a conv layer: the kernel, flipped for true convolution."""
        return flip_kernel(self.kernel) if self.convolution else self.kernel

    def make_pair(self, spec: str, key: str) -> tuple[torch.Tensor, torch.Tensor]:
        image = load_grayscale(spec, key)
        k = self.kernel.shape[-1]
        if min(image.shape) < k:
            raise DataError(f"{key}={spec}: the image is {tuple(image.shape)}, smaller than the {k}x{k} kernel")
        target = (convolve if self.convolution else cross_correlate)(image, self.kernel)
        return image.reshape(1, 1, *image.shape), target.reshape(1, 1, *target.shape)

    def setup(self, stage: str | None = None) -> None:
        if self.train_pair is not None:
            return
        self.train_pair = self.make_pair(self.image_spec, "dataset.image")
        if self.held_out_spec is not None:
            self.held_out_pair = self.make_pair(str(self.held_out_spec), "dataset.held_out_image")

    def train_dataloader(self) -> DataLoader:
        return _whole_batches(self._ready(self.train_pair), repeat=self.steps_per_epoch)

    def test_dataloader(self) -> DataLoader:
        """Batch 0: the training photo (the final fit); batch 1, if any: the held-out photo."""
        pairs = [self._ready(self.train_pair)]
        if self.held_out_pair is not None:
            pairs.append(self.held_out_pair)
        return _whole_batches(*pairs)

    def describe(self) -> dict[str, Any]:
        """Fields for results.json."""
        height, width = self.train_pair[0].shape[-2:]
        n = self.steps_per_epoch
        return {
            "image": self.image_spec,
            "image_shape": [int(height), int(width)],
            "steps_per_epoch": n,
            "epoch_definition": f"{n} full-batch step{'s' if n != 1 else ''} on the same image (the training set "
            "is one photo, used whole)",
        }

    def task_inputs(self) -> dict[str, Any]:
        """What the task needs: the kernel it should learn and an input for the model summary."""
        return {
            "target_kernel": self.learnable_kernel,
            "target_name": kernel_label(self.kernel_spec) + (" (convolution: flipped)" if self.convolution else ""),
            "held_out_image": self.held_out_spec,
            "example_input": self._ready(self.train_pair)[0],
        }

    @staticmethod
    def _ready(pair: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, torch.Tensor]:
        if pair is None:
            raise RuntimeError("call setup() before asking for a dataloader")
        return pair


def _steps_per_epoch(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"dataset.steps_per_epoch={value} is out of range: must be an integer >= 1 "
            "(experiment=sobel takes it from trainer.max_steps: set that to the number of steps)"
        )
    return value
