"""dataset=image_folder: the scan, the decode and its conversions, the disk cache, the splits, the streaming path."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from image_folders import PHOTOS, patches, save_png, write_cifar_batches, write_class_folder, write_split_folder

from convlab.data.cifar10 import Cifar10DataModule, read_cifar_batch, read_label_names
from convlab.data.image_batches import decode_all, image_stats
from convlab.data.image_files import decode_image, read_header, scan_folder
from convlab.data.image_folder import ImageFolderDataModule, parse_image_size
from convlab.errors import ConfigError, ConvlabError, DataError


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_class_folder(tmp_path_factory.mktemp("photos") / "images", per_class=10)


def module(root: Path, data_dir: Path, **kwargs) -> ImageFolderDataModule:
    kwargs = {"num_workers": 0, "batch_size": 4, **kwargs}
    return ImageFolderDataModule(root=str(root), data_dir=str(data_dir), **kwargs)


def test_each_png_mode_decodes_to_the_same_pixels(tmp_path: Path) -> None:
    pixels = patches("astronaut", 1)[0]
    rgb = decode_image(save_png(pixels, tmp_path / "rgb.png"))
    assert rgb.shape == (3, 32, 32) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb, pixels.transpose(2, 0, 1))
    np.testing.assert_array_equal(decode_image(save_png(pixels, tmp_path / "rgba.png", "RGBA")), rgb)
    palette = decode_image(save_png(pixels, tmp_path / "p.png", "P"))
    assert palette.shape == (3, 32, 32) and np.abs(palette.astype(int) - rgb).mean() < 8  # 64 colours
    sixteen = decode_image(save_png(pixels, tmp_path / "g16.png", "I;16"))
    gray = decode_image(rgb_png := save_png(pixels, tmp_path / "rgb2.png"), channels=1)
    assert read_header(tmp_path / "g16.png")[0] == 1 and read_header(rgb_png)[0] == 3
    assert sixteen.shape == (1, 32, 32)
    np.testing.assert_array_equal(sixteen, gray)  # 16-bit scaled to 8, not clipped to 255
    assert decode_image(rgb_png, channels=3, size=(20, 24)).shape == (3, 20, 24)


def test_scan_numbers_classes_in_sorted_order(tmp_path: Path) -> None:
    root = write_split_folder(tmp_path / "split", train=3, test=2, val=1)
    scan = scan_folder(root)
    assert scan.class_names == tuple(sorted(PHOTOS)) and scan.presplit
    assert {k: len(v) for k, v in scan.splits.items()} == {"train": 9, "val": 3, "test": 6}
    assert [f.relative for f in scan.splits["test"][:2]] == ["test/astronaut/000.png", "test/astronaut/001.png"]
    assert [f.label for f in scan.splits["train"]] == [0, 0, 0, 1, 1, 1, 2, 2, 2]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda root: None, "no such folder"),
        (lambda root: (root / "notes.txt").parent.mkdir(parents=True), "no class folders"),
        (lambda root: (root / "cat").mkdir(parents=True) or (root / "cat" / "a.txt").write_text("x"), "empty class"),
        (lambda root: (root / "train" / "cat").mkdir(parents=True), "no test/ folder"),
    ],
)
def test_bad_folders_are_one_line(tmp_path: Path, make, expected: str) -> None:
    root = tmp_path / "root"
    make(root)
    with pytest.raises(DataError, match=expected) as info:
        scan_folder(root)
    assert "\n" not in str(info.value)


def test_corrupt_image_is_named(tmp_path: Path) -> None:
    root = write_class_folder(tmp_path / "images", per_class=2, classes=("astronaut", "coffee"))
    bad = root / "coffee" / "001.png"
    bad.write_bytes(bad.read_bytes()[:60])  # the header survives, the pixels do not
    with pytest.raises(DataError, match=r"coffee/001\.png: not a readable image") as info:
        module(root, tmp_path / "data").setup()
    assert "\n" not in str(info.value)
    (root / "coffee" / "000.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match=r"coffee/000\.png: not a readable image"):
        read_header(root / "coffee" / "000.png")


def test_mixed_sizes_are_refused_naming_two_files_and_resized_when_asked(tmp_path: Path) -> None:
    root = write_class_folder(tmp_path / "images", per_class=2, classes=("astronaut", "coffee"))
    save_png(patches("coffee", 1, size=40)[0], root / "coffee" / "big.png")
    batches = module(root, tmp_path / "data")._batches(scan_folder(root))
    with pytest.raises(
        DataError, match=r"astronaut/000\.png is 32x32, .*coffee/big\.png is 40x40.*dataset\.image_size"
    ):
        decode_all(batches, 0, "test")
    resized = module(root, tmp_path / "data", image_size=[24, 28])._batches(scan_folder(root))
    assert decode_all(resized, 0, "test").shape == (5, 3, 24, 28)


def test_grayscale_images_join_a_colour_folder_as_three_equal_channels(tmp_path: Path) -> None:
    root = tmp_path / "images"
    pixels = patches("coffee", 2)
    save_png(pixels[0], root / "a" / "0.png", "I;16")  # grayscale first: the tensor starts with one channel
    save_png(pixels[1], root / "b" / "0.png")
    images = decode_all(module(root, tmp_path / "data")._batches(scan_folder(root)), 0, "test")
    assert images.shape == (2, 3, 32, 32)
    assert torch.equal(images[0, 0], images[0, 1]) and torch.equal(images[0, 0], images[0, 2])
    assert module(root, tmp_path / "data").shape().channels == 3


def test_image_size_and_channels_settings() -> None:
    assert (
        parse_image_size(None) is None and parse_image_size(28) == (28, 28) and parse_image_size([20, 30]) == (20, 30)
    )
    for bad in (0, [1, 2, 3], "28", [28.5, 2]):
        with pytest.raises(ConfigError, match=r"dataset\.image_size"):
            parse_image_size(bad)
    with pytest.raises(ConfigError, match=r"dataset\.channels=2"):
        ImageFolderDataModule(root="x", channels=2)


def test_decode_in_workers_equals_decode_in_process(class_folder: Path, tmp_path: Path) -> None:
    batches = module(class_folder, tmp_path)._batches(scan_folder(class_folder))
    assert torch.equal(decode_all(batches, 2, "test"), decode_all(batches, 0, "test"))


def test_cache_is_reused_and_refreshed_when_a_file_changes(tmp_path: Path) -> None:
    root = write_class_folder(tmp_path / "images", per_class=4, classes=("astronaut", "coffee"))
    first = module(root, tmp_path / "data")
    first_images, _ = first._decoded(first.folder())
    assert first.decoded_images == 8 and not first.cache_record["reused"]
    cached = list((tmp_path / "data" / "image_folder_cache").glob("*.pt"))
    assert len(cached) == 1 and not any(p.suffix == ".pt" for p in root.rglob("*"))  # nothing inside the root
    second = module(root, tmp_path / "data")
    second_images, _ = second._decoded(second.folder())
    assert second.decoded_images == 0 and second.cache_record["reused"] and torch.equal(first_images, second_images)
    touched = root / "coffee" / "000.png"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    third = module(root, tmp_path / "data")
    third._decoded(third.folder())
    assert third.decoded_images == 8
    fourth = module(root, tmp_path / "data", channels=1)  # another setting: another entry
    assert fourth._decoded(fourth.folder())[0].shape[1] == 1 and fourth.decoded_images == 8


def test_cache_inside_the_root_is_refused(tmp_path: Path) -> None:
    root = write_class_folder(tmp_path / "images", per_class=1, classes=("astronaut",))
    dm = module(root, root / "data")
    with pytest.raises(ConfigError, match=r"inside dataset\.root"):
        dm._decoded(dm.folder())


def test_channel_stats_match_numpy(class_folder: Path, tmp_path: Path) -> None:
    images = decode_all(module(class_folder, tmp_path)._batches(scan_folder(class_folder)), 0, "test")
    mean, std = image_stats(images, chunk=7)
    as_float = images.double().numpy() / 255
    np.testing.assert_allclose(mean, as_float.mean(axis=(0, 2, 3)), rtol=1e-9)
    np.testing.assert_allclose(std, as_float.std(axis=(0, 2, 3)), rtol=1e-6)


def test_image_batches_index_like_tensor_pairs(class_folder: Path, tmp_path: Path) -> None:
    batches = module(class_folder, tmp_path)._batches(scan_folder(class_folder))
    everything = decode_all(batches, 0, "test")
    index = torch.tensor([5, 0, 17])
    images, labels = batches[index]
    assert torch.equal(images, everything[index]) and labels.tolist() == [0, 0, 1]
    assert torch.equal(batches[slice(2, 6)][0], everything[2:6])


# -- CIFAR-10 -------------------------------------------------------------------------------------------------
def test_cifar_batches_read_in_the_published_layout(tmp_path: Path) -> None:
    folder = write_cifar_batches(tmp_path / "cifar-10-batches-py", per_batch=12)
    images, labels = read_cifar_batch(folder / "data_batch_1")
    raw = pickle.loads((folder / "data_batch_1").read_bytes())
    assert images.shape == (12, 3, 32, 32) and images.dtype == torch.uint8
    assert torch.equal(images[3, 1].flatten(), torch.from_numpy(raw[b"data"][3, 1024:2048]))  # green plane
    assert labels.tolist() == raw[b"labels"]
    assert read_label_names(folder / "batches.meta")[:2] == ["airplane", "automobile"]
    dm = Cifar10DataModule(data_dir=str(tmp_path / "data"), download=False, search_dirs=[str(tmp_path)])
    pool, test, names = dm.load()
    assert pool.images.shape == (60, 3, 32, 32) and len(test) == 12 and names[-1] == "truck"
    assert dm.shape().input_shape == (3, 32, 32) and list(dm.shape().class_names) == names


def test_cifar_bad_files_are_one_line(tmp_path: Path) -> None:
    folder = write_cifar_batches(tmp_path / "cifar-10-batches-py", per_batch=4)
    (folder / "test_batch").write_bytes(b"\x80\x02garbage")
    with pytest.raises(DataError, match="test_batch: not a CIFAR-10 python batch"):
        read_cifar_batch(folder / "test_batch")

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    (folder / "data_batch_2").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(DataError, match=r"data_batch_2: .*system is not part of a CIFAR-10 batch"):
        read_cifar_batch(folder / "data_batch_2")
    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(DataError, match="uint8 N x 3072"):
        read_cifar_batch(folder / "data_batch_3")
    (folder / "data_batch_1").unlink()
    dm = Cifar10DataModule(data_dir=str(tmp_path / "data"), download=False, search_dirs=[str(tmp_path)])
    with pytest.raises(ConvlabError, match=r"batches-py .* not found; searched .*dataset\.search_dirs") as info:
        dm.load()
    assert "\n" not in str(info.value)


# -- the data module: splits, normalisation, streaming --------------------------------------------------------
def test_one_folder_of_classes_is_split_stratified_and_seeded(class_folder: Path, tmp_path: Path) -> None:
    dm = module(class_folder, tmp_path, test_fraction=0.3, val_fraction=0.2)
    dm.setup()
    assert (len(dm.train), len(dm.val), len(dm.test)) == (16, 5, 9)
    assert torch.bincount(dm.test.labels).tolist() == [3, 3, 3]  # 30% of each class of 10
    again = module(class_folder, tmp_path, test_fraction=0.3, val_fraction=0.2)
    again.setup()
    assert torch.equal(again.test.images, dm.test.images) and torch.equal(again.train.images, dm.train.images)
    other = module(class_folder, tmp_path, test_fraction=0.3, val_fraction=0.2, split_seed=1)
    other.setup()
    assert not torch.equal(other.test.images, dm.test.images)
    mean, std = image_stats(torch.cat([dm.train.images, dm.val.images]))
    assert dm.describe()["normalization"] == {"mean": mean, "std": std}  # the training pool's own
    assert dm.shape().input_shape == (3, 32, 32) and dm.shape().class_names == tuple(sorted(PHOTOS))


def test_a_val_folder_is_the_validation_split(tmp_path: Path) -> None:
    dm = module(write_split_folder(tmp_path / "split", train=3, test=2, val=2), tmp_path / "data")
    dm.setup()
    assert (len(dm.train), len(dm.val), len(dm.test)) == (9, 6, 6)
    expected = decode_all(ImageFolderDataModule(root=str(tmp_path / "split"))._batches(dm.folder()), 0, "x")
    assert torch.equal(dm.val.images, expected[9:15]) and torch.equal(dm.test.images, expected[15:])


def model_batches(dm: ImageFolderDataModule, which: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """What the model gets: each batch of the loader after the transfer hook (augmented, normalised)."""
    return [dm.on_after_batch_transfer(batch, 0) for batch in getattr(dm, which)()]


@pytest.mark.parametrize("augment", [None, {"crop_padding": 2, "hflip": True}])
def test_streaming_gives_the_same_splits_and_batches_as_memory(
    class_folder: Path, tmp_path: Path, augment: dict | None
) -> None:
    memory = module(class_folder, tmp_path / "a", val_fraction=0.2, augment=augment)
    workers = 1 if augment else 0  # one case decodes in a worker process: the header scan, statistics, batches
    streamed = module(
        class_folder, tmp_path / "b", val_fraction=0.2, max_memory_gb=1e-9, augment=augment, num_workers=workers
    )
    memory.setup()
    streamed.setup()
    assert streamed.streaming and not memory.streaming
    assert torch.equal(streamed.test.images, memory.test.images) and streamed.mean == pytest.approx(memory.mean)
    for which in ("train_dataloader", "val_dataloader", "test_dataloader"):
        a, b = model_batches(memory, which), model_batches(streamed, which)
        assert len(a) == len(b) > 0
        for (xa, ya), (xb, yb) in zip(a, b, strict=True):
            assert torch.equal(ya, yb) and torch.equal(xa, xb)
    assert streamed.task_inputs()["example_input"].shape == (1, 3, 32, 32)
    again = module(class_folder, tmp_path / "b", val_fraction=0.2, max_memory_gb=1e-9)
    again.setup()
    assert again.describe()["image_cache"]["reused"] and again.mean == streamed.mean


def test_colour_behind_grayscale_first_images_asks_for_channels(tmp_path: Path) -> None:
    root = tmp_path / "images"
    pixels = patches("coffee", 3)
    save_png(pixels[0], root / "a" / "0.png", "I;16")
    save_png(pixels[1], root / "a" / "1.png")  # colour, but not first: shape() would say 1 channel
    save_png(pixels[2], root / "b" / "0.png", "I;16")
    with pytest.raises(DataError, match=r"some images are colour.*dataset\.channels=3"):
        module(root, tmp_path / "data").setup()
    dm = module(root, tmp_path / "data", channels=3, val_fraction=0.5, test_fraction=0.34)
    assert dm.shape().channels == 3
