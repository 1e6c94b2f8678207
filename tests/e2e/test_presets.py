"""The published results as presets (experiment=...), and scripts/reproduce.py comparing them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import QUICK, fake_mnist, write_idx_files

from convlab.cli.reproduce import main as reproduce
from convlab.config.checks import check_config
from convlab.config.instantiate import make
from convlab.config.overrides import group_choices
from convlab.report.compare import sweep_job_dirs
from convlab.run.train import train
from convlab.runfiles.results import read_results


def test_lenet_tutorial_is_the_tutorials_setup(compose_cfg) -> None:
    cfg = compose_cfg(["experiment=lenet_tutorial"])
    check_config(cfg)
    assert group_choices(cfg) | {"scheduler": cfg.scheduler} == {
        "dataset": "mnist",
        "model": "lenet",
        "optim": "sgd",
        "loss": "ce",
        "task": "classification",
        "scheduler": {},  # scheduler=none: a constant rate
    }
    assert (cfg.optim.lr, cfg.optim.momentum, cfg.dataset.batch_size, cfg.trainer.max_epochs) == (0.001, 0.9, 64, 10)
    data = make(cfg.dataset, "dataset")
    one_pixel_pair = torch.tensor([[[[0, 255]]]], dtype=torch.uint8)  # N x C x H x W
    assert data.normalize(one_pixel_pair).flatten().tolist() == [-1.0, 1.0]
    assert cfg.published.acc == 0.98 and "MNIST" in cfg.published.dataset


def test_cnn8_article_is_the_articles_setup(compose_cfg) -> None:
    cfg = compose_cfg(["experiment=cnn8_article"])
    check_config(cfg)
    choices = group_choices(cfg)
    assert cfg.dataset.pool_size == 42_000  # the digit-recognizer stand-in drawn from MNIST
    assert choices == {
        "dataset": "mnist_digit_recognizer",
        "model": "cnn8",
        "optim": "rmsprop",
        "loss": "mse",
        "task": "classification",
    }
    assert not cfg.scheduler and cfg.model.hidden_activation == "sigmoid" and cfg.loss.activation == "softmax"
    assert (cfg.optim.lr, cfg.optim.alpha, cfg.optim.eps) == (0.001, 0.9, 1e-7)  # Keras' RMSprop defaults
    assert (cfg.dataset.batch_size, cfg.dataset.test_fraction, cfg.trainer.max_epochs) == (32, 0.25, 10)
    assert cfg.published.acc == 0.967


def test_mlp_keras_is_the_keras_examples_setup(compose_cfg) -> None:
    cfg = compose_cfg(["experiment=mlp_keras"])
    check_config(cfg)
    choices = group_choices(cfg)
    assert choices == {"dataset": "mnist", "model": "mlp", "optim": "rmsprop", "loss": "ce", "task": "classification"}
    assert not cfg.scheduler and list(cfg.model.hidden) == [512, 512] and cfg.model.dropout == 0.2
    assert (cfg.dataset.batch_size, cfg.trainer.max_epochs) == (128, 20)
    assert cfg.published.acc == 0.984


def test_presets_take_another_dataset_from_the_command_line(compose_cfg) -> None:
    for preset in ("lenet_tutorial", "cnn8_article", "mlp_keras"):
        cfg = compose_cfg([f"experiment={preset}", "dataset=fashion_mnist"])
        check_config(cfg)
        assert group_choices(cfg)["dataset"] == "fashion_mnist"


def test_lenet_tutorial_trains_on_mnist_files(compose_cfg, tmp_path: Path) -> None:
    """The MNIST path an online user gets (files in torchvision's layout), with generated IDX files here."""
    write_idx_files(tmp_path / "data" / "MNIST" / "raw", fake_mnist(300, 100), gz=True)
    record = train(compose_cfg(["experiment=lenet_tutorial", "dataset.download=false", *QUICK]))
    assert record["status"] == "ok" and record["dataset"] == "mnist" and record["test"]["samples"] == 100


ROWS = [
    ("lenet_tutorial", "about 98% on MNIST", "102,130"),
    ("cnn8_article", "96.7% on digit-recognizer CSV", "7,293,578"),
    ("mlp_keras", "98.40% on MNIST", "669,706"),
]


@pytest.mark.parametrize(
    "presets",
    [
        ("mlp_keras",),  # one preset proves the table; the three together: the slow case
        pytest.param(("lenet_tutorial", "cnn8_article", "mlp_keras"), marks=pytest.mark.slow, id="all"),
    ],
)
def test_reproduce_quick_mode_writes_the_table(tmp_path: Path, capfd, presets: tuple[str, ...]) -> None:
    out = tmp_path / "repro"
    quick = ["trainer.max_epochs=1", "++trainer.limit_train_batches=2", "++trainer.limit_val_batches=1"]
    # no checkpoints (CNN8's are 88 MB each), progress bars or model summaries: the table needs results.json only
    switches = ("checkpointing", "progress_bar", "model_summary")
    quiet = ["callbacks=none", *(f"++trainer.enable_{k}=false" for k in switches)]
    assert reproduce(["dataset=digits", *quick, *quiet, "--presets", ",".join(presets), "--out", str(out)]) == 0
    stdout = capfd.readouterr().out
    table = (out / "reproduction.md").read_text()
    runs = [read_results(d) for d in sweep_job_dirs(out)]
    assert len(runs) == len(presets)
    assert "`python scripts/reproduce.py dataset=digits trainer.max_epochs=1" in table
    for preset, published, params in [row for row in ROWS if row[0] in presets]:
        (record,) = [r for r in runs if f"experiment={preset}" in r["overrides"]]
        assert record["status"] == "ok" and record["epochs"] == 1 and record["dataset"] == "digits"
        row = next(line for line in table.splitlines() if line.startswith(f"| `{preset}`"))
        assert published in row and params in row and f"**{record['test']['acc']:.2%}** on digits" in row
        assert row in stdout


def test_reproduce_refuses_bad_overrides_with_one_line(tmp_path: Path, capfd) -> None:
    out = tmp_path / "repro"
    for args, message in [
        (["dataset=nope"], "Could not find 'dataset/nope'"),
        (["optim.lr=-1"], "optim.lr=-1 is out of range"),
        (["--presets", "lenet_tutorial,nope"], "Could not find 'experiment/nope'"),
        (["experiment=mlp_keras"], "reproduce.py chooses experiment="),
    ]:
        with pytest.raises(SystemExit) as info:
            reproduce([*args, "--out", str(out)])
        assert info.value.code == 2
        (line,) = capfd.readouterr().err.strip().splitlines()
        assert line.startswith("convlab: error: ") and message in line
    assert not out.exists()
