"""Real MNIST: the four original files, read where they lie (never written to), the 42,000-image
digit-recognizer stand-in, and LeNet on the real command line.

The files are looked for at ``<repo>/../shared/data/MNIST/raw`` (torchvision's layout under a ``paths.data_dir``).
Outside CI a test that needs them is skipped, with the reason, when they are absent; under CI (``CI`` set)
their absence is a failure.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import ROOT, run_cli

from convlab.data import MnistDataModule, MnistDigitRecognizerDataModule
from convlab.data.digit_recognizer import draw_digit_recognizer
from convlab.errors import DataError
from convlab.runfiles.results import read_results

SHARED_DATA = ROOT.parent / "shared" / "data"  # a paths.data_dir: torchvision's layout, <data_dir>/MNIST/raw
RAW = SHARED_DATA / "MNIST" / "raw"
MD5 = {  # torchvision's list (datasets.MNIST.resources): the files as published
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def require_real_mnist() -> Path:
    """The folder of the four .gz files; skip (outside CI) or fail (under CI) when it is absent."""
    missing = [name for name in MD5 if not (RAW / name).is_file()]
    if missing:
        message = f"real MNIST not found: {', '.join(missing)} missing in {RAW} (<repo>/../shared/data/MNIST/raw)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must provide it")
        pytest.skip(message)
    return RAW


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` with its size and mtime (ns): what a write would change."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def official() -> MnistDataModule:
    """MNIST read straight from the shared folder as a data_dir (torchvision's layout, .gz only)."""
    require_real_mnist()
    dm = MnistDataModule(data_dir=str(SHARED_DATA), download=False)
    dm.setup()
    return dm


def test_the_four_files_are_the_published_ones() -> None:
    raw = require_real_mnist()
    for name, md5 in MD5.items():
        assert hashlib.md5((raw / name).read_bytes()).hexdigest() == md5, name


def test_official_split_shapes_class_counts_and_pixel_statistics(official: MnistDataModule) -> None:
    pool = torch.cat([official.train.images, official.val.images])
    pool_labels = torch.cat([official.train.labels, official.val.labels])
    assert pool.shape == (60_000, 1, 28, 28) and pool.dtype == torch.uint8
    assert official.test.images.shape == (10_000, 1, 28, 28) and official.test.labels.dtype == torch.int64
    assert (len(official.train), len(official.val)) == (54_000, 6_000)  # val_fraction 0.1, stratified by class
    assert torch.bincount(pool_labels).tolist() == TRAIN_COUNTS
    assert torch.bincount(official.test.labels).tolist() == TEST_COUNTS
    assert official.class_names == [str(d) for d in range(10)]
    x = pool.double() / 255  # over the 60,000 training images: the figures in every MNIST Normalize
    assert x.mean().item() == pytest.approx(0.1307, abs=5e-5)
    assert x.std().item() == pytest.approx(0.3081, abs=5e-5)


def test_reading_writes_nothing_into_the_source_folder(tmp_path: Path) -> None:
    raw = require_real_mnist()
    before = listing(raw.parent.parent)
    # 1. a search directory with a writable data_dir; 2. a copy in torchvision's layout used as the data_dir
    copy = tmp_path / "copy" / "MNIST" / "raw"
    copy.mkdir(parents=True)
    for name in MD5:
        shutil.copy2(raw / name, copy / name)
    copy_before = listing(tmp_path / "copy")
    data_dir = tmp_path / "data"
    for dm in (
        MnistDataModule(data_dir=str(data_dir), download=False, search_dirs=[str(raw)]),
        MnistDataModule(data_dir=str(tmp_path / "copy"), download=False),
    ):
        dm.setup()
        assert len(dm.test) == 10_000
    assert listing(tmp_path / "copy") == copy_before
    assert not data_dir.exists()  # found in a search directory: nothing is copied or decompressed
    assert listing(raw.parent.parent) == before


def test_a_corrupt_gz_in_a_search_dir_is_one_line_naming_it(tmp_path: Path) -> None:
    raw = require_real_mnist()
    folder = tmp_path / "files"
    folder.mkdir()
    for name in MD5:
        shutil.copy2(raw / name, folder / name)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes((raw / "t10k-labels-idx1-ubyte.gz").read_bytes()[:1000])
    dm = MnistDataModule(data_dir=str(tmp_path / "data"), download=False, search_dirs=[str(folder)])
    with pytest.raises(DataError) as err:
        dm.setup()
    assert str(folder / "t10k-labels-idx1-ubyte.gz") in str(err.value) and "\n" not in str(err.value)


# -- the digit-recognizer stand-in ------------------------------------------------------------------------
def test_draw_is_stratified_seeded_and_75_25() -> None:
    labels = torch.from_numpy(np.repeat(np.arange(10), [700, 800, 690, 710, 680, 630, 690, 730, 680, 690]))
    drawn, train, test = draw_digit_recognizer(labels, pool_size=4200, test_fraction=0.25, seed=0)
    assert (len(drawn), len(train), len(test)) == (4200, 3150, 1050)
    assert len(set(drawn.tolist())) == 4200 and not set(train.tolist()) & set(test.tolist())
    share = torch.bincount(labels).double() / len(labels)
    for part, size in ((drawn, 4200), (drawn[test], 1050)):
        counts = torch.bincount(labels[torch.from_numpy(part)], minlength=10).double()
        assert (counts - share * size).abs().max() <= 1  # proportional to the whole, to the image
    again = draw_digit_recognizer(labels, pool_size=4200, test_fraction=0.25, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(again, (drawn, train, test), strict=True))
    other = draw_digit_recognizer(labels, pool_size=4200, test_fraction=0.25, seed=1)
    assert not np.array_equal(other[0], drawn)
    with pytest.raises(DataError, match="pool_size=99999"):
        draw_digit_recognizer(labels, pool_size=99_999, test_fraction=0.25, seed=0)


def test_digit_recognizer_stand_in_on_real_mnist(official: MnistDataModule) -> None:
    dm = MnistDigitRecognizerDataModule(data_dir=str(SHARED_DATA), download=False)
    dm.setup()
    assert len(dm.train) + len(dm.val) == 31_500 and len(dm.test) == 10_500
    assert len(dm.val) == pytest.approx(3_150, abs=10)  # carved from the training part, like every dataset's
    share = torch.tensor([a + b for a, b in zip(TRAIN_COUNTS, TEST_COUNTS, strict=True)]).double() / 70_000
    pool_labels = torch.cat([dm.train.labels, dm.val.labels])
    for labels, size in ((torch.cat([pool_labels, dm.test.labels]), 42_000), (dm.test.labels, 10_500)):
        assert (torch.bincount(labels).double() - share * size).abs().max() <= 1
    # drawn from both official files (about 6,000 of the 42,000 from the 10,000 t10k images)
    weights = torch.randint(1, 1 << 20, (784,), generator=torch.Generator().manual_seed(0))

    def fingerprints(*images: torch.Tensor) -> list[int]:
        return (torch.cat(images).flatten(1).long() * weights).sum(1).tolist()

    from_train = set(fingerprints(official.train.images, official.val.images))
    from_test = set(fingerprints(official.test.images))
    taken = fingerprints(dm.train.images, dm.val.images, dm.test.images)
    assert all(t in from_train or t in from_test for t in taken)
    assert sum(t in from_test for t in taken) == pytest.approx(6_000, abs=300)
    same = MnistDigitRecognizerDataModule(data_dir=str(SHARED_DATA), download=False, seed=5)  # seed: not the split
    same.setup()
    assert torch.equal(same.test.images, dm.test.images) and torch.equal(same.train.labels, dm.train.labels)
    other = MnistDigitRecognizerDataModule(data_dir=str(SHARED_DATA), download=False, split_seed=1)
    other.setup()
    assert not torch.equal(other.test.images, dm.test.images)


# -- the real command line ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_lenet_rmsprop_one_epoch_on_mnist_reaches_97_percent(tmp_path: Path) -> None:
    require_real_mnist()
    before = listing(SHARED_DATA)
    proc = run_cli(
        "train.py",
        "dataset=mnist",
        "model=lenet",
        "optim=rmsprop",
        f"paths.data_dir={SHARED_DATA}",
        "dataset.download=false",
        "trainer.max_epochs=1",
        "~callbacks.progress_bar",
        "++trainer.enable_progress_bar=false",
        cwd=tmp_path,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (run_dir,) = (tmp_path / "outputs" / "runs").iterdir()
    results = read_results(run_dir)
    assert results["dataset"] == "mnist" and results["split_sizes"] == {"train": 54_000, "val": 6_000, "test": 10_000}
    assert results["test"]["acc"] >= 0.97
    assert listing(SHARED_DATA) == before


@pytest.mark.slow
def test_cnn8_article_preset_runs_on_the_stand_in(tmp_path: Path) -> None:
    raw = require_real_mnist()
    proc = run_cli(
        "train.py",
        "experiment=cnn8_article",
        f"dataset.search_dirs=[{raw}]",
        "dataset.download=false",
        "trainer.max_epochs=1",
        "++trainer.limit_train_batches=20",
        "++trainer.enable_progress_bar=false",
        "++trainer.enable_checkpointing=false",
        "callbacks=none",
        cwd=tmp_path,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (run_dir,) = (tmp_path / "outputs" / "runs").iterdir()
    results = read_results(run_dir)
    assert results["dataset"] == "mnist_digit_recognizer" and results["test"]["samples"] == 10_500
    assert results["split_sizes"]["train"] + results["split_sizes"]["val"] == 31_500
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_visualize_on_a_real_digit(compose_cfg, tmp_path: Path, capsys) -> None:
    """Feature maps, learned filters and the untrained walk-through on MNIST test image 0 (a 7)."""
    from helpers import QUICK

    from convlab.cli.visualize import main as visualize
    from convlab.run.train import train

    require_real_mnist()
    cfg = compose_cfg(["dataset=mnist", f"paths.data_dir={SHARED_DATA}", "model=lenet", *QUICK, "callbacks=default"])
    record = train(cfg)
    run_dir = Path(record["run_dir"])
    visualize([str(run_dir), "--index", "0"])
    trained = {p.name for p in (run_dir / "feature_maps" / "test_0").iterdir()}
    assert {"00_input.png", "first_conv_filters.png", "overview.png"} <= trained
    visualize([str(run_dir), "--untrained", "--index", "0"])
    walk = {p.name for p in (run_dir / "feature_maps" / "untrained_test_0").iterdir()}
    assert {"00_input.png", "03_conv3x3_relu_pool.png", "lenet_first_conv_filters.png"} <= walk
    assert "untrained_test_0" in capsys.readouterr().out
