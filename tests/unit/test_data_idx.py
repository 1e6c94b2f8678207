"""IDX files (raw and .gz, good and corrupt) and the MNIST/Fashion-MNIST data modules on generated files."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import fake_mnist, idx_bytes, write_idx_files
from torchvision import datasets

from convlab.data import FashionMnistDataModule, MnistDataModule, check_idx, read_idx
from convlab.data.idx import gunzip
from convlab.errors import DataError


def test_read_idx_round_trips_generated_files(tmp_path: Path) -> None:
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "x").write_bytes(idx_bytes(images))
    assert check_idx(tmp_path / "x", ndim=3) == (2, 3, 4)
    assert torch.equal(read_idx(tmp_path / "x", ndim=3), torch.from_numpy(images))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b"\x00\x00\x0d\x03" + b[4:], "wrong magic number 0x00000d03"),
        (lambda b: b"\x00\x00\x08\x01" + b[4:], "wrong magic number"),
        (lambda b: b[:-5], "wrong length.*truncated"),
        (lambda b: b + b"\x00", "wrong length"),
        (lambda b: b[:2], "not an IDX file"),
        (lambda b: b[:9], "truncated header"),
    ],
    ids=["float-type", "wrong-ndim", "truncated", "trailing-bytes", "two-bytes", "short-header"],
)
def test_corrupt_idx_names_the_file_and_problem(tmp_path: Path, mutate, message: str) -> None:
    good = idx_bytes(np.zeros((2, 28, 28), dtype=np.uint8))
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(mutate(good))
    with pytest.raises(DataError, match=message) as err:
        read_idx(path, ndim=3)
    assert str(path) in str(err.value)


def test_gunzip_of_a_corrupt_archive_names_it(tmp_path: Path) -> None:
    bad = tmp_path / "train-images-idx3-ubyte.gz"
    bad.write_bytes(gzip.compress(np.random.default_rng(0).bytes(5000))[:2000])
    with pytest.raises(DataError, match="not a valid gzip file"):
        gunzip(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_mnist_module_reads_files_from_the_data_dir(tmp_path: Path, gz: bool) -> None:
    arrays = fake_mnist(n_train=100, n_test=30)
    write_idx_files(tmp_path, arrays, gz=gz)  # beside, not in torchvision's raw/ layout
    dm = MnistDataModule(data_dir=str(tmp_path), download=False, val_fraction=0.2)
    dm.setup()
    assert (len(dm.train), len(dm.val), len(dm.test)) == (80, 20, 30)
    assert dm.class_names == [str(d) for d in range(10)]
    # The official test split is exactly the t10k files: never mixed into training.
    assert torch.equal(dm.test.images, torch.from_numpy(arrays["t10k-images-idx3-ubyte"]).unsqueeze(1))  # N x 1 x H x W
    assert not (tmp_path / "MNIST").exists()  # read where they lie: nothing copied or decompressed


def test_fashion_module_finds_files_in_search_dirs_with_class_names(tmp_path: Path) -> None:
    debian = write_idx_files(tmp_path / "debian", fake_mnist(100, 20), gz=True)
    dm = FashionMnistDataModule(data_dir=str(tmp_path / "data"), download=False, search_dirs=[str(debian)])
    dm.setup()
    assert dm.class_names[0] == "T-shirt/top" and dm.class_names[-1] == "Ankle boot"
    assert len(dm.test) == 20


def test_missing_files_offline_name_the_directories_searched(tmp_path: Path) -> None:
    dm = MnistDataModule(data_dir=str(tmp_path), download=False)
    with pytest.raises(DataError) as err:
        dm.setup()
    text = str(err.value)
    assert str(tmp_path / "MNIST" / "raw") in text and "train-images-idx3-ubyte" in text
    assert "download" in text and "dataset.search_dirs" in text and "paths.data_dir" in text


def test_a_search_dir_in_torchvisions_layout_is_found(tmp_path: Path) -> None:
    """A folder a torchvision download left (<dir>/MNIST/raw/*.gz), named as dataset.search_dirs=[<dir>]."""
    write_idx_files(tmp_path / "elsewhere" / "MNIST" / "raw", fake_mnist(100, 20), gz=True)
    dm = MnistDataModule(data_dir=str(tmp_path / "data"), download=False, search_dirs=[str(tmp_path / "elsewhere")])
    dm.setup()
    assert len(dm.test) == 20
    assert not (tmp_path / "data").exists()  # found where it lies: nothing downloaded, nothing copied


def test_corrupt_mnist_file_is_named(tmp_path: Path) -> None:
    arrays = fake_mnist(50, 10)
    write_idx_files(tmp_path, arrays, gz=False)
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-3])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte: wrong length"):
        MnistDataModule(data_dir=str(tmp_path), download=False).setup()


def test_label_outside_0_9_is_named(tmp_path: Path) -> None:
    arrays = fake_mnist(50, 10)
    arrays["train-labels-idx1-ubyte"][7] = 12
    write_idx_files(tmp_path, arrays, gz=False)
    with pytest.raises(DataError, match="label 12 at index 7 is outside 0-9"):
        MnistDataModule(data_dir=str(tmp_path), download=False).setup()


@pytest.fixture
def http_mirror(tmp_path: Path):
    """A local HTTP server over a folder: stands in for the MNIST mirrors, through torchvision's real
    download code (urllib, md5 check, gunzip)."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_download_path_fetches_through_torchvision(tmp_path: Path, http_mirror, monkeypatch) -> None:
    folder, url = http_mirror
    mirror = write_idx_files(folder, fake_mnist(100, 10), gz=True)
    resources = [
        (f"{name}.gz", hashlib.md5((mirror / f"{name}.gz").read_bytes()).hexdigest())
        for name in (
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        )
    ]
    monkeypatch.setattr(datasets.MNIST, "mirrors", [url])
    monkeypatch.setattr(datasets.MNIST, "resources", resources)
    dm = MnistDataModule(data_dir=str(tmp_path / "data"), download=True)
    dm.setup()
    assert len(dm.test) == 10 and len(dm.train) + len(dm.val) == 100


def test_failed_download_says_where_to_put_the_files(tmp_path: Path, http_mirror, monkeypatch) -> None:
    _, url = http_mirror  # serves an empty folder: every file is a 404
    monkeypatch.setattr(datasets.MNIST, "mirrors", [url])
    search = tmp_path / "usb"
    with pytest.raises(DataError, match=r"download failed .*into .*MNIST/raw") as err:
        MnistDataModule(data_dir=str(tmp_path / "data"), download=True, search_dirs=[str(search)]).setup()
    # Offline with the default download=true: the answer names every folder searched and the two keys.
    text = str(err.value)
    assert "\n" not in text
    for searched in (tmp_path / "data" / "MNIST" / "raw", tmp_path / "data", search, search / "MNIST" / "raw"):
        assert f"{searched}," in f"{text}," or f"{searched}." in text, searched
    assert "dataset.search_dirs=[<dir>]" in text and "paths.data_dir=<dir>" in text
