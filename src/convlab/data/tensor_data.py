"""Tensor-resident data: every split lives in memory as uint8 tensors; a batch is an index slice.

Decoding happens once. Batches are normalised on the device after transfer, so the host never holds
more than one float batch and the training path has no per-sample Python or PIL work.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from convlab.errors import DataError


@dataclass
class Split:
    """Images (uint8, N x H x W) and integer labels (N)."""

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


def _as_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
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

    def __init__(self, num_samples: int, batch_size: int, shuffle: bool, seed: int = 0) -> None:
        self.num_samples, self.batch_size, self.shuffle, self.seed = num_samples, batch_size, shuffle, seed
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
            yield order[i : i + bs]


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
    into training or validation) and the class names. Validation is carved from the pool here, either
    as a stratified ``val_fraction`` or, with ``folds=k``, as fold ``fold`` of a stratified k-fold split.
    """

    task_kind = "classification"

    def __init__(
        self,
        batch_size: int = 64,
        eval_batch_size: int = 512,
        mean: float = 0.5,
        std: float = 0.5,
        val_fraction: float = 0.1,
        split_seed: int = 0,
        folds: int | None = None,
        fold: int = 0,
        seed: int = 0,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.mean, self.std = mean, std
        self.val_fraction, self.split_seed = val_fraction, split_seed
        self.folds, self.fold = folds, fold
        self.seed = seed
        self.channels_last = channels_last
        self.train: Split | None = None
        self.val: Split | None = None
        self.test: Split | None = None
        self.class_names: list[str] = []

    # -- to implement -------------------------------------------------------------------------
    def load(self) -> tuple[Split, Split, list[str]]:
        """Return (pool for train/val, test, class names). Raise DataError on any bad input."""
        raise NotImplementedError

    # -- Lightning hooks ----------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self.train is not None:
            return
        pool, test, names = self.load()
        for name, split in (("training", pool), ("test", test)):
            _check_split(split, len(names), f"{type(self).__name__} {name} data")
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
        images, labels = batch
        return self.normalize(images), labels

    # -- helpers ------------------------------------------------------------------------------
    def describe(self) -> dict:
        """Fields for results.json."""
        sizes = {"train": len(self.train), "val": len(self.val), "test": len(self.test)}
        return {"class_names": self.class_names, "split_sizes": sizes}

    def test_fingerprint(self) -> str:
        """A hash of the test images and labels: runs with equal fingerprints were tested on the same samples."""
        from convlab.runfiles.predictions import test_set_fingerprint

        return test_set_fingerprint(self.test.images.cpu().numpy(), self.test.labels.cpu().numpy())

    def task_inputs(self) -> dict:
        """What the task needs to know about the data, passed to its constructor."""
        height, width = self.train.images.shape[1:]
        return {"class_names": self.class_names, "example_input": torch.zeros(1, 1, height, width)}

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 N x H x W -> float N x 1 x H x W, (x / 255 - mean) / std in one fused pass."""
        x = images.unsqueeze(1).float().mul_(1.0 / (255.0 * self.std)).sub_(self.mean / self.std)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

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
        sampler = BatchIndexSampler(len(split), batch_size, shuffle=shuffle, seed=self.seed)
        return DataLoader(TensorPairs(split), batch_size=None, sampler=sampler, collate_fn=_as_batch)


def _check_split(split: Split, num_classes: int, what: str) -> None:
    if split.images.dtype != torch.uint8 or split.images.dim() != 3:
        raise DataError(f"{what}: expected uint8 images N x H x W, got {split.images.dtype} {list(split.images.shape)}")
    if len(split.images) != len(split.labels):
        raise DataError(f"{what}: {len(split.images)} images but {len(split.labels)} labels")
    if len(split) == 0:
        raise DataError(f"{what}: no samples")
    bad = (split.labels < 0) | (split.labels >= num_classes)
    if bad.any():
        i = int(torch.nonzero(bad)[0])
        raise DataError(f"{what}: label {int(split.labels[i])} at index {i} is outside 0-{num_classes - 1}")
