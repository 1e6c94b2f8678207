"""Looking inside models: layer outputs as PNGs, read back from TensorBoard event files and W&B's offline run."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import QUICK
from PIL import Image

from convlab.cli.visualize import main
from convlab.run.compose import compose_run
from convlab.run.train import train
from convlab.viz.feature_maps import Picture, channel_grid, log_pictures

LENET_LAYER_FILES = [
    "00_input.png",
    "01_features.0_Conv2d.png",
    "02_features.1_ReLU.png",
    "03_features.2_MaxPool2d.png",
    "04_features.3_Conv2d.png",
    "05_features.4_ReLU.png",
    "06_features.5_MaxPool2d.png",
    "first_conv_filters.png",
    "overview.png",
]


def png_pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def tensorboard_images(log_dir: Path) -> dict[str, list[tuple[int, np.ndarray]]]:
    """Every image in the event files under ``log_dir``: tag -> [(step, pixels)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    found: dict[str, list[tuple[int, np.ndarray]]] = {}
    for events in sorted(log_dir.glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events), size_guidance={"images": 0})
        acc.Reload()
        for tag in acc.Tags()["images"]:
            for event in acc.Images(tag):
                with Image.open(io.BytesIO(event.encoded_image_string)) as image:
                    found.setdefault(tag, []).append((event.step, np.asarray(image.convert("RGB"))))
    return found


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A tiny real LeNet run on digits with TensorBoard and the feature-maps callback."""
    run_dir = tmp_path_factory.mktemp("viz") / "run"
    cfg = compose_run(["callbacks=feature_maps", "logger=[csv,tensorboard]", *QUICK], run_dir)
    return run_dir, train(cfg)


def test_callback_saves_every_layer_and_logs_the_same_pixels_to_tensorboard(lenet_run) -> None:
    run_dir, record = lenet_run
    assert record["status"] == "ok"
    folder = run_dir / "feature_maps"
    assert sorted(p.name for p in folder.glob("*.png")) == LENET_LAYER_FILES
    images = tensorboard_images(run_dir / "tensorboard")
    tag = "feature_maps/layers/01_features.0_Conv2d"
    assert tag in images and "feature_maps/weights/first_conv_filters" in images
    ((step, pixels),) = images[tag]
    assert step == 2  # logged at the end of training: QUICK runs 2 steps
    assert np.array_equal(pixels, png_pixels(folder / "01_features.0_Conv2d.png"))
    # 16 maps of 26x26 in a 4x4 grid, each enlarged 3x (to >= 56 pixels), 2-pixel borders
    assert png_pixels(folder / "01_features.0_Conv2d.png").shape[:2] == (4 * (78 + 2) + 2, 4 * (78 + 2) + 2)


def test_tensorboard_gets_the_confusion_matrix_and_the_mistakes_gallery(lenet_run) -> None:
    run_dir, record = lenet_run
    images = tensorboard_images(run_dir / "tensorboard")
    for tag, name in (("test/confusion_matrix", "confusion_matrix.png"), ("test/mistakes", "mistakes.png")):
        ((step, pixels),) = images[tag]
        assert step == record["epochs"] and np.array_equal(pixels, png_pixels(run_dir / name))


def test_visualize_rebuilds_the_trained_model_and_writes_pngs(lenet_run, capsys) -> None:
    run_dir, _ = lenet_run
    main([str(run_dir), "--index", "3"])
    out = capsys.readouterr().out
    folder = run_dir / "feature_maps" / "test_3"
    assert f"wrote {len(LENET_LAYER_FILES)} images in {folder}" in out and "logged to tensorboard" in out
    assert sorted(p.name for p in folder.glob("*.png")) == LENET_LAYER_FILES
    # The filters shown are the checkpoint's trained weights (loaded with weights_only=True), not a fresh init.
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    weights = state["model.features.0.weight"]
    assert np.array_equal(png_pixels(folder / "first_conv_filters.png"), channel_grid(weights.reshape(-1, 3, 3)))
    images = tensorboard_images(run_dir / "tensorboard")
    assert np.array_equal(
        images["feature_maps/test_3/layers/03_features.2_MaxPool2d"][0][1],
        png_pixels(folder / "03_features.2_MaxPool2d.png"),
    )
    hparams = (run_dir / "tensorboard" / "hparams.yaml").read_text()
    assert "dataset" in hparams  # the run's own hparams.yaml is left as training wrote it


def test_visualize_a_photo_and_a_checkpoint_path(lenet_run, capsys) -> None:
    run_dir, _ = lenet_run
    main([str(run_dir / "checkpoints" / "last.ckpt"), "--image", "cat"])
    folder = run_dir / "feature_maps" / "image_cat"
    assert f"images in {folder}" in capsys.readouterr().out
    assert png_pixels(folder / "00_input.png").shape[:2] == (56, 56)  # one 28x28 map, enlarged 2x
    assert (folder / "06_features.5_MaxPool2d.png").is_file()


def test_mlp_first_layer_weights_are_shown_as_28x28_images(tmp_path: Path, capsys) -> None:
    run_dir = tmp_path / "mlp"
    train(compose_run(["model=mlp", *QUICK], run_dir))
    main([str(run_dir)])
    folder = run_dir / "feature_maps" / "test_0"
    assert sorted(p.name for p in folder.glob("*.png")) == ["00_input.png", "mlp_first_layer.png", "overview.png"]
    grid = png_pixels(folder / "mlp_first_layer.png")
    assert grid.shape[:2] == (23 * 58 + 2, 23 * 58 + 2)  # 512 units in a 23 x 23 grid of 56-pixel tiles


def test_untrained_walkthrough_on_the_cat(tmp_path: Path, capsys) -> None:
    main(["--untrained", "--image", "cat", "--out", str(tmp_path / "cat")])
    names = sorted(p.name for p in (tmp_path / "cat").glob("*.png"))
    assert names[:7] == [
        "00_input.png",
        "01_conv3x3.png",
        "02_conv3x3_relu.png",
        "03_conv3x3_relu_pool.png",
        "04_conv10x10.png",
        "05_conv10x10_relu.png",
        "06_conv10x10_relu_pool.png",
    ]
    assert {"lenet_01_0_Conv2d.png", "lenet_06_5_MaxPool2d.png", "lenet_first_conv_filters.png"} <= set(names)
    assert png_pixels(tmp_path / "cat" / "00_input.png").shape[:2] == (300, 451)  # chelsea, full size
    pooled = png_pixels(tmp_path / "cat" / "03_conv3x3_relu_pool.png")
    assert pooled.shape[:2] == (298 // 5 + 4, 3 * (449 // 5) + 8)  # three 59x89 maps side by side


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere"], "nowhere: no such run directory or checkpoint file"),
        (["{empty}"], "no checkpoints/last.ckpt"),
        (["{corrupt}"], "corrupt or truncated checkpoint"),
        (["{run}", "--index", "5000"], "--index 5000 is out of range: the test split has 360 images"),
        (["{run}", "--image", "missing.png"], "--image=missing.png: no such file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(lenet_run, tmp_path: Path, capsys, args: list[str], message: str) -> None:
    run_dir, _ = lenet_run
    (tmp_path / "empty").mkdir()
    (tmp_path / "corrupt.ckpt").write_bytes(b"PK\x03\x04 not a checkpoint")
    places = {"empty": tmp_path / "empty", "corrupt": tmp_path / "corrupt.ckpt", "run": run_dir}
    with pytest.raises(SystemExit) as info:
        main([a.format(**places) for a in args])
    assert info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("convlab: error: ") and message in line


@pytest.mark.slow
def test_wandb_gets_the_same_uint8_pixels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An offline WandbLogger (W&B's server is never contacted) receives each picture as a wandb.Image."""
    from pytorch_lightning.loggers import WandbLogger

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    pixels = channel_grid(torch.linspace(-1, 1, 2 * 9 * 9).reshape(2, 9, 9))
    logger = WandbLogger(offline=True, save_dir=str(tmp_path), project="convlab-test")
    try:
        assert log_pictures([logger], [Picture("layers/01_conv", "01_conv", "conv", pixels)], step=7) == ["wandb"]
    finally:
        logger.experiment.finish()
    (png,) = tmp_path.glob("wandb/offline-run-*/files/media/images/layers/01_conv_*.png")
    assert np.array_equal(png_pixels(png), pixels)
