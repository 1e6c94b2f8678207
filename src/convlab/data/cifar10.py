"""CIFAR-10 from its python batches (``cifar-10-batches-py``), decoded in memory into uint8 N x 3 x 32 x 32.

The folder is looked for as MNIST's files are: under ``data_dir`` (where torchvision downloads it), in
``data_dir`` itself, then in each of ``search_dirs`` as given and with ``cifar-10-batches-py`` under it; when it
is missing and ``download`` is true, torchvision downloads it into ``data_dir``. The batches are pickles; they are
read with an unpickler that builds only the dicts, lists, bytes and numpy arrays the published layout holds, so a
foreign pickle cannot run code.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from convlab.data.mnist import download_or_explain
from convlab.data.shape import DataShape
from convlab.data.tensor_data import Split, TensorDataModule
from convlab.errors import DataError

FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
IMAGE_BYTES = 3 * 32 * 32
# batches.meta's b"label_names", as published: what shape() answers without reading (or downloading) any file
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("copyreg", "_reconstructor"),
    ("builtins", "object"),
    ("_codecs", "encode"),  # bytes in a protocol-2 pickle written by Python 3
}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> type:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a CIFAR-10 batch")
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            data = _BatchUnpickler(f, encoding="bytes").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError) as e:
        reason = " ".join(str(e).split())[:160] or type(e).__name__
        raise DataError(f"{path}: not a CIFAR-10 python batch ({reason})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: not a CIFAR-10 python batch (a {type(data).__name__}, not a dict)")
    return data


def read_cifar_batch(path: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 N x 3 x 32 x 32, int64 N) of one batch file: b"data" is N x 3072 (the red, green, blue planes of
    each image, row by row), b"labels" N class numbers."""
    path = Path(path)
    batch = _unpickle(path)
    data, labels = batch.get(b"data"), batch.get(b"labels")
    if data is None or labels is None:
        raise DataError(f"{path}: not a CIFAR-10 python batch (no b'data' or b'labels')")
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != IMAGE_BYTES:
        raise DataError(f"{path}: b'data' is {data.dtype} {list(data.shape)}; CIFAR-10's is uint8 N x {IMAGE_BYTES}")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (len(data),):
        raise DataError(f"{path}: {labels.size} labels for {len(data)} images")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{path}: labels outside 0-9 (CIFAR-10 has 10 classes)")
    images = torch.from_numpy(data.reshape(-1, 3, 32, 32).copy())
    return images, torch.from_numpy(labels)


def read_label_names(path: str | Path) -> list[str]:
    """The ten class names of ``batches.meta`` (b"label_names")."""
    names = _unpickle(Path(path)).get(b"label_names")
    if not isinstance(names, list) or len(names) != 10:
        raise DataError(f"{path}: no list of 10 b'label_names'")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


class Cifar10DataModule(TensorDataModule):
    """The official split: the five training batches (50,000 images) are the pool, validation carved from it;
    test_batch (10,000) the test set."""

    def __init__(
        self, data_dir: str = "data", download: bool = True, search_dirs: Sequence[str] = (), **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.data_dir = Path(data_dir)
        self.download = download
        self.search_dirs = [Path(d) for d in search_dirs]

    def prepare_data(self) -> None:
        self.find_folder()

    def shape(self) -> DataShape:
        """Known without reading the files: 32x32 RGB photos of the ten published classes."""
        return DataShape(3, 32, 32, CLASS_NAMES)

    def load(self) -> tuple[Split, Split, list[str]]:
        folder = self.find_folder()
        train = [read_cifar_batch(folder / name) for name in TRAIN_BATCHES]
        test = read_cifar_batch(folder / TEST_BATCH)
        pool = Split(torch.cat([t[0] for t in train]), torch.cat([t[1] for t in train]))
        return pool, Split(*test), read_label_names(folder / META)

    def folders(self) -> list[Path]:
        """Where ``cifar-10-batches-py`` is looked for, in order."""
        folders = [self.data_dir / FOLDER, self.data_dir]
        for folder in self.search_dirs:
            folders += [folder, folder / FOLDER]
        return list(dict.fromkeys(folders))

    def _complete(self, folder: Path) -> bool:
        return all((folder / name).is_file() for name in (*TRAIN_BATCHES, TEST_BATCH, META))

    def find_folder(self) -> Path:
        found = next((f for f in self.folders() if self._complete(f)), None)
        if found is None and self.download:
            self._download()
            found = next((f for f in self.folders() if self._complete(f)), None)
        if found is None:
            names = ", ".join((*TRAIN_BATCHES, TEST_BATCH, META))
            raise DataError(
                f"CIFAR-10: {FOLDER} ({names}) not found; searched {', '.join(str(f) for f in self.folders())}. "
                f"Name the folder that holds {FOLDER} with dataset.search_dirs=[<dir>], or run online with "
                "dataset.download=true"
            )
        return found

    def _download(self) -> None:
        from torchvision import datasets

        download_or_explain(
            lambda: datasets.CIFAR10(str(self.data_dir), train=True, download=True),
            lambda reason: (
                f"CIFAR-10: download failed ({reason}); offline, put {FOLDER} into {self.data_dir} or "
                "name its folder with dataset.search_dirs=[<dir>]"
            ),
        )
