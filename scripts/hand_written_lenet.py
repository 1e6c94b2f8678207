"""The plain PyTorch script convlab's benchmark compares `python train.py` with (it does not import convlab).

    python scripts/hand_written_lenet.py [--data-dir /usr/share/datasets/fashion-mnist] [--threads 2] [--steps N]

What a researcher would write instead of convlab for `python train.py dataset=fashion_mnist model=lenet
optim=rmsprop trainer.max_epochs=1`: read Fashion-MNIST's IDX .gz files, hold out the same stratified 10% for
validation (convlab's split, so the same 54k training images), train LeNet one epoch with RMSprop at batch 64 on
plain NCHW float batches, evaluate on the 10k test images, write nothing. Prints one JSON line: its training
samples/s (the training loop alone), test accuracy, parameter count and the environment it saw.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

# What the benchmark records of a child's environment: the variables that change how torch runs.
PERFORMANCE_VARIABLES = ("OMP_", "GOMP_", "KMP_", "MKL_", "OPENBLAS_", "TORCH", "PYTORCH", "LD_PRELOAD")


def read_idx_gz(path: Path) -> torch.Tensor:
    data = gzip.decompress(path.read_bytes())
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return torch.from_numpy(np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape).copy())


def training_indices(labels: torch.Tensor, fraction: float = 0.1, seed: int = 1) -> torch.Tensor:
    """The images left after holding out ``fraction`` of every class, as convlab's default split does."""
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(np.arange(len(labels)), test_size=fraction, stratify=labels.numpy(), random_state=seed)
    return torch.from_numpy(np.sort(keep))


def lenet() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 120), nn.ReLU(), nn.Linear(120, 10),
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps (default: one epoch)")
    parser.add_argument("--test-batches", type=int, default=None, help="test on this many batches of 512 (all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    folder = Path(args.data_dir)
    train_x, train_y = (read_idx_gz(folder / f"train-{k}.gz") for k in ("images-idx3-ubyte", "labels-idx1-ubyte"))
    test_x, test_y = (read_idx_gz(folder / f"t10k-{k}.gz") for k in ("images-idx3-ubyte", "labels-idx1-ubyte"))
    keep = training_indices(train_y)
    train_x, train_y = train_x[keep], train_y[keep].long()
    mean, std = 0.2860, 0.3530

    def normalize(images: torch.Tensor) -> torch.Tensor:
        return (images.unsqueeze(1).float() / 255 - mean) / std

    model = lenet()
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(len(train_y))
    batches = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)][: args.steps]
    model.train()
    start = time.perf_counter()
    for index in batches:
        x, y = normalize(train_x.index_select(0, index)), train_y.index_select(0, index)
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    train_seconds = time.perf_counter() - start
    samples = sum(len(b) for b in batches)

    model.eval()
    correct = total = 0
    with torch.no_grad():
        for i, first in enumerate(range(0, len(test_y), 512)):
            if args.test_batches is not None and i >= args.test_batches:
                break
            logits = model(normalize(test_x[first : first + 512]))
            correct += int((logits.argmax(1) == test_y[first : first + 512]).sum())
            total += len(logits)
    env = {k: v for k, v in os.environ.items() if k.startswith(PERFORMANCE_VARIABLES)}
    print(
        json.dumps(
            {
                "train_samples": samples,
                "train_seconds": round(train_seconds, 3),
                "samples_per_second": round(samples / train_seconds, 1),
                "test_acc": correct / total,
                "test_samples": total,
                "params": sum(p.numel() for p in model.parameters()),
                "threads": torch.get_num_threads(),
                "environment_seen": env,
            }
        )
    )


if __name__ == "__main__":
    main()
