"""Batched augmentation of training batches (``dataset.augment``): random crop with zero padding, horizontal flip.

The random draw of a batch (each image's crop offset and flip) is made on the host from (seed, epoch, batch
number, rank) alone and travels with the batch; the crop and flip are then one gather on the device, on the uint8
images, before normalisation. No generator state is carried from batch to batch, so a run resumed mid-epoch (the
sampler skips the batches already done) or requeued sees exactly the augmented batches an uninterrupted run sees.
Only training batches carry a draw: validation and test are never augmented.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from convlab.errors import ConfigError

_MIX = 1_000_003  # a prime: (seed, epoch, batch, rank) -> one generator seed, distinct for small values


@dataclass(frozen=True)
class BatchAugment:
    """``crop_padding``: pad each side by this many zero pixels, then crop back to the image's size at a random
    offset (0: no crop). ``hflip``: mirror each image left-right with probability 1/2."""

    crop_padding: int = 0
    hflip: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.crop_padding, bool) or not isinstance(self.crop_padding, int) or self.crop_padding < 0:
            raise ConfigError(f"dataset.augment.crop_padding={self.crop_padding}: must be an integer >= 0")
        if not isinstance(self.hflip, bool):
            raise ConfigError(f"dataset.augment.hflip={self.hflip}: must be true or false")

    @property
    def active(self) -> bool:
        return self.crop_padding > 0 or self.hflip

    def draw(self, count: int, seed: int, epoch: int, batch: int, rank: int = 0) -> torch.Tensor:
        """int64 count x 3 on the host: each image's row offset, column offset (0..2 * crop_padding) and flip (0/1),
        a function of (seed, epoch, batch, rank) only."""
        mixed = (((seed * _MIX + epoch) * _MIX + batch) * _MIX + rank) % (2**63 - 1)
        g = torch.Generator().manual_seed(mixed)
        offsets = torch.randint(0, 2 * self.crop_padding + 1, (count, 2), generator=g)
        flips = torch.randint(0, 2, (count, 1), generator=g) if self.hflip else torch.zeros(count, 1, dtype=torch.long)
        return torch.cat([offsets, flips], dim=1)

    def apply(self, images: torch.Tensor, draw: torch.Tensor) -> torch.Tensor:
        """uint8 N x C x H x W, cropped and flipped as ``draw`` says, in one gather on the images' device."""
        n, channels, height, width = images.shape
        p = self.crop_padding
        padded = F.pad(images, (p, p, p, p)) if p else images
        draw = draw.to(images.device, non_blocking=True)
        # the crop at offset (dy, dx) reads padded[dy + i, dx + j]: a flipped image reads its columns right to left
        corner = (draw[:, 0] * (width + 2 * p) + draw[:, 1]).reshape(n, 1, 1)
        where = _crop_grids(height, width, p, images.device).index_select(0, draw[:, 2]).add_(corner)
        picked = padded.reshape(n, channels, -1).gather(2, where.reshape(n, 1, -1).expand(n, channels, height * width))
        return picked.reshape(n, channels, height, width)


@functools.lru_cache(maxsize=8)
def _crop_grids(height: int, width: int, padding: int, device: torch.device) -> torch.Tensor:
    """Flat positions in the padded image of the crop at offset (0, 0), 2 x H x W: read left to right, then right
    to left (flipped)."""
    rows = torch.arange(height, device=device).reshape(height, 1) * (width + 2 * padding)
    across = torch.arange(width, device=device)
    return torch.stack([rows + across, rows + (width - 1 - across)])


def batch_augment(spec: Any) -> BatchAugment | None:
    """``dataset.augment`` as given (null, a mapping such as {crop_padding: 4, hflip: true}, or a BatchAugment) ->
    a BatchAugment, or None when it augments nothing."""
    if spec is None or spec is False:
        return None
    if isinstance(spec, BatchAugment):
        found = spec
    elif isinstance(spec, Mapping):
        unknown = sorted(set(spec) - {"crop_padding", "hflip"})
        if unknown:
            raise ConfigError(f"dataset.augment: unknown key {unknown[0]} (known: crop_padding, hflip)")
        found = BatchAugment(**{str(k): v for k, v in spec.items()})
    else:
        raise ConfigError(f"dataset.augment={spec}: give null or a node such as {{crop_padding: 4, hflip: true}}")
    return found if found.active else None
