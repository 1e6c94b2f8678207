"""A data module of one's own with RGB images: shape check, training (augmented), predictions.npz, mistakes.png and
the comparison report's galleries, all with three channels."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch
from helpers import QUICK
from PIL import Image

from convlab.data.tensor_data import Split, TensorDataModule
from convlab.report.comparison_report import write_comparison_report
from convlab.run.train import train
from convlab.runfiles.predictions import read_predictions

SIDE, CLASSES = 16, ("red", "green", "blue")


class TinyRGB(TensorDataModule):
    """Noise images tinted by their class's colour: 48 to learn from, 24 to test; held as uint8 N x 3 x H x W."""

    def __init__(self, test_fraction: float = 0.25, image_size: int = SIDE, **kwargs) -> None:
        super().__init__(**kwargs)

    def load(self) -> tuple[Split, Split, list[str]]:
        g = torch.Generator().manual_seed(0)
        labels = torch.arange(72) % 3
        images = torch.randint(0, 160, (72, 3, SIDE, SIDE), generator=g)
        images[torch.arange(72), labels] += 60  # the class's channel a little brighter: learnable, not trivially
        everything = Split(images.to(torch.uint8), labels)
        return everything.subset(torch.arange(48)), everything.subset(torch.arange(48, 72)), list(CLASSES)


def test_own_rgb_data_module_trains_and_its_pictures_are_in_colour(compose_cfg, tmp_path: Path) -> None:
    cfg = compose_cfg(
        [
            *QUICK,
            f"dataset._target_={__name__}.TinyRGB",
            "dataset.batch_size=16",
            "dataset.mean=[0.4,0.45,0.5]",
            "dataset.std=[0.25,0.25,0.3]",
            "dataset.augment={crop_padding:2,hflip:true}",
            "model=lenet",
            "model.in_channels=3",
            f"model.image_size={SIDE}",
            f"model.num_classes={len(CLASSES)}",
        ]
    )
    record = train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    assert record["status"] == "ok" and record["class_names"] == list(CLASSES) and record["test"]["samples"] == 24
    found = read_predictions(run_dir / record["predictions"])
    wrong = int((~found.correct).sum())
    assert wrong and found.mistake_images.shape == (wrong, 3, SIDE, SIDE)
    test_images = TinyRGB().load()[1].images.numpy()
    assert np.array_equal(found.mistake_images, test_images[found.mistake_index])
    with Image.open(run_dir / "mistakes.png") as png:
        assert _coloured(png)

    again = tmp_path / "again"  # the same job run twice: the report's hard examples need two on one test set
    shutil.copytree(run_dir, again)
    written = write_comparison_report([run_dir, again], tmp_path / "report")
    assert "report.html" in written
    for picture in ("mistakes/hard_examples.png", "mistakes/job_01.png"):
        with Image.open(written[picture]) as png:
            assert _coloured(png), picture


def _coloured(png: Image.Image) -> bool:
    """Some pixel whose red, green and blue differ: a grayscale picture has none."""
    pixels = np.asarray(png.convert("RGB")).astype(int)
    return bool((np.abs(pixels[..., 0] - pixels[..., 1]) > 30).any())
