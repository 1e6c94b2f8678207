"""Splits are deterministic, stratified and keep the test set apart; batches are index slices."""

from __future__ import annotations

import torch

from convlab.data import DigitsDataModule
from convlab.data.tensor_data import BatchIndexSampler, stratified_folds, stratified_split


def _rows(images: torch.Tensor) -> set[bytes]:
    return {bytes(x.flatten().tolist()) for x in images}


def test_digits_split_is_fixed_and_disjoint() -> None:
    a, b = DigitsDataModule(), DigitsDataModule(seed=5)  # the training seed must not move the split
    a.setup()
    b.setup()
    assert (len(a.train), len(a.val), len(a.test)) == (1293, 144, 360)
    assert torch.equal(a.test.images, b.test.images) and torch.equal(a.val.labels, b.val.labels)
    assert a.train.images.shape[1:] == (1, 28, 28) and a.train.images.dtype == torch.uint8
    test_rows = _rows(a.test.images)
    assert not test_rows & _rows(a.train.images) and not test_rows & _rows(a.val.images)


def test_a_different_split_seed_gives_a_different_test_set() -> None:
    a, b = DigitsDataModule(), DigitsDataModule(split_seed=1)
    a.setup()
    b.setup()
    assert not torch.equal(a.test.labels, b.test.labels) or not torch.equal(a.test.images, b.test.images)


def test_stratified_split_keeps_class_proportions() -> None:
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    rest, part = stratified_split(labels, 0.2, seed=3)
    assert torch.bincount(labels[part]).tolist() == [10, 6, 4]
    assert len(set(rest.tolist()) | set(part.tolist())) == 100
    assert torch.equal(part, stratified_split(labels, 0.2, seed=3)[1])


def test_k_folds_partition_the_pool() -> None:
    labels = torch.arange(103) % 10
    folds = stratified_folds(labels, 5, seed=0)
    everything = torch.cat(folds).sort().values
    assert torch.equal(everything, torch.arange(103))
    assert max(map(len, folds)) - min(map(len, folds)) <= 1


def test_k_fold_module_uses_fold_as_validation() -> None:
    dms = [DigitsDataModule(folds=3, fold=k) for k in range(3)]
    for dm in dms:
        dm.setup()
    vals = [_rows(dm.val.images) for dm in dms]
    assert not vals[0] & vals[1] and not vals[1] & vals[2]
    assert all(len(dm.train) + len(dm.val) == 1437 for dm in dms)
    assert torch.equal(dms[0].test.images, dms[2].test.images)


def test_sampler_shuffles_per_epoch_deterministically() -> None:
    s = BatchIndexSampler(10, 4, shuffle=True, seed=0)
    first = [b.tolist() for b in s]
    assert sorted(i for b in first for i in b) == list(range(10)) and [len(b) for b in first] == [4, 4, 2]
    s.set_epoch(1)
    second = [b.tolist() for b in s]
    assert first != second
    s.set_epoch(0)
    assert [b.tolist() for b in s] == first


def test_eval_batches_are_slices_in_order() -> None:
    s = BatchIndexSampler(10, 4, shuffle=False)
    assert list(s) == [slice(0, 4), slice(4, 8), slice(8, 10)] and len(s) == 3


def test_batches_are_normalised_after_transfer() -> None:
    dm = DigitsDataModule(mean=0.5, std=0.5)
    dm.setup()
    images, labels = next(iter(dm.train_dataloader()))
    assert images.dtype == torch.uint8 and images.shape == (64, 1, 28, 28)
    x, y = dm.on_after_batch_transfer((images, labels), 0)
    assert x.shape == (64, 1, 28, 28) and x.dtype == torch.float32
    assert torch.allclose(x, (images.float() / 255 - 0.5) / 0.5, atol=1e-6)
    assert x.min() >= -1 and x.max() <= 1 and torch.equal(y, labels)
