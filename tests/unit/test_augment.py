"""dataset.augment: batched random crop and flip of training batches, drawn from (seed, epoch, batch) only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from convlab.checkpoints.requeue_callbacks import ResumeMidEpoch
from convlab.data.augment import BatchAugment, batch_augment
from convlab.data.digits import DigitsDataModule
from convlab.data.tensor_data import Split, TensorDataModule
from convlab.errors import ConfigError


def _images(n: int = 5, channels: int = 3, height: int = 6, width: int = 7) -> torch.Tensor:
    return torch.randint(1, 256, (n, channels, height, width), generator=torch.Generator().manual_seed(0)).byte()


def test_crop_and_flip_are_what_the_draw_says() -> None:
    images, p = _images(), 2
    aug = BatchAugment(crop_padding=p, hflip=True)
    centre = torch.tensor([[p, p, 0]] * 5)
    assert torch.equal(aug.apply(images, centre), images)  # offset p: the image itself
    assert torch.equal(aug.apply(images, torch.tensor([[p, p, 1]] * 5)), images.flip(-1))
    corner = aug.apply(images, torch.tensor([[0, 0, 0]] * 5))  # shifted down-right by p, zeros come in
    assert torch.equal(corner[..., p:, p:], images[..., :-p, :-p])
    assert not corner[..., :p, :].any() and not corner[..., :, :p].any()
    mixed = aug.apply(images, torch.tensor([[p, p, 0], [p, p, 1], [0, 0, 0], [p, p, 0], [4, 4, 1]]))
    assert torch.equal(mixed[0], images[0]) and torch.equal(mixed[1], images[1].flip(-1))
    assert torch.equal(mixed[4][..., :-p, p:], images[4][..., p:, p:].flip(-1))  # cropped up-left, then flipped


def test_the_draw_depends_on_seed_epoch_batch_and_rank_only() -> None:
    aug = BatchAugment(crop_padding=4, hflip=True)
    first = aug.draw(64, seed=1, epoch=2, batch=3)
    assert torch.equal(first, aug.draw(64, seed=1, epoch=2, batch=3))
    for other in ({"seed": 2, "epoch": 2, "batch": 3}, {"seed": 1, "epoch": 3, "batch": 3}):
        assert not torch.equal(first, aug.draw(64, **other))
    assert not torch.equal(first, aug.draw(64, seed=1, epoch=2, batch=4))
    assert not torch.equal(first, aug.draw(64, seed=1, epoch=2, batch=3, rank=1))
    assert first[:, :2].min() >= 0 and first[:, :2].max() <= 8 and set(first[:, 2].tolist()) == {0, 1}
    assert not BatchAugment(crop_padding=4).draw(64, 1, 2, 3)[:, 2].any()  # no flips unless asked


def _transferred(dm: DigitsDataModule, loader: DataLoader) -> list[torch.Tensor]:
    return [dm.on_after_batch_transfer(batch, 0)[0] for batch in loader]


def _epoch(loader: DataLoader, epoch: int) -> DataLoader:
    loader.sampler.set_epoch(epoch)
    return loader


def test_training_batches_only_and_a_resumed_epoch_sees_the_same_batches() -> None:
    dm = DigitsDataModule(augment={"crop_padding": 4, "hflip": True}, batch_size=256, seed=3)
    plain = DigitsDataModule(batch_size=256, seed=3)
    dm.setup()
    plain.setup()
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(1)
    whole = _transferred(dm, loader)
    loader.sampler.set_epoch(1)
    loader.sampler.skip_batches(2)  # what ResumeMidEpoch does for a run requeued after batch 2
    resumed = _transferred(dm, loader)
    assert len(resumed) == len(whole) - 2 and all(torch.equal(a, b) for a, b in zip(resumed, whole[2:], strict=True))
    unaugmented = _transferred(plain, _epoch(plain.train_dataloader(), 1))
    assert all(a.shape == b.shape for a, b in zip(whole, unaugmented, strict=True))
    assert not any(torch.equal(a, b) for a, b in zip(whole, unaugmented, strict=True))  # same images, augmented
    loader.sampler.set_epoch(2)
    assert not torch.equal(_transferred(dm, loader)[0], whole[0])  # another epoch, another draw
    for evaluation in (dm.val_dataloader(), dm.test_dataloader()):  # never augmented
        assert all(len(batch) == 2 for batch in evaluation)
    val, plain_val = _transferred(dm, dm.val_dataloader()), _transferred(plain, plain.val_dataloader())
    assert all(torch.equal(a, b) for a, b in zip(val, plain_val, strict=True))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"crop_padding": -1}, "dataset.augment.crop_padding=-1: must be an integer >= 0"),
        ({"hflip": "yes"}, "dataset.augment.hflip=yes: must be true or false"),
        ({"rotate": 10}, "dataset.augment: unknown key rotate (known: crop_padding, hflip)"),
        (4, "dataset.augment=4: give null or a node"),
    ],
)
def test_bad_augment_settings_are_one_line(spec: object, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        batch_augment(spec)


def test_nothing_to_do_is_no_augmentation() -> None:
    assert batch_augment(None) is None and batch_augment({"crop_padding": 0, "hflip": False}) is None


class Tiny(TensorDataModule):
    """100 distinct 1 x 4 x 4 images, augmented: a resumed run must see the very same augmented pixels."""

    def load(self) -> tuple[Split, Split, list[str]]:
        images = torch.randint(0, 256, (120, 1, 4, 4), generator=torch.Generator().manual_seed(0)).byte()
        labels = torch.arange(120) % 2
        return Split(images[:100], labels[:100]), Split(images[100:], labels[100:]), ["a", "b"]


class AugmentedRecorder(pl.LightningModule):
    """Records (epoch, batch index, the batch as the model got it); stops before the ``stop_at``-th step."""

    def __init__(self, stop_at: int | None = None) -> None:
        super().__init__()
        self.layer, self.stop_at, self.seen = torch.nn.Linear(16, 2), stop_at, []

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        if len(self.seen) == self.stop_at:
            raise KeyboardInterrupt
        self.seen.append((self.current_epoch, batch_idx, batch[0].tolist()))
        return self.layer(batch[0].flatten(1)).sum()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.0)


class SaveOnInterrupt(pl.Callback):
    def __init__(self, path: Path) -> None:
        self.path = path

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        trainer.save_checkpoint(self.path)


def _fit(module: AugmentedRecorder, *callbacks: pl.Callback, ckpt_path: Path | None = None) -> None:
    data = Tiny(batch_size=10, val_fraction=0.1, augment={"crop_padding": 1, "hflip": True}, seed=7)
    trainer = pl.Trainer(
        max_epochs=3,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        callbacks=list(callbacks),
    )
    trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)


def test_a_requeued_run_resumed_mid_epoch_sees_the_same_augmented_batches(tmp_path: Path) -> None:
    uninterrupted = AugmentedRecorder()
    _fit(uninterrupted)
    first = AugmentedRecorder(stop_at=12)  # epoch 1, batch 3 of 9
    with pytest.raises(SystemExit):
        _fit(first, SaveOnInterrupt(tmp_path / "mid.ckpt"))
    resumed = AugmentedRecorder()
    _fit(resumed, ResumeMidEpoch(), ckpt_path=tmp_path / "mid.ckpt")
    assert resumed.seen[0][:2] == (1, 3) and len(uninterrupted.seen) == 27
    assert first.seen + resumed.seen == uninterrupted.seen


def test_a_bad_augment_is_refused_by_the_config_check(compose_cfg) -> None:
    from convlab.config.checks import check_config

    with pytest.raises(ConfigError, match=re.escape("dataset.augment.crop_padding=-1: must be an integer >= 0")):
        check_config(compose_cfg(["dataset=mnist", "dataset.augment={crop_padding:-1,hflip:true}"]))
    check_config(compose_cfg(["dataset.augment={crop_padding:4,hflip:true}"]))  # a good one passes
