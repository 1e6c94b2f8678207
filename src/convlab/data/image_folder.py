"""``dataset=image_folder``: a labelled image folder of one's own (torchvision's ImageFolder layout), any size,
grayscale or RGB.

The folder is decoded once, in DataLoader worker processes with a progress bar, into uint8 N x C x H x W tensors
(the tensor-resident path every dataset takes) and cached on disk under ``paths.data_dir``: a second run with the
same files and settings loads that tensor instead of decoding. A folder whose tensor would exceed
``max_memory_gb`` is streamed instead: each batch is decoded by the workers from the files, with the same
splits, order and normalisation. Per-channel ``mean``/``std`` default to the training images' own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from convlab.data.image_batches import (
    AugmentedImageBatches,
    ImageBatches,
    channel_stats,
    decode_all,
    different_sizes,
    image_stats,
    scan_headers,
    worker_loader,
)
from convlab.data.image_cache import cache_dir, folder_key, load_meta, load_tensors, save_meta, save_tensors
from convlab.data.image_files import FolderScan, read_header, scan_folder
from convlab.data.shape import DataShape
from convlab.data.tensor_data import BatchIndexSampler, Split, TensorDataModule, _dist_rank_world, stratified_split
from convlab.errors import ConfigError, DataError

log = logging.getLogger(__name__)
GB = 2**30


def parse_image_size(value: Any) -> tuple[int, int] | None:
    """``dataset.image_size``: null, an int (square) or [height, width], as (height, width)."""
    if value is None:
        return None
    sizes = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    if len(sizes) == 1:
        sizes = sizes * 2
    if len(sizes) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise ConfigError(f"dataset.image_size={value}: give a positive int or [height, width] (null: the images' own)")
    return sizes[0], sizes[1]


def _check_channels(value: Any) -> int | None:
    if value not in (None, 1, 3):
        raise ConfigError(f"dataset.channels={value}: give 1 (grayscale) or 3 (RGB), or null for the images' own")
    return value


@dataclass
class FileSplit:
    """A split of a streamed folder: image paths and labels; batches are decoded from the files by workers."""

    paths: list[str]
    labels: torch.Tensor
    size: tuple[int, int]
    channels: int
    _images: torch.Tensor | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor) -> FileSplit:
        return FileSplit([self.paths[i] for i in index.tolist()], self.labels[index], self.size, self.channels)

    def batches(self) -> ImageBatches:
        return ImageBatches(self.paths, self.labels, self.size, self.channels)

    @property
    def images(self) -> torch.Tensor:
        """Every image decoded (once, on demand): what the test's fingerprint and predictions.npz keep."""
        if self._images is None:
            self._images = decode_all(self.batches(), 0, "decoding the test images")
        return self._images


class ImageFolderDataModule(TensorDataModule):
    """Splits: the folder's own train/ (val/) test/, or, for one folder of classes, a stratified ``test_fraction``
    seeded by ``split_seed``; validation is ``val/`` where there is one, else carved from train as for every
    dataset. ``mean``/``std`` null: the per-channel statistics of the images training draws from (train/, or the
    non-test part of one folder of classes), recorded in results.json."""

    def __init__(
        self,
        root: str,
        data_dir: str = "data",
        image_size: int | Sequence[int] | None = None,
        channels: int | None = None,
        mean: float | Sequence[float] | None = None,
        std: float | Sequence[float] | None = None,
        test_fraction: float = 0.2,
        max_memory_gb: float = 4.0,
        num_workers: int = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.root, self.data_dir = Path(str(root)).expanduser(), Path(str(data_dir))
        self.image_size = parse_image_size(_plain(image_size))
        self.channels = _check_channels(channels)
        self.mean_setting, self.std_setting = mean, std
        self.test_fraction, self.max_memory_gb, self.num_workers = test_fraction, max_memory_gb, num_workers
        self.streaming = False
        self.decoded_images = 0  # images decoded by load(): 0 when the disk cache answered
        self.cache_record: dict[str, Any] = {}
        self._val_range: tuple[int, int] | None = None
        self._scan: FolderScan | None = None
        self._tensors: tuple[torch.Tensor, torch.Tensor] | None = None

    # -- before any data is read ------------------------------------------------------------------
    @classmethod
    def check_config(cls, cfg: DictConfig) -> None:
        """The pre-check: the settings' ranges and a scan of the folder (no image is decoded)."""
        root = OmegaConf.select(cfg, "dataset.root", throw_on_missing=False)
        if root in (None, "", "???"):
            raise ConfigError("dataset=image_folder needs dataset.root=<folder of class folders>")
        parse_image_size(_plain(OmegaConf.select(cfg, "dataset.image_size")))
        _check_channels(OmegaConf.select(cfg, "dataset.channels"))
        for key in ("max_memory_gb", "test_fraction"):
            value = OmegaConf.select(cfg, f"dataset.{key}")
            if value is not None and not (value > 0 and (key != "test_fraction" or value < 1)):
                raise ConfigError(f"dataset.{key}={value}: out of range")
        scan_folder(str(root))

    def folder(self) -> FolderScan:
        if self._scan is None:
            self._scan = scan_folder(self.root)
        return self._scan

    def shape(self) -> DataShape:
        """From a folder scan and image headers only: the size of ``image_size`` or of the first image, the
        channels of ``channels`` or 3 if the first image of any class is colour."""
        scan = self.folder()
        channels, height, width = self._header_guess(scan)
        return DataShape(channels, height, width, scan.class_names)

    def _header_guess(self, scan: FolderScan) -> tuple[int, int, int]:
        first = scan.files()[0]
        _, height, width = read_header(scan.path(first))
        channels = self.channels
        if channels is None:
            firsts = {f.label: f for f in reversed(scan.files())}.values()  # the first image of each class
            channels = max(read_header(scan.path(f))[0] for f in firsts)
        height, width = self.image_size or (height, width)
        return channels, height, width

    # -- decoding ---------------------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Decode and cache on one process (rank zero under DDP): the other ranks' setup loads the cache."""
        scan = self.folder()
        if self.fits_in_memory(scan):
            self._decoded(scan)

    def load(self) -> tuple[Split, Split, list[str]]:
        scan = self.folder()
        images, labels = self._decoded(scan)
        self._check_channels_guess(scan, int(images.shape[1]))
        parts, start = {}, 0
        for name, files in scan.splits.items():
            parts[name] = Split(images[start : start + len(files)], labels[start : start + len(files)])
            start += len(files)
        pool, test, train_part = self._pool_and_test(parts)
        self._set_normalization(lambda: image_stats(train_part.images))
        return pool, test, list(scan.class_names)

    def _pool_and_test(self, parts: dict[str, Any]) -> tuple[Any, Any, Any]:
        """(the pool training and validation come from, the test split, the training images the statistics
        are taken from) for either layout; a val/ folder is kept as the validation split (``_val_range``)."""
        if "all" in parts:
            everything = parts["all"]
            pool_idx, test_idx = stratified_split(
                everything.labels, self.test_fraction, self.split_seed, key="dataset.test_fraction"
            )
            pool = everything.subset(pool_idx)
            return pool, everything.subset(test_idx), pool
        train, test = parts["train"], parts["test"]
        if "val" not in parts:
            return train, test, train
        self._val_range = (len(train), len(train) + len(parts["val"]))
        return _joined(train, parts["val"]), test, train

    def _validation_indices(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self._val_range is None:
            return super()._validation_indices(labels)
        n_train, n_all = self._val_range
        return torch.arange(n_train), torch.arange(n_train, n_all)

    def _set_normalization(self, compute: Any) -> None:
        """``mean``/``std`` as configured, else the training images' own (computed once, here)."""
        mean, std = self.mean_setting, self.std_setting
        if mean is None or std is None:
            own_mean, own_std = compute()
            mean = own_mean if mean is None else mean
            std = own_std if std is None else std
        self.mean, self.std = _as_list(mean), _as_list(std)

    def _cache_file(self, scan: FolderScan, suffix: str) -> Path:
        key = folder_key(scan, image_size=self.image_size, channels=self.channels)
        return cache_dir(self.data_dir, self.root) / f"{key}{suffix}"

    def _check_channels_guess(self, scan: FolderScan, channels: int) -> None:
        """shape() (the model's in_channels) reads the first image of each class; a colour image elsewhere in a
        folder of grayscale firsts would give the model the wrong channels: one line, and the setting that fixes it."""
        if self.channels is None and self._header_guess(scan)[0] != channels:
            raise DataError(
                f"dataset.root={self.root}: some images are colour, but the first image of every class is grayscale; "
                "set dataset.channels=3 (colour) or 1 (grayscale)"
            )

    def _decoded(self, scan: FolderScan) -> tuple[torch.Tensor, torch.Tensor]:
        """Every image (split after split) and label: from the disk cache, else decoded and cached."""
        if self._tensors is not None:  # prepare_data decoded them in this process
            return self._tensors
        path = self._cache_file(scan, ".pt")
        started = time.perf_counter()
        entry = load_tensors(path)
        if entry is None:
            batches = self._batches(scan)
            images = decode_all(batches, self.num_workers, f"decoding {self.root}")
            entry = {"images": images, "labels": batches.labels}
            self.decoded_images = len(images)
            save_tensors(path, entry)
            log.info(
                "decoded %d images of %s in %.1f s into %s", len(images), self.root, time.perf_counter() - started, path
            )
        else:
            log.info("loaded %d images of %s from the cache %s", len(entry["images"]), self.root, path)
        seconds = round(time.perf_counter() - started, 3)
        self.cache_record = {
            "mode": "memory",
            "file": str(path),
            "reused": self.decoded_images == 0,
            "seconds": seconds,
        }
        self._tensors = entry["images"], entry["labels"]
        return self._tensors

    def _batches(self, scan: FolderScan, channels: int | None = None) -> ImageBatches:
        files = scan.files()
        first = scan.path(files[0])
        size = self.image_size or read_header(first)[1:]
        labels = torch.tensor([f.label for f in files], dtype=torch.int64)
        paths = [str(scan.path(f)) for f in files]
        return ImageBatches(paths, labels, size, channels or self.channels, self.image_size is not None, str(first))

    # -- the streaming path: a folder too big for memory ------------------------------------------
    def fits_in_memory(self, scan: FolderScan) -> bool:
        channels, height, width = self._header_guess(scan)
        return len(scan.files()) * channels * height * width <= self.max_memory_gb * GB

    def setup(self, stage: str | None = None) -> None:
        if self.train is not None:
            return
        scan = self.folder()
        if self.fits_in_memory(scan):
            super().setup(stage)
            return
        self.streaming = True
        self._setup_streaming(scan)

    def _setup_streaming(self, scan: FolderScan) -> None:
        """File splits, the same as the in-memory path's; channels, size and statistics from a header scan and
        one decode of the training images, kept on disk so a second run skips both."""
        path = self._cache_file(scan, f".stream-{self.split_seed}-{self.val_fraction}-{self.folds}-{self.fold}.json")
        meta = load_meta(path)
        reused = meta is not None
        if meta is None:
            everything = self._batches(scan)
            channels, sizes = scan_headers(everything.paths, self.num_workers)
            if len(sizes) > 1 and self.image_size is None:
                (a, file_a), (b, file_b) = list(sizes.items())[:2]
                raise different_sizes(file_a, a, file_b, b)
            meta = {"channels": self.channels or channels, "size": list(everything.size)}
        self._check_channels_guess(scan, meta["channels"])
        files = self._batches(scan, meta["channels"])
        whole = FileSplit(files.paths, files.labels, tuple(meta["size"]), meta["channels"])
        parts, start = {}, 0
        for name, split_files in scan.splits.items():
            parts[name] = whole.subset(torch.arange(start, start + len(split_files)))
            start += len(split_files)
        pool, test, train_part = self._pool_and_test(parts)
        if "mean" not in meta and (self.mean_setting is None or self.std_setting is None):
            meta["mean"], meta["std"] = channel_stats(train_part.batches(), self.num_workers)
        if not reused:
            save_meta(path, meta)
        self._set_normalization(lambda: (meta["mean"], meta["std"]))
        train_idx, val_idx = self._validation_indices(pool.labels)
        self.train, self.val, self.test = pool.subset(train_idx), pool.subset(val_idx), test
        self.class_names = list(scan.class_names)
        self.cache_record = {"mode": "streamed", "file": str(path), "reused": reused}

    def _loader(self, split: Any, batch_size: int, shuffle: bool) -> DataLoader:
        if not isinstance(split, FileSplit):
            return super()._loader(split, batch_size, shuffle)
        if len(split) == 0:
            raise DataError(f"{type(self).__name__}: a split is empty; use more images or change dataset.val_fraction")
        augment = self.augment if shuffle else None  # validation and test are never augmented
        sampler = BatchIndexSampler(len(split), batch_size, shuffle=shuffle, seed=self.seed, positions=bool(augment))
        batches: Any = split.batches()
        if augment:
            batches = AugmentedImageBatches(batches, augment, self.seed, rank=_dist_rank_world()[0])
        return worker_loader(batches, self.num_workers, persistent=True, sampler=sampler)

    def task_inputs(self) -> dict:
        if not self.streaming:
            return super().task_inputs()
        return {"class_names": self.class_names, "example_input": torch.zeros(1, self.train.channels, *self.train.size)}

    def describe(self) -> dict:
        return {
            **super().describe(),
            "normalization": {"mean": list(self.mean), "std": list(self.std)},
            "image_cache": self.cache_record,
        }


def _plain(value: Any) -> Any:
    """A config node (ListConfig) as the Python value it holds; anything else as is."""
    return OmegaConf.to_object(value) if OmegaConf.is_config(value) else value


def _as_list(value: Any) -> list[float]:
    value = _plain(value)
    return [float(v) for v in value] if isinstance(value, Sequence) else [float(value)]


def _joined(a: Any, b: Any) -> Any:
    """Two splits as one: the training then the validation images of a folder with val/."""
    if isinstance(a, FileSplit):
        return FileSplit(a.paths + b.paths, torch.cat([a.labels, b.labels]), a.size, a.channels)
    return Split(torch.cat([a.images, b.images]), torch.cat([a.labels, b.labels]))
