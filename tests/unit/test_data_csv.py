"""The digit-recognizer CSV reader and its 75/25 split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import write_digit_csv

from convlab.data import CsvDigitsDataModule, read_digit_csv
from convlab.errors import DataError


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(40, 28, 28))
    return write_digit_csv(tmp_path / "train.csv", images, np.arange(40) % 10)


def test_reads_labels_and_images(csv_file: Path) -> None:
    split = read_digit_csv(csv_file)
    assert split.images.shape == (40, 1, 28, 28) and split.images.dtype == torch.uint8
    assert split.labels.tolist()[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    first_row = csv_file.read_text().splitlines()[1].split(",")
    assert split.images[0].reshape(-1).tolist() == [int(v) for v in first_row[1:]]


def _rewrite(path: Path, row: int, col: int, value: str) -> None:
    lines = path.read_text().splitlines()
    cells = lines[row].split(",")
    cells[col] = value
    lines[row] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ((3, 10, "abc"), "could not convert string 'abc' to int64 on line 4, column 11"),
        ((2, 0, "11"), "line 3: label 11 is outside 0-9"),
        ((5, 4, "300"), "line 6: pixel value outside 0-255"),
        ((0, 1, "pixelX"), "header must be label,pixel0"),
    ],
    ids=["non-numeric", "bad-label", "bad-pixel", "bad-header"],
)
def test_bad_rows_name_the_file_and_problem(csv_file: Path, edit, message: str) -> None:
    _rewrite(csv_file, *edit)
    with pytest.raises(DataError, match=message) as err:
        read_digit_csv(csv_file)
    assert str(csv_file) in str(err.value)


def test_short_row_and_empty_file(csv_file: Path, tmp_path: Path) -> None:
    lines = csv_file.read_text().splitlines()
    csv_file.write_text("\n".join([*lines[:3], "1,2,3", *lines[3:]]) + "\n")
    with pytest.raises(DataError, match=str(csv_file)):
        read_digit_csv(csv_file)
    empty = tmp_path / "empty.csv"
    empty.write_text(lines[0] + "\n")
    with pytest.raises(DataError, match="no data rows"):
        read_digit_csv(empty)


def test_csv_module_splits_75_25_stratified_and_seeded(csv_file: Path) -> None:
    a = CsvDigitsDataModule(path=str(csv_file), val_fraction=0.5)
    a.setup()
    b = CsvDigitsDataModule(path=str(csv_file), val_fraction=0.5)
    b.setup()
    assert len(a.test) == 10 and len(a.train) + len(a.val) == 30
    assert torch.equal(a.test.images, b.test.images)
    assert sorted(a.test.labels.tolist()) == list(range(10))  # one of each class: stratified
