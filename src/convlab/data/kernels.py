"""Image filters: named kernels, the cross-correlation a conv layer computes, true convolution, min-max display.

``cross_correlate`` is ``torch.nn.functional.conv2d`` itself, so a target made with it is exactly what a
``nn.Conv2d`` holding the same kernel outputs. Deep-learning "convolution" layers compute cross-correlation
(the kernel is not flipped); the convolution of signal processing flips the kernel in both axes first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from convlab.errors import ConfigError

NAMED_KERNELS: dict[str, list[list[float]]] = {
    # Sobel: horizontal gradient (responds to vertical edges), and its transpose.
    "sobel_x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel_y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "blur3": [[1 / 9] * 3] * 3,
}


def kernel_from_spec(spec: Any, size: int = 3, key: str = "dataset.kernel") -> torch.Tensor:
    """A named kernel or a ``size`` x ``size`` list of numbers as a float32 tensor; ConfigError otherwise."""
    names = ", ".join(NAMED_KERNELS)
    if isinstance(spec, str):
        if spec not in NAMED_KERNELS:
            raise ConfigError(f"{key}={spec!r} is not a known kernel; choose one of {names}, or give a 3x3 list")
        spec = NAMED_KERNELS[spec]
    rows = _as_rows(spec)
    ok = rows is not None and len(rows) == size and all(len(r) == size for r in rows)
    if not ok or not all(_is_number(v) for r in rows for v in r):
        raise ConfigError(
            f"{key}={_show(spec)} is not a {size}x{size} list of numbers (model.kernel_size={size}); "
            f"give e.g. [[0,1,0],[1,-4,1],[0,1,0]] or one of {names}"
        )
    kernel = torch.tensor(rows, dtype=torch.float64)
    if not torch.isfinite(kernel).all():
        raise ConfigError(f"{key}={_show(spec)} has a value that is not finite")
    return kernel.float()


def kernel_label(spec: Any) -> str:
    """A short name for a kernel spec: its name, or the list written out."""
    return spec if isinstance(spec, str) else _show(spec)


def cross_correlate(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """'valid' cross-correlation of an H x W (or N x 1 x H x W) image: what ``nn.Conv2d`` computes."""
    x = image if image.dim() == 4 else image.reshape(1, 1, *image.shape[-2:])
    out = F.conv2d(x, kernel.to(x.dtype).reshape(1, 1, *kernel.shape[-2:]))
    return out if image.dim() == 4 else out.reshape(out.shape[-2:])


def convolve(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """'valid' true convolution: cross-correlation with the kernel flipped in both axes."""
    return cross_correlate(image, flip_kernel(kernel))


def flip_kernel(kernel: torch.Tensor) -> torch.Tensor:
    return kernel.flip(-2, -1)


def mean_blur(size: int) -> torch.Tensor:
    """``size`` x ``size`` box filter, every weight 1 / size²."""
    return torch.full((size, size), 1.0 / size**2)


def random_kernel(size: int, seed: int = 0) -> torch.Tensor:
    """A ``size`` x ``size`` kernel of standard-normal weights, reproducible from ``seed``."""
    return torch.randn(size, size, generator=torch.Generator().manual_seed(seed))


def minmax_uint8(values: torch.Tensor | np.ndarray) -> np.ndarray:
    """Map to 0-255 by min-max: subtract the minimum, divide by the range, times 255 (a flat image gives 0)."""
    a = values.detach().cpu().double().numpy() if isinstance(values, torch.Tensor) else np.asarray(values, float)
    span = a.max() - a.min()
    scaled = (a - a.min()) / span if span > 0 else np.zeros_like(a)
    return np.round(scaled * 255).astype(np.uint8)


def _as_rows(spec: Any) -> list[list[Any]] | None:
    if isinstance(spec, (str, bytes)) or not isinstance(spec, Sequence):
        return None
    rows = []
    for row in spec:
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence):
            return None
        rows.append(list(row))
    return rows


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _show(spec: Any) -> str:
    rows = _as_rows(spec)
    if rows is None:
        return repr(spec)
    return "[" + ",".join("[" + ",".join(f"{v:g}" if _is_number(v) else repr(v) for v in r) + "]" for r in rows) + "]"
