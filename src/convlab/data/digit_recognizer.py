"""A stand-in for the digit-recognizer training set (42,000 labelled MNIST digits) drawn from MNIST itself.

The 8-layer-CNN article trained on Kaggle's digit-recognizer ``train.csv``: 42,000 labelled 28x28 digits
taken from MNIST by Kaggle in a draw that is not published, split 75/25 into 31,500 training and 10,500
test images. This module draws 42,000 of MNIST's 70,000 images (training and test files pooled), stratified
by class and seeded by ``split_seed``, then makes the article's stratified 75/25 split; validation is then
carved from the training part like every other dataset's. The draws are scikit-learn's stratified
``train_test_split``; the same ``split_seed`` gives the same images in every split, whatever ``seed`` is.
"""

from __future__ import annotations

import numpy as np
import torch

from convlab.data.mnist import MnistDataModule
from convlab.data.tensor_data import Split
from convlab.errors import DataError


class MnistDigitRecognizerDataModule(MnistDataModule):
    def __init__(self, pool_size: int = 42_000, test_fraction: float = 0.25, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pool_size = pool_size
        self.test_fraction = test_fraction

    def load(self) -> tuple[Split, Split, list[str]]:
        train, test = self.read_official_splits()
        everything = Split(torch.cat([train.images, test.images]), torch.cat([train.labels, test.labels]))
        drawn, pool_idx_, test_idx_ = draw_digit_recognizer(
            everything.labels, self.pool_size, self.test_fraction, self.split_seed
        )
        pool = everything.subset(torch.from_numpy(drawn[pool_idx_]))
        held_out = everything.subset(torch.from_numpy(drawn[test_idx_]))
        return pool, held_out, self.class_names_of_dataset()


def draw_digit_recognizer(
    labels: torch.Tensor, pool_size: int, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(``pool_size`` indices drawn stratified from ``labels``, positions in them of the training part,
    positions of the test part): the training and test parts are a stratified ``test_fraction`` split of the
    drawn images. Indices are sorted, so a split does not depend on the order the draw returns them in."""
    from sklearn.model_selection import train_test_split  # imported here: sklearn is slow to import

    y = labels.numpy()
    if not 0 < pool_size <= len(y):
        raise DataError(f"dataset.pool_size={pool_size}: must be between 1 and the {len(y):,} images available")
    index = np.arange(len(y))
    try:
        drawn = (
            index
            if pool_size == len(y)
            else train_test_split(index, train_size=pool_size, stratify=y, random_state=seed)[0]
        )
        drawn = np.sort(drawn)
        train_pos, test_pos = train_test_split(
            np.arange(len(drawn)), test_size=test_fraction, stratify=y[drawn], random_state=seed
        )
    except ValueError as e:  # too few images of a class for a stratified split of this size
        raise DataError(f"dataset.pool_size={pool_size}, test_fraction={test_fraction}: {e}") from None
    return drawn, np.sort(train_pos), np.sort(test_pos)
