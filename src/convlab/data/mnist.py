"""MNIST and Fashion-MNIST through torchvision's dataset classes, held in memory as uint8 tensors.

Files are looked for in torchvision's layout (``<data_dir>/<MNIST|FashionMNIST>/raw``), then as
.gz or plain files in ``data_dir`` itself and in ``search_dirs`` (Debian's dataset-fashion-mnist package
puts them in /usr/share/datasets/fashion-mnist), then downloaded if ``download`` is true.
Nothing falls back silently to other data: if no files are found, one DataError says where to put them.
"""

from __future__ import annotations

import re
import shutil
import socket
from collections.abc import Sequence
from pathlib import Path
from urllib.error import URLError

from torchvision import datasets

from convlab.data.idx import check_idx, gunzip
from convlab.data.tensor_data import Split, TensorDataModule
from convlab.errors import DataError

DOWNLOAD_TIMEOUT_S = 30


class MnistDataModule(TensorDataModule):
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
        self._ensure_files()

    def load(self) -> tuple[Split, Split, list[str]]:
        self._ensure_files()
        for name in self.file_names:
            check_idx(self.raw_dir / name, ndim=3 if "images" in name else 1)
        splits = []
        for train in (True, False):
            ds = self.dataset_class(str(self.data_dir), train=train, download=False)
            splits.append(Split(ds.data, ds.targets.long()))
        # torchvision names MNIST's classes "0 - zero", ...; Fashion-MNIST's have no " - ".
        names = [c.split(" - ")[0] for c in self.dataset_class.classes]
        return splits[0], splits[1], names

    def _ensure_files(self) -> None:
        missing = [n for n in self.file_names if not (self.raw_dir / n).is_file()]
        for name in missing:
            self._copy_from_elsewhere(name)
        missing = [n for n in self.file_names if not (self.raw_dir / n).is_file()]
        if missing and self.download:
            self._download()
            missing = [n for n in self.file_names if not (self.raw_dir / n).is_file()]
        if missing:
            where = ", ".join(str(d) for d in [self.raw_dir, self.data_dir, *self.search_dirs])
            raise DataError(
                f"{self.name}: {', '.join(missing)} not found (searched {where}); "
                f"download them (.gz is fine) into {self.raw_dir}, or run online with dataset.download=true"
            )

    def _copy_from_elsewhere(self, name: str) -> None:
        for folder in [self.raw_dir, self.data_dir, *self.search_dirs]:
            if folder != self.raw_dir and (folder / name).is_file():
                self.raw_dir.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(folder / name, self.raw_dir / name)
                return
            if (folder / f"{name}.gz").is_file():
                gunzip(folder / f"{name}.gz", self.raw_dir / name)
                return

    def _download(self) -> None:
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # torchvision's urlopen has no timeout: never hang offline
        try:
            self.dataset_class(str(self.data_dir), train=True, download=True)
        except (RuntimeError, URLError, OSError) as e:
            raise DataError(
                f"{self.name}: download failed ({_first_error(e)}); offline, put {', '.join(self.file_names)} "
                f"(.gz is fine) into {self.raw_dir}"
            ) from None
        finally:
            socket.setdefaulttimeout(previous)


def _first_error(e: Exception) -> str:
    """torchvision lists every mirror's error over many lines; the first one says enough."""
    text = " ".join(str(e).split())
    found = re.search(r"got: (.*?)(?: Tried |$)", text)
    return (found.group(1) if found else text)[:160]


class FashionMnistDataModule(MnistDataModule):
    dataset_class = datasets.FashionMNIST
