"""Tiny real image folders for tests: 32x32 patches cut from scikit-image's bundled colour photos, one class per
photo, written as PNG in several modes (RGB, palette, RGBA, 16-bit grayscale) so the conversions are exercised."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

PHOTOS = ("astronaut", "coffee", "chelsea")


def patches(photo: str, count: int, size: int = 32) -> list[np.ndarray]:
    """``count`` size x size RGB patches of a bundled photo, from a fixed grid of places."""
    from skimage import data

    image = getattr(data, photo)()
    h, w = image.shape[:2]
    step_y, step_x = (h - size) // count, (w - size) // count
    return [image[i * step_y : i * step_y + size, i * step_x : i * step_x + size] for i in range(count)]


def save_png(pixels: np.ndarray, path: Path, mode: str = "RGB") -> Path:
    """``pixels`` (H x W x 3 uint8) as a PNG of ``mode``: RGB, P (palette), RGBA, or I;16 (16-bit grayscale)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels, mode="RGB")
    if mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    elif mode == "RGBA":
        image = image.convert("RGBA")
    elif mode == "I;16":
        gray = np.asarray(image.convert("L"), dtype=np.uint16) * 257  # the full 16-bit range
        image = Image.fromarray(gray)  # uint16 -> mode I;16
    image.save(path)
    return path


MODES = ("RGB", "P", "RGBA", "I;16")


def write_class_folder(root: Path, per_class: int, classes: tuple[str, ...] = PHOTOS, size: int = 32) -> Path:
    """``<root>/<photo>/<i>.png``: ``per_class`` patches of each photo, cycling through the PNG modes."""
    for photo in classes:
        for i, pixels in enumerate(patches(photo, per_class, size)):
            save_png(pixels, root / photo / f"{i:03d}.png", MODES[i % len(MODES)])
    return root


def write_split_folder(root: Path, train: int, test: int, val: int = 0) -> Path:
    """``<root>/{train,test[,val]}/<photo>/<i>.png`` from distinct patches of each photo."""
    for photo in PHOTOS:
        cut = patches(photo, train + test + val)
        for split, part in (("train", cut[:train]), ("test", cut[train : train + test]), ("val", cut[train + test :])):
            for i, pixels in enumerate(part):
                save_png(pixels, root / split / photo / f"{i:03d}.png", MODES[i % len(MODES)])
    return root


def write_cifar_batches(folder: Path, per_batch: int = 20, seed: int = 0) -> Path:
    """A ``cifar-10-batches-py`` folder in the published pickle layout: five training batches and a test batch of
    ``per_batch`` images each (b"data" uint8 N x 3072, b"labels" a list), and batches.meta with the 10 names."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = [int(i % 10) for i in range(per_batch)]
        batch = {b"batch_label": name.encode(), b"labels": labels, b"data": data, b"filenames": [b"x.png"] * per_batch}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    label_names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    meta = {b"num_cases_per_batch": per_batch, b"label_names": label_names, b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder
