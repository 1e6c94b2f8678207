"""scikit-learn's bundled 1,797 handwritten digits (8x8), upsampled to 28x28: real data, no network."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from convlab.data.shape import DataShape
from convlab.data.tensor_data import Split, TensorDataModule, stratified_split

CLASS_NAMES = tuple(str(d) for d in range(10))


class DigitsDataModule(TensorDataModule):
    def __init__(self, test_fraction: float = 0.2, image_size: int = 28, **kwargs) -> None:
        super().__init__(**kwargs)
        self.test_fraction = test_fraction
        self.image_size = image_size

    def shape(self) -> DataShape:
        """Known without loading: grayscale ``image_size`` squares of the ten digits."""
        return DataShape(1, self.image_size, self.image_size, CLASS_NAMES)

    def load(self) -> tuple[Split, Split, list[str]]:
        from sklearn.datasets import load_digits  # imported here: sklearn is slow to import

        digits = load_digits()
        pixels = torch.as_tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
        big = F.interpolate(pixels, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        images = (big.clamp(0, 1) * 255).round().to(torch.uint8)  # N x 1 x H x W
        labels = torch.as_tensor(digits.target, dtype=torch.int64)
        everything = Split(images, labels)
        pool_idx, test_idx = stratified_split(labels, self.test_fraction, self.split_seed, key="dataset.test_fraction")
        return everything.subset(pool_idx), everything.subset(test_idx), list(CLASS_NAMES)
