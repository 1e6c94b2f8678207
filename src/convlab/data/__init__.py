"""Datasets: readers (IDX, CSV, images) and tensor-resident Lightning data modules."""

from convlab.data.cifar10 import Cifar10DataModule, read_cifar_batch
from convlab.data.csv_digits import CsvDigitsDataModule, read_digit_csv
from convlab.data.digit_recognizer import MnistDigitRecognizerDataModule
from convlab.data.digits import DigitsDataModule
from convlab.data.idx import check_idx, read_idx
from convlab.data.image import ImageFilterDataModule
from convlab.data.image_folder import ImageFolderDataModule
from convlab.data.mnist import FashionMnistDataModule, MnistDataModule
from convlab.data.tensor_data import Split, TensorDataModule

__all__ = [
    "Cifar10DataModule",
    "CsvDigitsDataModule",
    "DigitsDataModule",
    "FashionMnistDataModule",
    "ImageFilterDataModule",
    "ImageFolderDataModule",
    "MnistDataModule",
    "MnistDigitRecognizerDataModule",
    "Split",
    "TensorDataModule",
    "check_idx",
    "read_cifar_batch",
    "read_digit_csv",
    "read_idx",
]
