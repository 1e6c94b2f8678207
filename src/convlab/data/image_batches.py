"""Image files decoded a batch at a time, in DataLoader worker processes: the first decode of an image folder
(into the tensor-resident cache) and the streaming path (a folder too big for memory) share this code.

A batch is an index tensor or slice over a list of files (``BatchIndexSampler`` gives the same ones as for
tensor-resident data), decoded into uint8 N x C x H x W in the worker; the main process only receives tensors.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from convlab.data.augment import BatchAugment
from convlab.data.image_files import decode_image, read_header
from convlab.errors import DataError

log = logging.getLogger(__name__)
DECODE_CHUNK = 256  # images per worker task in the first decode: big enough to amortise the queue, small for the bar


def different_sizes(first: str, first_size: Sequence[int], other: str, other_size: Sequence[int]) -> DataError:
    """The one line for a folder of mixed image sizes without ``dataset.image_size``."""
    return DataError(
        f"images of different sizes: {first} is {first_size[0]}x{first_size[1]}, {other} is "
        f"{other_size[0]}x{other_size[1]}; set dataset.image_size=<size> or [<height>, <width>] to resize them"
    )


class ImageBatches(Dataset):
    """``dataset[index]`` decodes the files at ``index`` (an index tensor or a slice): (uint8 N x C x H x W, labels).

    ``channels`` None decodes each image as it is (1 for grayscale, 3 for colour; a batch with both is colour).
    Every image must be ``size`` = (height, width) natively when ``resize`` is false: a different one is a
    DataError naming it and ``size_source``, the file that set the size.
    """

    def __init__(
        self,
        paths: Sequence[str],
        labels: torch.Tensor,
        size: tuple[int, int],
        channels: int | None,
        resize: bool = True,
        size_source: str = "",
    ) -> None:
        self.paths, self.labels = list(paths), labels
        self.size, self.channels, self.resize, self.size_source = size, channels, resize, size_source

    def __len__(self) -> int:
        return len(self.paths)

    def decode(self, i: int) -> np.ndarray:
        pixels = decode_image(self.paths[i], self.channels, self.size if self.resize else None)
        if pixels.shape[1:] != self.size:
            raise different_sizes(self.size_source, self.size, self.paths[i], pixels.shape[1:])
        return pixels

    def __getitem__(self, index: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor]:
        rows = range(len(self.paths))[index] if isinstance(index, slice) else index.tolist()
        images = [self.decode(i) for i in rows]
        channels = max((p.shape[0] for p in images), default=self.channels or 1)
        batch = np.empty((len(images), channels, *self.size), dtype=np.uint8)
        for row, pixels in zip(batch, images, strict=True):
            row[:] = pixels  # a grayscale image in a colour batch: broadcast to three equal channels
        return torch.from_numpy(batch), self.labels[index]


class AugmentedImageBatches(Dataset):
    """Streamed training batches with their augmentation draw, as ``AugmentedPairs`` gives them for tensors:
    ``dataset[(index, epoch, batch)]`` is (images, labels, draw), the draw a function of (seed, epoch, batch, rank)
    only. The rank is taken when the loader is made (a worker process has no process group to ask)."""

    def __init__(self, batches: ImageBatches, augment: BatchAugment, seed: int, rank: int) -> None:
        self.batches, self.augment, self.seed, self.rank = batches, augment, seed, rank

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, key: tuple[torch.Tensor, int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        index, epoch, batch = key
        images, labels = self.batches[index]
        return images, labels, self.augment.draw(len(labels), self.seed, epoch, batch, rank=self.rank)


class _Outcome(Dataset):
    """A worker's result or its DataError as a value: the main process raises it as the one line it is (a
    DataLoader re-raises a worker's exception wrapped in a multi-line traceback)."""

    def __init__(self, batches: Dataset, chunk: int) -> None:
        self.batches, self.chunk = batches, chunk

    def __len__(self) -> int:
        return -(-len(self.batches) // self.chunk)

    def __getitem__(self, k: int) -> tuple[int, object]:
        start = k * self.chunk
        try:
            return start, self.batches[slice(start, min(start + self.chunk, len(self.batches)))]
        except DataError as e:
            return start, e


def _outcomes(dataset: Dataset, chunk: int, num_workers: int) -> Iterator[tuple[int, object]]:
    """(start, result) of each ``chunk`` of ``dataset``, in order, computed in ``num_workers`` processes; a worker's
    DataError is raised here as its one line."""
    for start, outcome in worker_loader(_Outcome(dataset, chunk), num_workers):
        if isinstance(outcome, DataError):
            raise DataError(str(outcome))
        yield start, outcome


def worker_loader(dataset: Dataset, num_workers: int, persistent: bool = False, **kwargs) -> DataLoader:
    """A DataLoader whose batches are ``dataset[i]`` for what the sampler yields, decoded in ``num_workers``
    processes (0: in this one); ``persistent`` keeps them from epoch to epoch."""
    return DataLoader(
        dataset,
        batch_size=None,
        num_workers=num_workers,
        collate_fn=_identity,
        persistent_workers=persistent and num_workers > 0,
        prefetch_factor=4 if num_workers > 0 else None,
        **kwargs,
    )


def _identity(batch: object) -> object:
    return batch


def progress(total: int, what: str) -> Callable[[int], None]:
    """A progress bar (tqdm) on a terminal, nothing otherwise; call with the items done since the last call."""
    if not sys.stderr.isatty():
        return lambda _: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=what, unit="img", leave=False, dynamic_ncols=True)

    def advance(count: int) -> None:
        bar.update(count)
        if bar.n >= total:
            bar.close()

    return advance


def decode_all(batches: ImageBatches, num_workers: int, what: str) -> torch.Tensor:
    """Every image of ``batches`` as one uint8 N x C x H x W tensor, decoded in ``num_workers`` processes with a
    progress bar. With ``channels`` None, C is 1 unless some image is colour (then gray ones are repeated to 3)."""
    n = len(batches)
    images = torch.empty((n, batches.channels or 1, *batches.size), dtype=torch.uint8)
    advance = progress(n, what)
    # Sequential chunks, in order: a worker's chunk lands at its offset, whatever order they finish in.
    for start, (chunk, _) in _outcomes(batches, DECODE_CHUNK, min(num_workers, -(-n // DECODE_CHUNK))):
        if chunk.shape[1] > images.shape[1]:  # the first colour image: the grayscale ones so far become RGB
            images = images.expand(-1, chunk.shape[1], -1, -1).contiguous()
        images[start : start + len(chunk)] = chunk
        advance(len(chunk))
    return images


class _Headers(Dataset):
    """``dataset[slice]``: the (channels, height, width) of those files, from their headers."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        self.paths = list(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: slice) -> list[tuple[int, int, int]]:
        return [read_header(p) for p in self.paths[index]]


def scan_headers(paths: Sequence[str | Path], num_workers: int = 0) -> tuple[int, dict[tuple[int, int], str]]:
    """(channels: 3 if any image is colour, else 1; the first file of each distinct (height, width)) from the
    headers alone, read in ``num_workers`` processes: what the streaming path must know before its first batch."""
    channels, sizes = 1, {}
    advance = progress(len(paths), "reading image headers")
    for start, outcome in _outcomes(_Headers(paths), DECODE_CHUNK * 4, num_workers):
        for offset, (c, h, w) in enumerate(outcome):
            channels = max(channels, c)
            sizes.setdefault((h, w), str(paths[start + offset]))
        advance(len(outcome))
    return channels, sizes


def channel_stats(batches: Dataset, num_workers: int, batch: int = 1024) -> tuple[list[float], list[float]]:
    """Per-channel mean and std, in [0, 1] units, of every image of ``batches`` (decoded in batches)."""
    sums = sq = None
    pixels = 0
    for _, (images, _) in _outcomes(batches, batch, num_workers):
        s, q, p = moments(images)
        sums, sq = (s, q) if sums is None else (sums + s, sq + q)
        pixels += p
    return finish_stats(sums, sq, pixels)


def moments(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Per-channel sum and sum of squares (float64) of uint8 N x C x H x W, and the pixels per channel."""
    x = images.transpose(0, 1).reshape(images.shape[1], -1).double()
    return x.sum(1), x.square().sum(1), x.shape[1]


def finish_stats(sums: torch.Tensor, squares: torch.Tensor, pixels: int) -> tuple[list[float], list[float]]:
    mean = sums / pixels
    var = (squares / pixels - mean.square()).clamp_min(0)
    return (mean / 255).tolist(), (var.sqrt() / 255).clamp_min(1e-6).tolist()


def image_stats(images: torch.Tensor, chunk: int = 4096) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 N x C x H x W in memory, in [0, 1] units, a chunk at a time."""
    parts = [moments(images[i : i + chunk]) for i in range(0, len(images), chunk)]
    return finish_stats(sum(p[0] for p in parts), sum(p[1] for p in parts), sum(p[2] for p in parts))
