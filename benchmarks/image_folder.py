"""dataset=image_folder against dataset=fashion_mnist and torchvision's ImageFolder, on Fashion-MNIST written as PNGs.

Three figures (issue 27, "Targets"):
  (a) LeNet training samples/s through ``train()`` with dataset=image_folder (cached in memory) over
      dataset=fashion_mnist, same model, batch and threads, interleaved repetitions: target >= 0.95x;
  (b) the first decode of the folder (scan, decode in workers, statistics, cache write) over one pass of
      torchvision's ImageFolder + DataLoader over the same 70,000 files with the same workers: target <= 1.0x time;
  (c) one epoch of the streaming path (batches decoded by the workers, normalised) over one epoch of ImageFolder +
      DataLoader (ToTensor + Normalize, shuffled, same batch and workers): target >= 1.0x samples/s.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.engine import Bench
from convlab.data.idx import read_idx
from convlab.data.image_folder import ImageFolderDataModule

FASHION_CLASSES = (
    "T-shirt_top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle_boot",
)


def _idx(folder: Path, name: str) -> np.ndarray:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return read_idx(candidate, ndim=3 if "images" in name else 1).numpy()
    raise FileNotFoundError(f"{name}(.gz) not in {folder}")


def write_fashion_pngs(idx_dir: str | Path, root: str | Path) -> Path:
    """Fashion-MNIST's IDX files as ``<root>/{train,test}/<class>/<i>.png`` (8-bit grayscale PNGs), written once:
    a ``.complete`` marker makes a second call a no-op."""
    root, idx_dir = Path(root), Path(idx_dir)
    if (root / ".complete").is_file():
        return root
    from PIL import Image

    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = _idx(idx_dir, f"{prefix}-images-idx3-ubyte"), _idx(idx_dir, f"{prefix}-labels-idx1-ubyte")
        for name in FASHION_CLASSES:
            (root / split / name).mkdir(parents=True, exist_ok=True)
        for i, (pixels, label) in enumerate(zip(images, labels, strict=True)):
            Image.fromarray(pixels, mode="L").save(root / split / FASHION_CLASSES[label] / f"{i:05d}.png")
    (root / ".complete").write_text("")
    return root


def train_rates(
    root: Path, data_dir: Path, threads: int, batch_size: int, steps: int, repetitions: int, log: Callable[[str], None]
) -> dict[str, Any]:
    """(a): LeNet samples/s of train() on dataset=fashion_mnist and dataset=image_folder, interleaved; the image
    folder's cache is filled first, so every measured run loads it (as a second run does)."""
    with tempfile.TemporaryDirectory(prefix="convlab-bench-if-") as tmp:
        # each its own folder: a Bench numbers its runs' directories from 1
        where = [f"dataset.root={root}", f"paths.data_dir={data_dir}"]
        folder = Bench("image_folder", Path(tmp) / "if", threads, where)
        fashion = Bench("fashion_mnist", Path(tmp) / "fm", threads, [f"paths.data_dir={data_dir}"])
        with contextlib.redirect_stdout(io.StringIO()):
            folder.convlab("lenet", batch_size, 2)  # fills the disk cache
        rates: dict[str, list[float]] = {"fashion_mnist": [], "image_folder": []}
        for rep in range(repetitions):
            for name, bench in (("fashion_mnist", fashion), ("image_folder", folder)):
                rates[name].append(bench.convlab("lenet", batch_size, steps))
                log(f"(a) rep {rep + 1}/{repetitions} {name:13s} {rates[name][-1]:9.0f} samples/s")
    medians = {name: statistics.median(values) for name, values in rates.items()}
    return {**medians, "runs": rates, "ratio": medians["image_folder"] / medians["fashion_mnist"]}


def _torchvision_folder(root: Path, normalize: bool) -> torch.utils.data.Dataset:
    from torchvision import datasets, transforms

    steps = [transforms.Grayscale(1), transforms.ToTensor()]  # torchvision's loader opens every image as RGB
    if normalize:
        steps.append(transforms.Normalize((0.2860,), (0.3530,)))
    return datasets.ImageFolder(str(root), transform=transforms.Compose(steps))


def _one_pass(loader: torch.utils.data.DataLoader, limit: int | None = None) -> tuple[int, float]:
    count, start = 0, time.perf_counter()
    for images, _ in loader:
        count += len(images)
        if limit is not None and count >= limit:
            break
    return count, time.perf_counter() - start


def first_decode(root: Path, workers: int, batch_size: int, log: Callable[[str], None]) -> dict[str, Any]:
    """(b): a fresh ImageFolderDataModule's prepare_data + setup (no disk cache) against one pass of ImageFolder +
    DataLoader over train/ and test/ (70,000 files), the same worker count; and a second module's start, which
    loads the disk cache the first wrote."""
    from torch.utils.data import ConcatDataset, DataLoader

    with tempfile.TemporaryDirectory(prefix="convlab-bench-cache-") as cache:
        starts = []
        for _ in ("first", "second"):  # the second start loads the disk cache the first one wrote
            dm = ImageFolderDataModule(root=str(root), data_dir=cache, num_workers=workers)
            start = time.perf_counter()
            dm.prepare_data()
            dm.setup("fit")
            starts.append(time.perf_counter() - start)
    ours, second = starts
    log(f"(b) convlab first decode: {ours:.1f} s; second start (disk cache): {second:.1f} s")
    both = ConcatDataset([_torchvision_folder(root / "train", False), _torchvision_folder(root / "test", False)])
    count, theirs = _one_pass(DataLoader(both, batch_size=batch_size, num_workers=workers))
    log(f"(b) torchvision ImageFolder + DataLoader one pass: {theirs:.1f} s ({count} images)")
    return {
        "convlab_s": ours,
        "second_start_s": second,
        "torchvision_s": theirs,
        "images": count,
        "ratio": ours / theirs,
    }


def streaming(root: Path, workers: int, batch_size: int, log: Callable[[str], None]) -> dict[str, Any]:
    """(c): one epoch of the streaming path's training loader (normalised batches) against one epoch of
    ImageFolder + DataLoader (ToTensor + Normalize, shuffled) over train/: samples/s. The streaming set-up (header
    scan and statistics, once per folder, then cached) is timed apart."""
    from torch.utils.data import DataLoader

    with tempfile.TemporaryDirectory(prefix="convlab-bench-stream-") as cache:
        dm = ImageFolderDataModule(
            root=str(root), data_dir=cache, num_workers=workers, batch_size=batch_size, max_memory_gb=1e-6
        )
        start = time.perf_counter()
        dm.setup("fit")
        setup_s = time.perf_counter() - start
        loader = dm.train_dataloader()
        count, start = 0, time.perf_counter()
        for images, _ in loader:
            count += len(dm.normalize(images))
        ours = count / (time.perf_counter() - start)
    log(f"(c) convlab streaming: {ours:.0f} samples/s over {count} (set-up {setup_s:.1f} s, once per folder)")
    theirs_loader = DataLoader(
        _torchvision_folder(root / "train", True), batch_size=batch_size, shuffle=True, num_workers=workers
    )
    n, seconds = _one_pass(theirs_loader, limit=count)
    theirs = n / seconds
    log(f"(c) torchvision ImageFolder + DataLoader: {theirs:.0f} samples/s over {n}")
    return {
        "convlab_samples_per_s": ours,
        "torchvision_samples_per_s": theirs,
        "setup_s": setup_s,
        "ratio": ours / theirs,
    }
