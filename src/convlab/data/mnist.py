"""MNIST and Fashion-MNIST in torchvision's file layout, decoded in memory into uint8 tensors.

Each file is looked for, plain or .gz, in torchvision's layout (``<data_dir>/<MNIST|FashionMNIST>/raw``),
then in ``data_dir`` itself and in each of ``search_dirs``, as given and in torchvision's layout under it
(Debian's dataset-fashion-mnist package puts them in /usr/share/datasets/fashion-mnist), and downloaded
through torchvision into the raw folder if ``download`` is true and a file is missing. Files found are only
read: a .gz is decompressed in memory, so a read-only or shared folder of archives is never written to.
Nothing falls back silently to other data: if a file is not found, one DataError names the folders searched
and the two keys that add one.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.error import URLError

import torch
from torchvision import datasets

from convlab.data.idx import read_idx
from convlab.data.shape import DataShape
from convlab.data.tensor_data import Split, TensorDataModule
from convlab.errors import DataError

DOWNLOAD_TIMEOUT_S = 30
IMAGE_SHAPE = (28, 28)


class MnistDataModule(TensorDataModule):
    """The official split: the 60,000 training images are the pool (validation carved from it), the
    10,000 t10k images the test set."""

    dataset_class: type[datasets.MNIST] = datasets.MNIST

    def __init__(
        self, data_dir: str = "data", download: bool = True, search_dirs: Sequence[str] = (), **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.data_dir = Path(data_dir)
        self.download = download
        self.search_dirs = [Path(d) for d in search_dirs]

    @property
    def name(self) -> str:
        return self.dataset_class.__name__

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / self.name / "raw"

    @property
    def file_names(self) -> list[str]:
        return [Path(url).name.removesuffix(".gz") for url, _ in self.dataset_class.resources]

    def prepare_data(self) -> None:
        self._find_files()

    def load(self) -> tuple[Split, Split, list[str]]:
        train, test = self.read_official_splits()
        return train, test, self.class_names_of_dataset()

    def read_official_splits(self) -> tuple[Split, Split]:
        """(the 60k training split, the 10k test split), decoded from the files found."""
        files = self._find_files()
        arrays = {}
        for name, path in files.items():
            arrays[name] = read_idx(path, ndim=3 if "images" in name else 1)
            if "images" in name and tuple(arrays[name].shape[1:]) != IMAGE_SHAPE:
                _, h, w = arrays[name].shape
                raise DataError(f"{path}: images are {h}x{w}; {self.name} images are 28x28")
        splits = []
        for prefix in ("train", "t10k"):
            images, labels = arrays[f"{prefix}-images-idx3-ubyte"], arrays[f"{prefix}-labels-idx1-ubyte"]
            if len(images) != len(labels):
                raise DataError(
                    f"{files[f'{prefix}-labels-idx1-ubyte']}: {len(labels)} labels for {len(images)} images "
                    f"in {files[f'{prefix}-images-idx3-ubyte']}"
                )
            splits.append(Split(images.unsqueeze(1), labels.to(torch.int64)))  # N x 1 x 28 x 28
        return splits[0], splits[1]

    def shape(self) -> DataShape:
        """Known without reading the files: 28x28 grayscale images of torchvision's classes."""
        return DataShape(1, *IMAGE_SHAPE, tuple(self.class_names_of_dataset()))

    def class_names_of_dataset(self) -> list[str]:
        # torchvision names MNIST's classes "0 - zero", ...; Fashion-MNIST's have no " - ".
        return [c.split(" - ")[0] for c in self.dataset_class.classes]

    def _find_files(self) -> dict[str, Path]:
        found = {name: self._locate(name) for name in self.file_names}
        if None in found.values() and self.download:
            self._download()
            found = {name: self._locate(name) for name in self.file_names}
        missing = [name for name, path in found.items() if path is None]
        if missing:
            raise DataError(
                f"{self.name}: {', '.join(missing)} not found; {self._where_to_put_them()}, "
                "or run online with dataset.download=true"
            )
        return found

    def _folders(self) -> list[Path]:
        """Where files are looked for, in order: torchvision's layout under data_dir, data_dir, then each search
        dir as given and in torchvision's layout under it (``<dir>/MNIST/raw``, as a torchvision download leaves it)."""
        folders = [self.raw_dir, self.data_dir]
        for folder in self.search_dirs:
            folders += [folder, folder / self.name / "raw"]
        return list(dict.fromkeys(folders))

    def _where_to_put_them(self) -> str:
        """The folders searched and the two keys that point the search at another folder: what an offline user needs."""
        return (
            f"searched {', '.join(str(d) for d in self._folders())}. Put the files (.gz is fine) into {self.raw_dir}, "
            "or name a folder that holds them with dataset.search_dirs=[<dir>] (the files in <dir> or "
            f"<dir>/{self.name}/raw) or paths.data_dir=<dir> (the files in <dir>/{self.name}/raw)"
        )

    def _locate(self, name: str) -> Path | None:
        """The first of ``name`` or ``name.gz`` in the folders searched, in order; plain first."""
        for folder in self._folders():
            for candidate in (folder / name, folder / f"{name}.gz"):
                if candidate.is_file():
                    return candidate
        return None

    def _download(self) -> None:
        download_or_explain(
            lambda: self.dataset_class(str(self.data_dir), train=True, download=True),
            lambda reason: (
                f"{self.name}: download failed ({reason}); offline, {', '.join(self.file_names)} are "
                f"needed: {self._where_to_put_them()}"
            ),
        )


def download_or_explain(download: Callable[[], object], explain: Callable[[str], str]) -> None:
    """A torchvision download with a socket timeout (its urlopen has none: never hang offline); a failure is one
    DataError line, ``explain(first error)``, saying where the files go instead."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        download()
    except (RuntimeError, URLError, OSError) as e:
        raise DataError(explain(_first_error(e))) from None
    finally:
        socket.setdefaulttimeout(previous)


def _first_error(e: Exception) -> str:
    """torchvision lists every mirror's error over many lines; the first one says enough."""
    text = " ".join(str(e).split())
    found = re.search(r"got: (.*?)(?: Tried |$)", text)
    return (found.group(1) if found else text)[:160]


class FashionMnistDataModule(MnistDataModule):
    dataset_class = datasets.FashionMNIST
