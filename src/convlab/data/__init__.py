"""Datasets: readers (IDX, CSV, images) and tensor-resident Lightning data modules."""

from convlab.data.csv_digits import CsvDigitsDataModule, read_digit_csv
from convlab.data.digit_recognizer import MnistDigitRecognizerDataModule
from convlab.data.digits import DigitsDataModule
from convlab.data.idx import check_idx, read_idx
from convlab.data.image import ImageFilterDataModule
from convlab.data.mnist import FashionMnistDataModule, MnistDataModule
from convlab.data.tensor_data import Split, TensorDataModule

__all__ = [
    "CsvDigitsDataModule",
    "DigitsDataModule",
    "FashionMnistDataModule",
    "ImageFilterDataModule",
    "MnistDataModule",
    "MnistDigitRecognizerDataModule",
    "Split",
    "TensorDataModule",
    "check_idx",
    "read_digit_csv",
    "read_idx",
]
