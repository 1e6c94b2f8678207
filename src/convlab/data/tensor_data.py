"""Tensor-resident data: every split lives in memory as uint8 tensors; a batch is an index slice.

Decoding happens once. Batches are normalised on the device after transfer, so the host never holds
more than one float batch and the training path has no per-sample Python or PIL work.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from convlab.data.augment import BatchAugment, batch_augment
from convlab.data.shape import DataShape
from convlab.errors import DataError


@dataclass
class Split:
    """Images (uint8, N x C x H x W; C is 1 for grayscale, 3 for RGB) and integer labels (N)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor) -> Split:
        return Split(self.images[index], self.labels[index])


class TensorPairs(Dataset):
    """``dataset[index]`` returns the whole batch for an index tensor or slice."""

    def __init__(self, split: Split) -> None:
        self.images, self.labels = split.images, split.labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(index, slice):  # evaluation: a view, no copy
            return self.images[index], self.labels[index]
        # index_select gathers ~8x faster than fancy indexing (x[index]) for a batch of rows
        return self.images.index_select(0, index), self.labels.index_select(0, index)


class AugmentedPairs(TensorPairs):
    """Training batches with their augmentation draw: ``dataset[(index, epoch, batch)]`` returns (images, labels,
    draw), the draw (convlab.data.augment) a function of (seed, epoch, batch number, rank) only."""

    def __init__(self, split: Split, augment: BatchAugment, seed: int) -> None:
        super().__init__(split)
        self.augment, self.seed = augment, seed

    def __getitem__(self, key: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        index, epoch, batch = key
        images, labels = super().__getitem__(index)
        draw = self.augment.draw(len(labels), self.seed, epoch, batch, rank=_dist_rank_world()[0])
        return images, labels, draw


def _as_batch(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return batch


def _dist_rank_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class BatchIndexSampler(Sampler):
    """Yields one index per batch: a shuffled index tensor for training, a slice for evaluation.

    The shuffle order depends only on (seed, epoch), so a run resumed from a checkpoint sees the same
    batches as an uninterrupted one. Under DDP each rank takes its own shard: training shards are padded
    to equal length (ranks must step together); evaluation shards are not, so every sample counts once.
    """

    def __init__(
        self, num_samples: int, batch_size: int, shuffle: bool, seed: int = 0, positions: bool = False
    ) -> None:
        self.num_samples, self.batch_size, self.shuffle, self.seed = num_samples, batch_size, shuffle, seed
        self.positions = positions  # training with augmentation: yield (index, epoch, batch number)
        self.epoch = 0
        self._skip = 0

    def skip_batches(self, count: int) -> None:
        """The next iteration starts at batch ``count`` of its epoch: a run resumed mid-epoch (a SLURM requeue)
        trains on exactly the batches the interrupted one had not reached (convlab.checkpoints.requeue)."""
        self._skip = count

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _shard(self) -> tuple[int, int]:
        rank, world = _dist_rank_world()
        if self.shuffle:
            per_rank = math.ceil(self.num_samples / world)
            return rank * per_rank, per_rank
        bounds = [self.num_samples * r // world for r in range(world + 1)]
        return bounds[rank], bounds[rank + 1] - bounds[rank]

    def __len__(self) -> int:
        return math.ceil(self._shard()[1] / self.batch_size)

    def __iter__(self) -> Iterator[torch.Tensor | slice]:
        start, count = self._shard()
        bs = self.batch_size
        skip, self._skip = self._skip * bs, 0
        if not self.shuffle:
            for i in range(start, start + count, bs):
                yield slice(i, min(i + bs, start + count))
            return
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.num_samples, generator=g)
        _, world = _dist_rank_world()
        if world > 1:  # pad by wrapping around so every rank has the same number of steps
            order = torch.cat([order, order[: count * world - self.num_samples]])
            order = order[start : start + count]
        for i in range(skip, count, bs):
            yield (order[i : i + bs], self.epoch, i // bs) if self.positions else order[i : i + bs]


def stratified_split(
    labels: torch.Tensor, fraction: float, seed: int, key: str = "fraction"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split indices into (rest, part) with ``fraction`` of every class in ``part``; sorted, seeded.

    scikit-learn's ``StratifiedShuffleSplit``: ``part`` holds ceil(fraction * n) samples, shared out over the
    classes in proportion to their sizes.
    """
    from sklearn.model_selection import StratifiedShuffleSplit  # imported here: sklearn is slow to import

    splitter = StratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    y = labels.numpy()
    rest, part = _split_or_explain(lambda: next(splitter.split(np.zeros(len(y)), y)), f"{key}={fraction:g}", len(y))
    return torch.from_numpy(np.sort(rest)), torch.from_numpy(np.sort(part))


def stratified_folds(labels: torch.Tensor, folds: int, seed: int) -> list[torch.Tensor]:
    """Indices of ``folds`` disjoint folds, each class spread evenly over them (scikit-learn's shuffled
    ``StratifiedKFold``); sorted, seeded."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    y = labels.numpy()
    splits = _split_or_explain(lambda: list(splitter.split(np.zeros(len(y)), y)), f"dataset.folds={folds}", len(y))
    return [torch.from_numpy(np.sort(held_out)) for _, held_out in splits]


def _split_or_explain(split: Callable[[], Any], setting: str, samples: int) -> Any:
    """Run a scikit-learn split; its ValueError (a class too small, a part smaller than the class count)
    becomes a one-line DataError naming the setting and the data's size."""
    try:
        return split()
    except ValueError as e:
        raise DataError(f"{setting}: cannot split {samples:,} samples stratified by class: {e}") from None


class TensorDataModule(pl.LightningDataModule):
    """Base for the classification datasets. Subclasses implement ``load``.

    ``load`` returns the pool the model may learn from, the test split (kept apart: never shuffled
    into training or validation) and the class names; images uint8 N x C x H x W (N x H x W is taken as one
    channel). ``mean``/``std`` are one number for every channel or one per channel; ``load`` may set them (a
    dataset whose default is its training split's own statistics). Validation is carved from the pool here, either
    as a stratified ``val_fraction`` or, with ``folds=k``, as fold ``fold`` of a stratified k-fold split.
    """

    task_kind = "classification"

    def __init__(
        self,
        batch_size: int = 64,
        eval_batch_size: int = 512,
        mean: float | Sequence[float] = 0.5,
        std: float | Sequence[float] = 0.5,
        val_fraction: float = 0.1,
        split_seed: int = 0,
        folds: int | None = None,
        fold: int = 0,
        seed: int = 0,
        channels_last: bool = False,
        augment: Any = None,
    ) -> None:
        super().__init__()
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.mean, self.std = mean, std
        self.val_fraction, self.split_seed = val_fraction, split_seed
        self.folds, self.fold = folds, fold
        self.seed = seed
        self.channels_last = channels_last
        self.augment = batch_augment(augment)  # None: no augmentation
        self._channel_stats: tuple[list[float], list[float]] | None = None  # (mean, std) per channel, after setup
        self._scale_shift_on: tuple[torch.device, torch.Tensor, torch.Tensor] | None = None
        self.train: Split | None = None
        self.val: Split | None = None
        self.test: Split | None = None
        self.class_names: list[str] = []

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        """Checks that need no data, run before any run directory is made: ``dataset.augment``."""
        from omegaconf import OmegaConf

        batch_augment(OmegaConf.select(cfg, "dataset.augment", default=None))

    # -- to implement -------------------------------------------------------------------------
    def load(self) -> tuple[Split, Split, list[str]]:
        """Return (pool for train/val, test, class names). Raise DataError on any bad input."""
        raise NotImplementedError

    # -- Lightning hooks ----------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self.train is not None:
            return
        pool, test, names = self.load()
        pool, test = _with_channel_axis(pool), _with_channel_axis(test)
        for name, split in (("training", pool), ("test", test)):
            _check_split(split, len(names), f"{type(self).__name__} {name} data")
        if pool.images.shape[1:] != test.images.shape[1:]:
            raise DataError(
                f"{type(self).__name__}: training images are {_shape_text(pool)} "
                f"but test images are {_shape_text(test)}"
            )
        self._channel_stats = _channel_stats(self.mean, self.std, int(pool.images.shape[1]), type(self).__name__)
        train_idx, val_idx = self._validation_indices(pool.labels)
        self.train, self.val, self.test = pool.subset(train_idx), pool.subset(val_idx), test
        self.class_names = list(names)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train, self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val, self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test, self.eval_batch_size, shuffle=False)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        if isinstance(batch, torch.Tensor):  # the model summary's example input: already model-shaped
            return batch
        if len(batch) == 3:  # a training batch with its augmentation draw (AugmentedPairs)
            images, labels, draw = batch
            return self.normalize(self.augment.apply(images, draw)), labels
        images, labels = batch
        return self.normalize(images), labels

    # -- helpers ------------------------------------------------------------------------------
    def shape(self) -> DataShape:
        """One input's shape and the class names. This default loads the data (``setup``); a data module that
        knows its shape without decoding everything (constants, a folder scan) overrides it."""
        self.setup("fit")
        assert self.train is not None
        channels, height, width = self.train.images.shape[1:]
        return DataShape(int(channels), int(height), int(width), tuple(self.class_names))

    def describe(self) -> dict:
        """Fields for results.json."""
        sizes = {"train": len(self.train), "val": len(self.val), "test": len(self.test)}
        return {"class_names": self.class_names, "split_sizes": sizes}

    def test_fingerprint(self) -> str:
        """A hash of the test images and labels: runs with equal fingerprints were tested on the same samples.

        Grayscale images are hashed as N x H x W, as before channels existed, so the fingerprints of earlier runs
        on the same test set still match."""
        from convlab.runfiles.predictions import test_set_fingerprint

        images = self.test.images
        images = images.squeeze(1) if images.shape[1] == 1 else images
        return test_set_fingerprint(images.cpu().numpy(), self.test.labels.cpu().numpy())

    def task_inputs(self) -> dict:
        """What the task needs to know about the data, passed to its constructor."""
        return {"class_names": self.class_names, "example_input": torch.zeros(1, *self.train.images.shape[1:])}

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 N x C x H x W -> float N x C x H x W, (x / 255 - mean) / std per channel in one fused pass."""
        scale, shift = self._scale_shift(images)
        x = images.float().mul_(scale).sub_(shift)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _scale_shift(self, images: torch.Tensor) -> tuple[float | torch.Tensor, float | torch.Tensor]:
        """1 / (255 std) and mean / std: Python floats for one mean and std (the grayscale datasets' numbers, bit
        for bit), else C x 1 x 1 tensors on the images' device, made once per device."""
        stats = self._channel_stats
        if stats is None:  # normalize() before setup(): a tool that builds its own batch
            stats = _channel_stats(self.mean, self.std, int(images.shape[1]), type(self).__name__)
        mean, std = stats
        if len(mean) == 1:
            return 1.0 / (255.0 * std[0]), mean[0] / std[0]
        cached = self._scale_shift_on
        if cached is None or cached[0] != images.device:
            column = (len(mean), 1, 1)
            scale = torch.tensor([1.0 / (255.0 * s) for s in std], device=images.device).reshape(column)
            shift = torch.tensor([m / s for m, s in zip(mean, std, strict=True)], device=images.device).reshape(column)
            cached = self._scale_shift_on = (images.device, scale, shift)
        return cached[1], cached[2]

    def _validation_indices(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.folds:
            parts = stratified_folds(labels, self.folds, self.split_seed)
            val = parts[self.fold]
            train = torch.cat([p for i, p in enumerate(parts) if i != self.fold]).sort().values
            return train, val
        return stratified_split(labels, self.val_fraction, self.split_seed + 1, key="dataset.val_fraction")

    def _loader(self, split: Split | None, batch_size: int, shuffle: bool) -> DataLoader:
        if split is None:
            raise RuntimeError("call setup() before asking for a dataloader")
        if len(split) == 0:  # tiny data or extreme fractions: say so before Lightning fails less clearly
            which = "training" if shuffle else "validation" if split is self.val else "test"
            raise DataError(
                f"{type(self).__name__}: the {which} split is empty; use more data or change dataset.val_fraction"
            )
        augment = self.augment if shuffle else None  # validation and test are never augmented
        sampler = BatchIndexSampler(len(split), batch_size, shuffle=shuffle, seed=self.seed, positions=bool(augment))
        pairs = AugmentedPairs(split, augment, self.seed) if augment else TensorPairs(split)
        return DataLoader(pairs, batch_size=None, sampler=sampler, collate_fn=_as_batch)


def _with_channel_axis(split: Split) -> Split:
    """A data module written before channels (uint8 N x H x W) still works: its images are one channel."""
    if split.images.dim() == 3:
        return Split(split.images.unsqueeze(1), split.labels)
    return split


def _shape_text(split: Split) -> str:
    return " x ".join(str(n) for n in split.images.shape[1:])


def _channel_stats(mean: Any, std: Any, channels: int, owner: str) -> tuple[list[float], list[float]]:
    """``dataset.mean``/``dataset.std`` as lists: one number for every channel, or one per channel."""
    found = []
    for key, value in (("mean", mean), ("std", std)):
        values = [float(v) for v in value] if isinstance(value, Sequence) and not isinstance(value, str) else [value]
        if len(values) not in (1, channels):
            raise DataError(
                f"{owner}: dataset.{key}={list(values)} has {len(values)} values for {channels}-channel images: "
                f"give one number or {channels}"
            )
        if key == "std" and any(float(v) <= 0 for v in values):
            raise DataError(f"{owner}: dataset.std={value} must be > 0")
        found.append([float(v) for v in values])
    mean_list, std_list = found
    if len(mean_list) != len(std_list) and channels > 1:  # one given as a number, the other per channel
        mean_list, std_list = mean_list * (channels // len(mean_list)), std_list * (channels // len(std_list))
    return mean_list, std_list


def _check_split(split: Split, num_classes: int, what: str) -> None:
    if split.images.dtype != torch.uint8 or split.images.dim() != 4:
        raise DataError(
            f"{what}: expected uint8 images N x C x H x W, got {split.images.dtype} {list(split.images.shape)}"
        )
    if split.images.shape[1] not in (1, 3):
        raise DataError(f"{what}: images have {split.images.shape[1]} channels; convlab takes 1 (grayscale) or 3 (RGB)")
    if len(split.images) != len(split.labels):
        raise DataError(f"{what}: {len(split.images)} images but {len(split.labels)} labels")
    if len(split) == 0:
        raise DataError(f"{what}: no samples")
    bad = (split.labels < 0) | (split.labels >= num_classes)
    if bad.any():
        i = int(torch.nonzero(bad)[0])
        raise DataError(f"{what}: label {int(split.labels[i])} at index {i} is outside 0-{num_classes - 1}")
