"""The default NHWC layout (channels_last=true): same-seed runs stay bit-identical, and it trains like NCHW.

Only summation order differs between the layouts, so after some hundred steps the two runs differ a little
(docs/performance.md says so) but must learn alike.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import QUICK

from convlab.run.train import train
from convlab.runfiles.history import HISTORY_NAME, read_history
from convlab.runfiles.results import read_results


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def test_channels_last_is_the_default_for_batches_and_conv_weights(compose_cfg) -> None:
    cfg = compose_cfg([*QUICK, "model=lenet"])
    assert cfg.channels_last is True and cfg.dataset.channels_last is True
    from convlab.run.build import build_datamodule, build_task

    dm = build_datamodule(cfg)
    task = build_task(cfg, dm)
    images, _ = next(iter(dm.train_dataloader()))
    assert dm.normalize(images).is_contiguous(memory_format=torch.channels_last)
    conv = task.model.features[3].weight  # the 16 -> 32 conv: more than one input channel, so the layouts differ
    assert conv.shape[1] > 1 and conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()


def test_same_seed_lenet_runs_are_bit_identical_with_two_threads(compose_cfg) -> None:
    run = [*(o for o in QUICK if "limit_train" not in o), "model=lenet", "++trainer.limit_train_batches=8", "threads=2"]
    dirs = []
    for name in ("a", "b"):
        cfg = compose_cfg(run, name)
        train(cfg)
        dirs.append(Path(cfg.paths.output_dir))
    a, b = (final_weights(d) for d in dirs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert read_results(dirs[0])["test"] == read_results(dirs[1])["test"]


def test_the_mlp_and_the_sobel_experiment_compute_exactly_what_they_did_in_nchw(compose_cfg) -> None:
    """The MLP has no conv: a one-channel batch is the same bytes in both layouts. experiment=sobel keeps NCHW."""
    mlp = [*QUICK, "model=mlp", "++trainer.limit_train_batches=6", "threads=2"]
    assert (
        train(compose_cfg(mlp, "mlp_nhwc"))["test"] == train(compose_cfg([*mlp, "channels_last=false"], "mlp"))["test"]
    )
    # experiment=sobel keeps NCHW: its figures in docs/what-the-network-sees.md (a 3x3 kernel to 8 digits) are NCHW's
    assert compose_cfg(["experiment=sobel"], "sobel").channels_last is False


@pytest.mark.slow
@pytest.mark.parametrize("model", ["lenet", "cnn8"])
def test_nhwc_trains_like_nchw_over_hundreds_of_steps(compose_cfg, model: str) -> None:
    """The default 10-epoch digits run (210 steps at batch 64 for LeNet; CNN8 6 epochs, 126 steps), both layouts."""
    epochs = 10 if model == "lenet" else 6
    base = [f"model={model}", f"trainer.max_epochs={epochs}", "~callbacks.progress_bar", "threads=2"]
    runs = {}
    for name, extra in (("nhwc", []), ("nchw", ["channels_last=false"]), ("nhwc_again", [])):
        cfg = compose_cfg([*base, *extra], name)
        runs[name] = (train(cfg), read_history(Path(cfg.paths.output_dir) / HISTORY_NAME))
    (nhwc, nhwc_curve), (nchw, nchw_curve), (again, _) = runs["nhwc"], runs["nchw"], runs["nhwc_again"]
    assert nhwc["steps"] == nchw["steps"] >= 120
    assert nhwc["test"] == again["test"]  # the same seed: the same figures, to the last bit
    assert nhwc["test"]["acc"] > 0.85 and nchw["test"]["acc"] > 0.85  # both learnt the digits
    # Summation order alone: the learning curves agree after every epoch, not only at the end.
    assert len(nhwc_curve) == len(nchw_curve) == epochs
    for a, b in zip(nhwc_curve, nchw_curve, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=0.15, abs=0.02)
        assert a["val_acc"] == pytest.approx(b["val_acc"], abs=0.04)
    assert abs(nhwc["test"]["acc"] - nchw["test"]["acc"]) <= 0.03
