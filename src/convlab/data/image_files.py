"""A labelled image folder in torchvision's ImageFolder layout: the scan, one image's header, one image's decode.

Two layouts: ``<root>/train/<class>/*`` and ``<root>/test/<class>/*`` (and an optional ``<root>/val/<class>/*``),
or one folder of classes ``<root>/<class>/*`` that the data module splits itself. Class names are the class
folders' names, sorted (as torchvision numbers them); files are found recursively under a class folder, in sorted
order, with torchvision's image extensions. Every image decodes to uint8 C x H x W: palette, RGBA, CMYK and
16-bit images are converted (16-bit by scaling, not clipping), so a folder of mixed PNG modes reads as one tensor.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convlab.errors import DataError

# torchvision.datasets.folder.IMG_EXTENSIONS
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
SPLIT_FOLDERS = ("train", "val", "test")
LAYOUT_HINT = "expected <root>/<class>/<image>, or <root>/train/<class>/<image> and <root>/test/<class>/<image>"
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F", "La"})


@dataclass(frozen=True)
class ImageFile:
    """One image: its path relative to the root (the cache key uses it), its size and mtime, its class number."""

    relative: str
    size: int
    mtime_ns: int
    label: int


@dataclass(frozen=True)
class FolderScan:
    """The images of a folder by split (``train``, ``test``, optional ``val``; or ``all`` for one folder of
    classes) and the class names, numbered in sorted order."""

    root: Path
    class_names: tuple[str, ...]
    splits: dict[str, tuple[ImageFile, ...]]

    @property
    def presplit(self) -> bool:
        return "all" not in self.splits

    def files(self) -> tuple[ImageFile, ...]:
        """Every image, split after split (train, val, test or all): the order of the decoded tensor."""
        return tuple(f for split in self.splits.values() for f in split)

    def path(self, image: ImageFile) -> Path:
        return self.root / image.relative


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _class_files(root: Path, folder: Path, label: int) -> list[ImageFile]:
    """Every image under ``folder`` (recursively, following links as torchvision does): a folder's files in sorted
    order, then its subfolders' (os.walk's order). os.scandir, not pathlib: a 70,000-file scan in a fraction of
    the time, so a run whose decode is cached starts fast."""
    found: list[ImageFile] = []
    skip = len(str(root)) + 1  # the relative name: the path past "<root>/"

    def walk(directory: str) -> None:
        with os.scandir(directory) as listing:
            entries = sorted((e for e in listing if not e.name.startswith(".")), key=lambda e: e.name)
        for entry in entries:
            if entry.name.lower().endswith(IMAGE_EXTENSIONS) and entry.is_file():
                stat = entry.stat()
                found.append(ImageFile(entry.path[skip:].replace(os.sep, "/"), stat.st_size, stat.st_mtime_ns, label))
        for entry in entries:
            if entry.is_dir():
                walk(entry.path)

    walk(str(folder))
    if not found:
        raise DataError(f"{folder}: an empty class, no image files ({' '.join(IMAGE_EXTENSIONS)}) in it")
    return found


def _split_files(root: Path, folder: Path, class_names: tuple[str, ...]) -> tuple[ImageFile, ...]:
    classes = [d.name for d in _visible_dirs(folder)]
    unknown = [c for c in classes if c not in class_names]
    if unknown:
        raise DataError(f"{folder / unknown[0]}: a class the training folder {root / 'train'} does not have")
    number = {name: i for i, name in enumerate(class_names)}
    return tuple(f for c in classes for f in _class_files(root, folder / c, number[c]))


def scan_folder(root: str | Path) -> FolderScan:
    """The images and classes of ``root``; DataError (one line) for a missing root, no class folders, an empty
    class, or a test/val class the training folder lacks."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"dataset.root={root}: no such folder ({LAYOUT_HINT})")
    if (root / "train").is_dir():
        if not (root / "test").is_dir():
            raise DataError(f"dataset.root={root}: a train/ folder but no test/ folder ({LAYOUT_HINT})")
        class_names = tuple(d.name for d in _visible_dirs(root / "train"))
        if not class_names:
            raise DataError(f"dataset.root={root}: no class folders in {root / 'train'} ({LAYOUT_HINT})")
        splits = {s: _split_files(root, root / s, class_names) for s in SPLIT_FOLDERS if (root / s).is_dir()}
        return FolderScan(root, class_names, splits)
    class_names = tuple(d.name for d in _visible_dirs(root))
    if not class_names:
        raise DataError(f"dataset.root={root}: no class folders ({LAYOUT_HINT})")
    return FolderScan(root, class_names, {"all": _split_files(root, root, class_names)})


def _open(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(path)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable image ({_reason(e)})") from None


def _reason(e: Exception) -> str:
    return " ".join(str(e).split())[:160] or type(e).__name__


def read_header(path: str | Path) -> tuple[int, int, int]:
    """(channels, height, width) of one image from its header only (PIL decodes no pixels until asked):
    3 for a colour image (RGB, palette, CMYK, ...), 1 for grayscale (8/16-bit, with or without alpha)."""
    with _open(Path(path)) as image:
        width, height = image.size
        return image_channels(image.mode), height, width


def image_channels(mode: str) -> int:
    """1 for a grayscale mode, 3 for colour. A palette image counts as colour (its palette may be)."""
    return 1 if mode in GRAY_MODES else 3


def _to_8bit(image):
    """A 16/32-bit or float grayscale image as mode L, scaled from its full range (65535 -> 255), not clipped."""
    from PIL import Image

    pixels = np.asarray(image)
    if image.mode == "F":
        scaled = np.clip(pixels, 0.0, 255.0)
    else:
        top = 65535 if pixels.max(initial=0) > 255 or image.mode.startswith("I;16") else 255
        scaled = np.clip(pixels.astype(np.float64) * (255.0 / top), 0, 255)
    return Image.fromarray(np.rint(scaled).astype(np.uint8), mode="L")


def decode_image(path: str | Path, channels: int | None = None, size: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 C x H x W of one image file: converted to ``channels`` (None: 1 for grayscale, 3 for colour) and
    resized bilinearly to ``size`` = (height, width) (None: its own size). DataError naming the file if it
    cannot be decoded."""
    from PIL import Image

    path = Path(path)
    with _open(path) as image:
        try:
            image.load()
            if image.mode in ("I", "F") or image.mode.startswith("I;16"):
                image = _to_8bit(image)
            wanted = channels or image_channels(image.mode)
            mode = "L" if wanted == 1 else "RGB"
            if image.mode != mode:  # an 8-bit grayscale or RGB file is used as decoded, without a copy
                image = image.convert(mode)
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
        except (OSError, ValueError, SyntaxError) as e:  # truncated or corrupt data past the header
            raise DataError(f"{path}: not a readable image ({_reason(e)})") from None
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
