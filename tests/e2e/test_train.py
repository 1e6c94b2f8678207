"""End to end through the compose API: train, test, results.json, checkpoints, eval."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import QUICK, fake_mnist, write_digit_csv, write_idx_files

from convlab.errors import ConfigError
from convlab.report.intervals import wilson_interval
from convlab.run.build import build_datamodule
from convlab.run.compose import compose_run
from convlab.run.evaluate import evaluate
from convlab.run.train import train
from convlab.runfiles.history import read_history
from convlab.runfiles.predictions import read_predictions
from convlab.runfiles.results import read_results

CONTRACT = {
    "status",
    "dataset",
    "model",
    "optim",
    "loss",
    "overrides",
    "params",
    "epochs",
    "train_seconds",
    "samples_per_second",
    "test",
    "class_names",
    "seed",
    "versions",
}


def check_contract(record: dict, run_dir: Path) -> dict:
    on_disk = read_results(run_dir)
    assert on_disk == json.loads(json.dumps(record))
    assert set(on_disk) >= CONTRACT
    test = on_disk["test"]
    assert {"acc", "f1_macro", "loss", "per_class", "confusion_matrix"} <= set(test)
    n = len(on_disk["class_names"])
    cm = np.array(test["confusion_matrix"])
    assert cm.shape == (n, n) and cm.sum() == test["samples"]
    assert test["acc"] == pytest.approx(np.trace(cm) / cm.sum())
    assert all(len(test["per_class"][k]) == n for k in ("precision", "recall", "f1"))
    assert test["f1_macro"] == pytest.approx(np.mean(test["per_class"]["f1"]), abs=1e-6)
    assert {"torch", "lightning"} <= set(on_disk["versions"])
    return on_disk


@pytest.mark.parametrize(
    ("model", "optim", "loss"),
    list(itertools.product(["mlp", "lenet", "cnn8"], ["sgd", "rmsprop"], ["ce", "mse"])),
)
def test_every_combination_trains_and_writes_results(compose_cfg, model: str, optim: str, loss: str) -> None:
    cfg = compose_cfg([*QUICK, f"model={model}", f"optim={optim}", f"loss={loss}"])
    record = train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    on_disk = check_contract(record, run_dir)
    assert on_disk["status"] == "ok"
    assert (on_disk["model"], on_disk["optim"], on_disk["loss"], on_disk["dataset"]) == (
        model,
        optim,
        loss,
        "digits",
    )
    assert f"model={model}" in on_disk["overrides"]
    assert (run_dir / "confusion_matrix.png").stat().st_size > 10_000


def test_checkpoints_load_with_weights_only_and_eval_reproduces_exactly(compose_cfg, tmp_path: Path) -> None:
    cfg = compose_cfg(
        [
            "trainer.max_epochs=2",
            "++trainer.limit_train_batches=4",
            "~callbacks.progress_bar",
            "++trainer.enable_progress_bar=false",
        ]
    )
    record = train(cfg)
    last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    ckpt = torch.load(last, weights_only=True)
    assert ckpt["epoch"] == 1 and "state_dict" in ckpt
    assert (Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt").is_file()

    eval_cfg = compose_run([f"ckpt_path={last}"], tmp_path / "eval", config_name="eval")
    again = evaluate(eval_cfg)
    assert again["test"] == record["test"]
    assert again["flops_per_sample"] == record["flops_per_sample"] and "history" not in again
    trained, evaluated = read_predictions(cfg.paths.output_dir), read_predictions(tmp_path / "eval")
    assert np.array_equal(trained.pred, evaluated.pred) and np.array_equal(trained.prob, evaluated.prob)
    assert (tmp_path / "eval" / "mistakes.png").is_file()
    assert read_results(tmp_path / "eval")["test"] == record["test"]
    assert again["model"] == "lenet" and again["overrides"] == record["overrides"]


def test_history_and_predictions_agree_with_results_json(compose_cfg) -> None:
    overrides = ["trainer.max_epochs=3", "++trainer.limit_train_batches=3", "++trainer.num_sanity_val_steps=1"]
    cfg = compose_cfg([*overrides, *(o for o in QUICK if "max_epochs" not in o and "limit_train" not in o)])
    record = train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    on_disk = check_contract(record, run_dir)
    assert on_disk["history"] == "history.csv" and on_disk["predictions"] == "predictions.npz"
    assert on_disk["flops_per_sample"] == 1_504_224  # LeNet, see tests/unit/test_flops.py

    # One row per epoch (none for the sanity check before training); the last one's validation is the record's.
    rows = read_history(run_dir / on_disk["history"])
    assert [r["epoch"] for r in rows] == [1, 2, 3] and [r["step"] for r in rows] == [3, 6, 9]
    assert all(None not in r.values() for r in rows) and rows[0]["seconds"] <= rows[-1]["seconds"]
    assert {"loss": rows[-1]["val_loss"], "acc": rows[-1]["val_acc"]} == on_disk["val"]

    # Every test sample once, in the test split's order, agreeing exactly with the test section.
    test = on_disk["test"]
    found = read_predictions(run_dir / on_disk["predictions"])
    datamodule = build_datamodule(cfg)
    assert found.fingerprint == test["fingerprint"] == datamodule.test_fingerprint()
    assert np.array_equal(found.label, datamodule.test.labels.numpy()) and len(found) == test["samples"]
    n = len(on_disk["class_names"])
    cm = np.zeros((n, n), dtype=int)
    np.add.at(cm, (found.label, found.pred), 1)
    assert cm.tolist() == test["confusion_matrix"]
    assert test["acc"] == pytest.approx(found.correct.mean(), abs=1e-7)  # torchmetrics' float32
    assert test["acc_ci95"] == list(wilson_interval(int(found.correct.sum()), len(found)))
    assert test["acc_ci_method"] == "wilson" and test["acc_ci95"][0] < test["acc"] < test["acc_ci95"][1]
    assert ((found.prob > 1 / n) & (found.prob <= 1)).all()  # the predicted class's softmax probability
    wrong = np.flatnonzero(~found.correct)
    assert sorted(found.mistake_index.tolist()) == sorted(wrong.tolist())  # fewer than the file's cap of 1000
    assert np.array_equal(found.mistake_images, datamodule.test.images.numpy()[found.mistake_index])
    assert (run_dir / "mistakes.png").stat().st_size > 10_000


def test_mnist_from_generated_idx_files(compose_cfg, tmp_path: Path) -> None:
    write_idx_files(tmp_path / "data" / "MNIST" / "raw", fake_mnist(300, 100), gz=True)
    cfg = compose_cfg(
        [
            "dataset=mnist",
            "dataset.download=false",
            "trainer.max_epochs=3",
            "~callbacks.progress_bar",
            "++trainer.enable_progress_bar=false",
        ]
    )
    record = train(cfg)
    assert record["status"] == "ok" and record["dataset"] == "mnist"
    assert record["test"]["samples"] == 100 and record["split_sizes"] == {
        "train": 270,
        "val": 30,
        "test": 100,
    }
    assert record["test"]["acc"] > 0.5  # the bars are easy: proves real learning on the files' labels


def test_csv_dataset_trains(compose_cfg, tmp_path: Path) -> None:
    data = fake_mnist(200, 0)
    path = write_digit_csv(tmp_path / "train.csv", data["train-images-idx3-ubyte"], data["train-labels-idx1-ubyte"])
    record = train(compose_cfg([*QUICK, "dataset=csv", f"dataset.path={path}"]))
    assert record["status"] == "ok" and record["test"]["samples"] == 50


def test_nan_loss_is_recorded_as_diverged(compose_cfg) -> None:
    cfg = compose_cfg([*QUICK, "optim=sgd", "optim.lr=1e30", "model=mlp"])
    record = train(cfg)
    assert record["status"] == "diverged" and "step" in record["error"]
    assert read_results(cfg.paths.output_dir)["status"] == "diverged"


def test_never_overwrites_a_finished_run(compose_cfg) -> None:
    cfg = compose_cfg(QUICK)
    train(cfg)
    before = (Path(cfg.paths.output_dir) / "results.json").read_bytes()
    with pytest.raises(ConfigError, match=r"already holds another run's results\.json"):
        train(cfg)
    assert (Path(cfg.paths.output_dir) / "results.json").read_bytes() == before
