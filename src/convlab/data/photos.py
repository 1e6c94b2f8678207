"""Photos as grayscale float tensors in [0, 1]: scikit-image's bundled ones by name, or any image file.

Kept free of Lightning so small tools (scripts/filters.py) start quickly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from convlab.errors import ConfigError, DataError

# scikit-image's photos that ship inside the package (no download needed); ``cat`` is chelsea.
BUNDLED_IMAGES = (
    "astronaut",
    "brick",
    "camera",
    "cat",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "moon",
    "page",
    "rocket",
    "text",
)


def check_image_spec(spec: Any, key: str = "dataset.image") -> None:
    """A bundled photo's name or an existing file; ConfigError otherwise (nothing is decoded here)."""
    if spec is None or str(spec) in BUNDLED_IMAGES or Path(str(spec)).is_file():
        return
    raise ConfigError(
        f"{key}={spec}: no such file, and not one of scikit-image's bundled photos ({', '.join(BUNDLED_IMAGES)})"
    )


def load_grayscale(spec: str, key: str = "dataset.image") -> torch.Tensor:
    """A bundled photo or an image file as a float32 H x W tensor in [0, 1] (colour becomes luminance)."""
    from skimage import color, util  # imported here: scikit-image is slow to import

    pixels = _pixels(spec, key)
    if pixels.ndim == 3 and pixels.shape[-1] == 4:  # RGBA: drop alpha
        pixels = pixels[..., :3]
    if pixels.ndim == 3 and pixels.shape[-1] == 3:
        gray = color.rgb2gray(pixels)
    elif pixels.ndim == 2:
        gray = util.img_as_float(pixels)
    else:
        raise DataError(f"{key}={spec}: expected a grayscale or RGB(A) image, got an array of shape {pixels.shape}")
    gray = np.asarray(gray, dtype=np.float64)
    if not np.isfinite(gray).all():
        raise DataError(f"{key}={spec}: the image has values that are not finite")
    if gray.min() < 0 or gray.max() > 1:  # float files carry no range convention: rescale to [0, 1]
        span = gray.max() - gray.min()
        gray = (gray - gray.min()) / span if span > 0 else np.zeros_like(gray)
    return torch.from_numpy(gray).float()


def load_photo(spec: str, key: str = "dataset.image", channels: int = 1) -> torch.Tensor:
    """A photo as a float32 C x H x W tensor in [0, 1]: luminance for one channel, colour for three (a grayscale
    photo repeated in each)."""
    if channels == 1:
        return load_grayscale(spec, key).unsqueeze(0)
    from skimage import util

    pixels = _pixels(spec, key)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=-1)
    if pixels.ndim != 3 or pixels.shape[-1] not in (3, 4):
        raise DataError(f"{key}={spec}: expected a grayscale or RGB(A) image, got an array of shape {pixels.shape}")
    rgb = np.clip(util.img_as_float(pixels[..., :3]), 0, 1)
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).float()


def _pixels(spec: str, key: str) -> np.ndarray:
    """The photo's pixels as stored (H x W, or H x W x 3/4): a bundled photo by name, else an image file."""
    check_image_spec(spec, key)
    if str(spec) in BUNDLED_IMAGES:
        import skimage.data

        return getattr(skimage.data, str(spec))()
    return _read_image_file(Path(str(spec)), key)


def _read_image_file(path: Path, key: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
                image = image.convert("RGB")
            elif image.mode == "LA":
                image = image.convert("L")
            return np.asarray(image)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"{key}={path}: cannot be read as an image ({reason})") from None
