"""The digit-recognizer CSV format: a header ``label,pixel0,...,pixel783``, one image per row."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from convlab.data.shape import DataShape
from convlab.data.tensor_data import Split, TensorDataModule, stratified_split
from convlab.errors import DataError

NUM_PIXELS = 784


def read_digit_csv(path: str | Path, num_classes: int = 10) -> Split:
    """Read a labelled digit-recognizer CSV into a uint8 Split, naming the file and row on any problem."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            header = f.readline().strip().split(",")
            rows = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read ({getattr(e, 'strerror', None) or e})") from None
    expected = ["label"] + [f"pixel{i}" for i in range(NUM_PIXELS)]
    if header != expected:
        found = ",".join(header[:3]) + (",..." if len(header) > 3 else "")
        raise DataError(
            f"{path}: header must be label,pixel0,...,pixel{NUM_PIXELS - 1} ({len(expected)} columns); "
            f"found {found} ({len(header)} columns)"
        )
    table = _parse_rows(path, rows)
    labels, pixels = table[:, 0], table[:, 1:]
    if ((pixels < 0) | (pixels > 255)).any():
        row = int(np.nonzero(((pixels < 0) | (pixels > 255)).any(axis=1))[0][0])
        raise DataError(f"{path}: line {row + 2}: pixel value outside 0-255")
    if ((labels < 0) | (labels >= num_classes)).any():
        row = int(np.nonzero((labels < 0) | (labels >= num_classes))[0][0])
        raise DataError(f"{path}: line {row + 2}: label {labels[row]} is outside 0-{num_classes - 1}")
    side = int(NUM_PIXELS**0.5)
    images = torch.from_numpy(pixels.astype(np.uint8)).reshape(-1, 1, side, side)
    return Split(images, torch.from_numpy(labels.astype(np.int64)))


def _parse_rows(path: Path, rows: str) -> np.ndarray:
    # Blank lines are skipped; every other line must be a full row. Counting the columns here names the exact
    # line (numpy's own row numbers skip blank lines) and nothing is silently dropped: no "#" comments either.
    numbered = [(n, line) for n, line in enumerate(rows.splitlines(), start=2) if line.strip()]
    if not numbered:
        raise DataError(f"{path}: no data rows after the header")
    for n, line in numbered:
        if line.count(",") != NUM_PIXELS:
            raise DataError(f"{path}: line {n} has {line.count(',') + 1} columns, expected {NUM_PIXELS + 1}")
    try:
        # np.loadtxt parses in C; it raises ValueError naming the bad row and column.
        return np.loadtxt([line for _, line in numbered], delimiter=",", dtype=np.int64, ndmin=2, comments=None)
    except ValueError as e:
        raise DataError(f"{path}: {_with_file_line(_first_line(e), [n for n, _ in numbered])}") from None


def _with_file_line(message: str, line_numbers: list[int]) -> str:
    """numpy counts the rows it was given from 0; say which line of the file that was."""

    def file_line(m: re.Match) -> str:
        row = int(m[1])
        return f"on line {line_numbers[row] if row < len(line_numbers) else row + 2}, column {m[2]}"

    return re.sub(r"at row (\d+), column (\d+)\.?", file_line, message)


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


class CsvDigitsDataModule(TensorDataModule):
    """A labelled digit CSV, split into train and test by a seeded stratified ``test_fraction``
    (0.25 by default, as the 8-layer-CNN article did); validation is then carved from the training part.
    """

    def __init__(self, path: str | None = None, test_fraction: float = 0.25, **kwargs) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.test_fraction = test_fraction

    def shape(self) -> DataShape:
        """Known without reading the file: every row is a 28x28 grayscale digit (784 pixel columns), ten classes."""
        return DataShape(1, 28, 28, tuple(str(d) for d in range(10)))

    def load(self) -> tuple[Split, Split, list[str]]:
        if not self.path:
            raise DataError("dataset=csv needs a file: add dataset.path=/path/to/train.csv")
        if not Path(self.path).is_file():
            raise DataError(f"dataset.path={self.path}: no such file")
        everything = read_digit_csv(self.path)
        pool_idx, test_idx = stratified_split(
            everything.labels, self.test_fraction, self.split_seed, key="dataset.test_fraction"
        )
        return everything.subset(pool_idx), everything.subset(test_idx), [str(d) for d in range(10)]
