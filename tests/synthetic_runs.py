"""Synthetic finished runs for report tests and benchmarks: results.json, history.csv and predictions.npz
written through the contract modules, with MNIST-like numbers (10 classes, one shared test set)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convlab.report.intervals import wilson_interval
from convlab.runfiles.history import write_history
from convlab.runfiles.predictions import test_set_fingerprint, write_predictions
from convlab.runfiles.results import RunRecord, write_results

CLASSES = [str(c) for c in range(10)]
# model -> (params, FLOPs per sample, best accuracy it reaches, seconds per epoch)
MODELS = {
    "mlp": (669_706, 1_339_392, 0.975, 1.5),
    "lenet": (102_130, 651_920, 0.988, 3.0),
    "cnn8": (7_293_578, 36_000_000, 0.993, 9.0),
}
LRS = (0.001, 0.01, 0.1, 1.0)
BATCH_SIZES = (32, 64, 128, 256)


@dataclass
class TestSet:
    images: np.ndarray  # uint8 (N, 28, 28)
    labels: np.ndarray
    hardness: np.ndarray  # per sample, shared by every job: hard samples are wrong in most jobs
    fingerprint: str


def make_test_set(samples: int, seed: int = 0) -> TestSet:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, samples)
    images = rng.integers(0, 60, (samples, 28, 28), dtype=np.uint8)
    for i, c in enumerate(labels):
        images[i, 2 + 2 * c : 5 + 2 * c, 5:23] = 240  # a bar per class: the gallery shows something
    return TestSet(images, labels, rng.random(samples), test_set_fingerprint(images, labels))


def true_accuracy(model: str, lr: float, batch_size: int) -> float:
    """What a configuration reaches: its model's best, less for a poor learning rate; lr=1 diverges to chance
    for the CNN."""
    best = MODELS[model][2]
    if model == "cnn8" and lr >= 1.0:
        return 0.1
    penalty = 0.025 * abs(np.log10(lr) + 1) * (1 + batch_size / 256)  # best at lr=0.1
    return best - penalty


def write_run(run_dir: Path, test: TestSet, model: str, lr: float, batch_size: int, seed: int, epochs: int = 8) -> Path:
    """One finished job: predictions drawn so its accuracy is near its configuration's, metrics that agree."""
    rng = np.random.default_rng([seed, int(lr * 1000), batch_size, len(model)])
    accuracy = float(np.clip(true_accuracy(model, lr, batch_size) + rng.normal(0, 0.003), 0.05, 0.999))
    score = 0.75 * test.hardness + 0.25 * rng.random(len(test.labels))  # low: easy, shared across jobs
    correct = score < np.quantile(score, accuracy)
    pred = np.where(correct, test.labels, (test.labels + rng.integers(1, 10, len(test.labels))) % 10)
    if accuracy <= 0.1:  # at chance: one class for everything, as a diverged CNN does
        pred = np.full_like(test.labels, 1)
    prob = np.where(pred == test.labels, rng.uniform(0.6, 1.0, len(pred)), rng.uniform(0.3, 0.99, len(pred)))
    write_predictions(run_dir, test.labels, pred, prob, test.images, test.fingerprint)

    cm = np.zeros((10, 10), dtype=int)
    np.add.at(cm, (test.labels, pred), 1)
    precision = np.diag(cm) / np.maximum(cm.sum(0), 1)
    recall = np.diag(cm) / np.maximum(cm.sum(1), 1)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)
    n, right = len(pred), int(np.sum(pred == test.labels))
    val_acc = float(np.clip(right / n - 0.01 + rng.normal(0, 0.004), 0, 1))

    rows, seconds = [], 0.0
    per_epoch = MODELS[model][3] * 256 / batch_size
    for epoch in range(1, epochs + 1):
        progress = 1 - np.exp(-epoch / 2.0)
        seconds += per_epoch * rng.uniform(0.9, 1.1)
        rows.append(
            {
                "epoch": epoch,
                "step": epoch * 54_000 // batch_size,
                "train_loss": 2.3 * (1 - progress) + 0.05 + rng.normal(0, 0.01),
                "train_acc": 0.1 + (val_acc + 0.01 - 0.1) * progress,
                "val_loss": 2.3 * (1 - progress) + 0.08 + rng.normal(0, 0.01),
                "val_acc": 0.1 + (val_acc - 0.1) * progress if epoch < epochs else val_acc,
                "seconds": round(seconds, 3),
            }
        )
    write_history(run_dir, rows)
    params, flops = MODELS[model][0], MODELS[model][1]
    record: RunRecord = {
        "status": "ok",
        "dataset": "mnist",
        "model": model,
        "optim": "sgd",
        "loss": "ce",
        "task": "classification",
        "overrides": [f"dataset.batch_size={batch_size}", f"model={model}", f"optim.lr={lr}", f"seed={seed}"],
        "seed": seed,
        "params": params,
        "flops_per_sample": flops,
        "epochs": epochs,
        "steps": rows[-1]["step"],
        "train_seconds": round(seconds, 2),
        "samples_per_second": round(54_000 * epochs / seconds, 1),
        "class_names": CLASSES,
        "val": {"acc": val_acc, "loss": rows[-1]["val_loss"]},
        "test": {
            "acc": right / n,
            "f1_macro": float(f1.mean()),
            "loss": float(0.05 + (1 - right / n)),
            "samples": n,
            "per_class": {"precision": precision.tolist(), "recall": recall.tolist(), "f1": f1.tolist()},
            "confusion_matrix": cm.tolist(),
            "fingerprint": test.fingerprint,
            "acc_ci95": list(wilson_interval(right, n)),
            "acc_ci_method": "wilson",
        },
        "history": "history.csv",
        "predictions": "predictions.npz",
    }
    return write_results(run_dir, record)


def write_sweep(root: Path, runs: int = 300, configurations: int = 48, samples: int = 2000, seed: int = 0) -> Path:
    """A sweep directory of ``runs`` jobs over ``configurations`` (model x lr x batch size), 3 to 10 seeds
    each, in Hydra's ``<n>_<overrides>`` job directories."""
    grid = list(itertools.product(MODELS, LRS, BATCH_SIZES))[:configurations]
    rng = np.random.default_rng(seed)
    seeds = [min(3, runs // len(grid))] * len(grid)
    while sum(seeds) < runs:  # spread the rest, at most 10 seeds each
        i = int(rng.integers(len(grid)))
        seeds[i] += seeds[i] < 10
    test = make_test_set(samples, seed)
    job = 0
    for (model, lr, batch_size), count in zip(grid, seeds, strict=True):
        for s in range(count):
            name = f"{job}_dataset.batch_size={batch_size},model={model},optim.lr={lr},seed={s}"
            write_run(root / name, test, model, lr, batch_size, s)
            job += 1
    return root
