"""Images with channels: Split holds uint8 N x C x H x W (C = 1 or 3) and everything after it takes that."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from convlab.data.digits import DigitsDataModule
from convlab.data.tensor_data import Split, TensorDataModule
from convlab.errors import DataError
from convlab.report.mistakes import image_grid
from convlab.runfiles.predictions import displayable, read_predictions, write_predictions


class InMemory(TensorDataModule):
    """A user's own data module: images given as tensors."""

    def __init__(self, pool: torch.Tensor, test: torch.Tensor, classes: int = 3, **kwargs) -> None:
        super().__init__(val_fraction=0.25, **kwargs)
        self.pool_images, self.test_images, self.classes = pool, test, classes

    def load(self) -> tuple[Split, Split, list[str]]:
        labels = torch.arange(len(self.pool_images)) % self.classes
        test_labels = torch.arange(len(self.test_images)) % self.classes
        names = [f"c{i}" for i in range(self.classes)]
        return Split(self.pool_images, labels), Split(self.test_images, test_labels), names


def _images(n: int, channels: int, side: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, side, side), generator=g, dtype=torch.uint8)


def test_rgb_split_shape_and_per_channel_normalisation() -> None:
    mean, std = [0.4, 0.5, 0.6], [0.2, 0.25, 0.5]
    dm = InMemory(_images(24, 3), _images(6, 3, seed=1), mean=mean, std=std)
    shape = dm.shape()
    assert (shape.channels, shape.height, shape.width) == (3, 8, 8)
    assert dm.task_inputs()["example_input"].shape == (1, 3, 8, 8)
    images, labels = next(iter(dm.train_dataloader()))
    x, _ = dm.on_after_batch_transfer((images, labels), 0)
    expected = (images.float() / 255 - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    assert x.shape == images.shape and torch.allclose(x, expected, atol=1e-5)


def test_one_number_normalises_every_channel() -> None:
    dm = InMemory(_images(24, 3), _images(6, 3, seed=1), mean=0.5, std=[0.5, 0.25, 1.0])
    dm.setup()
    images = dm.train.images[:4]
    expected = (images.float() / 255 - 0.5) / torch.tensor([0.5, 0.25, 1.0])[:, None, None]
    assert torch.allclose(dm.normalize(images), expected, atol=1e-5)


def test_grayscale_numbers_and_fingerprint_are_unchanged() -> None:
    dm = DigitsDataModule(mean=0.5, std=0.5)
    dm.setup()
    assert dm.test.images.shape[1:] == (1, 28, 28)
    # the fingerprint main gave this test set before channels existed: earlier runs still pair with new ones
    assert dm.test_fingerprint() == "sha256:1b26470fe24593f4"
    images = dm.train.images[:8]
    assert torch.equal(dm.normalize(images), images.float().mul_(1 / (255 * 0.5)).sub_(1.0))


def test_a_data_module_written_before_channels_still_works() -> None:
    dm = InMemory(_images(24, 1)[:, 0], _images(6, 1, seed=1)[:, 0])  # N x H x W
    dm.setup()
    assert dm.train.images.shape[1:] == (1, 8, 8) and dm.test.images.shape == (6, 1, 8, 8)


@pytest.mark.parametrize(
    ("pool", "test", "kwargs", "message"),
    [
        (_images(24, 2), _images(6, 2), {}, "2 channels; convlab takes 1 (grayscale) or 3 (RGB)"),
        (_images(24, 3), _images(6, 1), {}, "training images are 3 x 8 x 8 but test images are 1 x 8 x 8"),
        (_images(24, 3), _images(6, 3), {"mean": [0.5, 0.5]}, "dataset.mean=[0.5, 0.5] has 2 values for 3-channel"),
        (_images(24, 3).float(), _images(6, 3), {}, "expected uint8 images N x C x H x W"),
    ],
)
def test_bad_images_are_one_line(pool: torch.Tensor, test: torch.Tensor, kwargs: dict, message: str) -> None:
    with pytest.raises(DataError, match=re.escape(message)) as e:
        InMemory(pool, test, **kwargs).setup()
    assert "\n" not in str(e.value)


def test_predictions_keep_channels_and_old_files_read(tmp_path) -> None:
    label, pred, prob = np.array([0, 1, 2, 0]), np.array([1, 1, 0, 0]), np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    rgb = _images(4, 3).numpy()
    write_predictions(tmp_path, label, pred, prob, rgb, "sha256:x")
    found = read_predictions(tmp_path)
    assert found.mistake_images.shape == (2, 3, 8, 8) and np.array_equal(found.mistake_images[0], rgb[0])
    old = tmp_path / "old"
    old.mkdir()
    write_predictions(old, label, pred, prob, rgb[:, 0], "sha256:x")
    with np.load(old / "predictions.npz") as data:  # rewrite as a file from before channels: K x H x W
        arrays = dict(data)
    arrays["mistake_images"] = arrays["mistake_images"][:, 0]
    np.savez_compressed(old / "predictions.npz", **arrays)
    assert read_predictions(old).mistake_images.shape == (2, 1, 8, 8)


def test_pictures_draw_rgb_in_colour_and_grayscale_in_gray() -> None:
    rgb = _images(2, 3).numpy()
    assert displayable(rgb[0]).shape == (8, 8, 3) and displayable(rgb[:1, 0]).shape == (8, 8)
    fig = image_grid(list(rgb), ["a", "b"], cols=2, cell_inches=(1.0, 1.2))
    canvas = fig.axes[0].images[0].get_array()
    first = rgb[0].transpose(1, 2, 0)  # H x W x 3, pasted in the top row
    assert canvas.shape[-1] == 3
    assert any(np.array_equal(canvas[:8, left : left + 8], first) for left in range(canvas.shape[1] - 7))
    gray = image_grid(list(rgb[:, :1]), ["a", "b"], cols=2, cell_inches=(1.0, 1.2))
    assert gray.axes[0].images[0].get_array().ndim == 2


def test_feature_maps_show_a_colour_input_and_colour_first_layer_filters() -> None:
    from convlab.models import LeNet
    from convlab.viz.feature_maps import model_pictures

    torch.manual_seed(0)
    model = LeNet(in_channels=3, image_size=16, num_classes=3)
    x = torch.rand(1, 3, 16, 16)
    x[0, 0] = 0  # no red at all: a colour picture shows it, a grid of channels would not tell
    pictures = {p.name: p.pixels for p in model_pictures(model, x)}
    shown = pictures["00_input"]
    inside = shown[shown.shape[0] // 2, shown.shape[1] // 2]  # a pixel of the image, not the white border
    assert inside[0] == 0 and inside[1:].any()
    filters = pictures["first_conv_filters"]  # 16 colour tiles, 4 x 4 of them: not 48 gray tiles
    assert filters.shape[:2] == (4 * (57 + 2) + 2,) * 2  # 3x3 kernels shown 19x as large, 2 pixels apart
    assert (filters[..., 0] != filters[..., 1]).any()
