"""experiment=sobel runs its full-batch steps as ONE epoch (trainer.max_steps of them), and learns exactly what the
old layout (one epoch per step) learned."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from convlab.config.checks import check_config
from convlab.errors import ConfigError
from convlab.run.train import train

QUIET = [
    "~callbacks.progress_bar",
    "++trainer.enable_progress_bar=false",
    "~callbacks.model_summary",
    "++trainer.enable_model_summary=false",
]


@pytest.fixture
def small_photo(tmp_path: Path) -> Path:
    from skimage import data

    path = tmp_path / "camera_crop.png"
    Image.fromarray(data.camera()[100:196, 150:278]).save(path)
    return path


def test_steps_are_one_epoch_with_checkpoints_every_n_steps_and_at_the_end(compose_cfg, small_photo: Path) -> None:
    cfg = compose_cfg(
        [
            "experiment=sobel",
            f"dataset.image={small_photo}",
            "dataset.held_out_image=null",
            "trainer.max_steps=50",
            "callbacks.model_checkpoint.every_n_train_steps=20",
            *QUIET,
        ]
    )
    record = train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    assert record["status"] == "ok" and record["filter"]["steps"] == 50
    assert (record["epochs"], record["steps"], record["steps_per_epoch"]) == (1, 50, 50)
    assert record["epoch_definition"].startswith("50 full-batch steps on the same image")
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 50 and record["checkpoints"]["last"].endswith("last.ckpt")
    assert torch.equal(last["state_dict"]["model.conv.weight"][0, 0], torch.tensor(record["filter"]["kernel"]))
    assert torch.load(run_dir / "checkpoints" / "best.ckpt", weights_only=True)["global_step"] in (20, 40)
    rows = (run_dir / "csv" / "metrics.csv").read_text().splitlines()
    assert sum(1 for r in rows[1:] if r.split(",")[-1]) == 50  # train/mse of every step


def test_one_epoch_of_n_steps_learns_the_same_kernel_as_n_epochs_of_one_step(compose_cfg, small_photo: Path) -> None:
    common = ["experiment=sobel", f"dataset.image={small_photo}", "dataset.held_out_image=null", "callbacks=none"]
    common += ["++trainer.enable_progress_bar=false", "++trainer.enable_model_summary=false"]
    one_epoch = train(compose_cfg([*common, "trainer.max_steps=60"], name="one_epoch"))
    old_layout = train(
        compose_cfg(
            [*common, "trainer.max_steps=-1", "trainer.max_epochs=60", "dataset.steps_per_epoch=1"], name="old_layout"
        )
    )
    assert old_layout["epochs"] == 60 and one_epoch["epochs"] == 1
    assert one_epoch["filter"]["kernel"] == old_layout["filter"]["kernel"]  # bit for bit
    assert one_epoch["test"] == old_layout["test"]


@pytest.mark.parametrize("value", ["-1", "0"])
def test_steps_per_epoch_below_one_is_refused_before_any_run(compose_cfg, value: str) -> None:
    with pytest.raises(ConfigError, match=rf"dataset.steps_per_epoch={value} is out of range"):
        check_config(compose_cfg(["experiment=sobel", f"trainer.max_steps={value}"]))
