"""Property tests: random and corrupted IDX, CSV and results.json bytes end in a valid dataset (or record) or in
one clear error naming the file, never in an unhandled exception."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from helpers import fake_mnist, idx_bytes, write_digit_csv, write_idx_files
from hypothesis import given, settings
from hypothesis import strategies as st

from convlab.data import MnistDataModule, read_digit_csv, read_idx
from convlab.errors import ConvlabError, DataError
from convlab.runfiles.results import read_results

FUZZ = settings(max_examples=150, deadline=None)


@contextmanager
def file_with(data: bytes, name: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        yield path


@st.composite
def corrupted(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` cut short, with bytes flipped, inserted or appended: the damage real files suffer."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "append", "delete"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "truncate":
            del data[at:]
        elif kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "append":
            data += draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
    return bytes(data)


# -- IDX ----------------------------------------------------------------------------------------------------
IMAGES = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)


def check_idx_outcome(data: bytes, ndim: int) -> None:
    with file_with(data, "train-images-idx3-ubyte") as path:
        try:
            tensor = read_idx(path, ndim)
        except DataError as e:
            assert str(path) in str(e) and "\n" not in str(e)
            return
    # Whatever was accepted is exactly what the header and body say.
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    assert tensor.dtype == torch.uint8 and list(tensor.shape) == dims
    assert tensor.flatten().tolist() == list(data[4 + 4 * ndim :])


@FUZZ
@given(data=st.binary(max_size=200), ndim=st.integers(1, 3))
def test_random_bytes_as_idx(data: bytes, ndim: int) -> None:
    check_idx_outcome(data, ndim)


@FUZZ
@given(data=corrupted(idx_bytes(IMAGES)), ndim=st.integers(1, 3))
def test_corrupted_idx_files(data: bytes, ndim: int) -> None:
    check_idx_outcome(data, ndim)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(fake_mnist(50, 10))))
def test_mnist_module_with_one_corrupted_file(data: st.DataObject, name: str) -> None:
    arrays = fake_mnist(50, 10)
    with tempfile.TemporaryDirectory() as folder:
        raw = write_idx_files(Path(folder) / "MNIST" / "raw", arrays, gz=False)
        (raw / name).write_bytes(data.draw(corrupted(idx_bytes(arrays[name])), label="file"))
        module = MnistDataModule(data_dir=folder, download=False, val_fraction=0.2)
        try:
            module.setup()
        except DataError as e:
            assert "\n" not in str(e)
            return
    # accepted: a consistent dataset (counts match, labels are classes, images are 28 x 28)
    for split in (module.train, module.val, module.test):
        assert len(split.images) == len(split.labels) and split.images.shape[1:] == (1, 28, 28)
        assert all(0 <= y <= 9 for y in split.labels.tolist())


# -- CSV ----------------------------------------------------------------------------------------------------
def _valid_csv() -> bytes:
    arrays = fake_mnist(6, 0)
    with tempfile.TemporaryDirectory() as folder:
        path = write_digit_csv(
            Path(folder) / "train.csv", arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"]
        )
        return path.read_bytes()


VALID_CSV = _valid_csv()


def check_csv_outcome(data: bytes) -> None:
    with file_with(data, "train.csv") as path:
        try:
            split = read_digit_csv(path)
        except DataError as e:
            assert str(path) in str(e) and "\n" not in str(e)
            return
    rows = [line for line in data.decode().splitlines()[1:] if line.strip()]
    assert split.images.dtype == torch.uint8 and split.images.shape == (len(rows), 1, 28, 28)
    assert split.labels.tolist() == [int(row.split(",")[0]) for row in rows]
    assert all(0 <= y <= 9 for y in split.labels.tolist())


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes_as_csv(data: bytes) -> None:
    check_csv_outcome(data)


@FUZZ
@given(text=st.text(alphabet="0123456789,-+. e#\n\r\tx", max_size=300))
def test_random_numeric_text_after_a_valid_header(text: str) -> None:
    check_csv_outcome(VALID_CSV.split(b"\n", 1)[0] + b"\n" + text.encode())


@FUZZ
@given(data=corrupted(VALID_CSV))
def test_corrupted_csv_files(data: bytes) -> None:
    check_csv_outcome(data)


# -- results.json ---------------------------------------------------------------------------------------------
RESULTS = json.dumps(
    {
        "status": "ok",
        "dataset": "digits",
        "model": "lenet",
        "optim": "rmsprop",
        "loss": "ce",
        "overrides": ["model=lenet"],
        "test": {"acc": 0.98, "f1_macro": 0.98, "loss": 0.1, "confusion_matrix": [[1, 0], [0, 1]]},
    },
    indent=2,
).encode()


@FUZZ
@given(data=corrupted(RESULTS) | st.binary(max_size=100))
def test_truncated_or_corrupted_results_json(data: bytes) -> None:
    with file_with(data, "results.json") as path:
        try:
            record = read_results(path)
        except ConvlabError as e:
            assert str(path) in str(e) and "\n" not in str(e)
            return
    assert record["status"] in ("ok", "diverged", "failed") and isinstance(record["overrides"], list)
    if record["status"] == "ok":
        assert isinstance(record["test"], dict)


def test_results_cut_at_every_byte_are_refused() -> None:
    """The case atomic writes exist for: a half-written results.json is never read as valid."""
    with file_with(RESULTS, "results.json") as path:
        for cut in range(len(RESULTS)):
            path.write_bytes(RESULTS[:cut])
            try:
                read_results(path)
            except ConvlabError:
                continue
            raise AssertionError(f"a results.json cut at byte {cut} was read as valid")
