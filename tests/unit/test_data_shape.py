"""DataShape: what the pre-check and the model's missing arguments read from a data module."""

from convlab.data import DigitsDataModule
from convlab.data.shape import DataShape


def test_digits_shape_is_one_channel_28x28_ten_classes():
    shape = DigitsDataModule().shape()
    assert shape == DataShape(1, 28, 28, tuple(str(d) for d in range(10)))
    assert shape.input_shape == (1, 28, 28) and shape.num_classes == 10
    assert shape.describe() == "1 x 28 x 28, 10 classes"
