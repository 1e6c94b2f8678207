"""Training throughput of convlab against a hand-written loop and the common tutorial pipeline.

Three pipelines train the same model with the same optimizer and threads on the same data:

- ``convlab``:   train() exactly as `python train.py` runs it (Task, Trainer, data module, metrics,
                 callbacks, CSV logger); the figure is the samples/s that train() itself records.
- ``hand_loop``: a minimal PyTorch loop over the same in-memory uint8 tensors, normalised per batch
                 the same way: the limit any harness can reach.
- ``tutorial``:  a torchvision dataset with ToTensor + Normalize and a DataLoader (num_workers=0), the
                 pipeline most tutorials use.

Measurements are interleaved (every model x batch size x pipeline once per repetition) so a noisy
neighbour slows all pipelines alike, and medians are reported.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from convlab.compose import compose_run
from convlab.data.mnist import FashionMnistDataModule
from convlab.data.tensor_data import TensorDataModule

PIPELINES = ("convlab", "hand_loop", "tutorial")
MODELS = ("mlp", "lenet", "cnn8")
BATCH_SIZES = (32, 64, 256)
# Samples per measurement, so that each takes a few seconds whatever the model's speed.
SAMPLE_BUDGET = {"mlp": 24_000, "lenet": 9_000, "cnn8": 1_600}
ROOT = Path(__file__).resolve().parents[2]
FASHION_DIR = "/usr/share/datasets/fashion-mnist"


@dataclass
class Row:
    model: str
    batch_size: int
    pipeline: str
    samples_per_second: float


def bench_dataset(data_dir: str) -> str:
    """Fashion-MNIST when its files can be found offline, else the bundled digits."""
    fashion = FashionMnistDataModule(data_dir=data_dir, download=False, search_dirs=[FASHION_DIR])
    try:
        fashion.prepare_data()
    except Exception:
        return "digits"
    return "fashion_mnist"


class Bench:
    """Runs the three pipelines for one dataset, reusing one loaded data module per process."""

    def __init__(self, dataset: str, workdir: Path, threads: int, variant: Sequence[str] = ()) -> None:
        self.dataset, self.workdir, self.threads = dataset, workdir, threads
        self.variant = list(variant)  # extra overrides, e.g. channels_last=true, for all pipelines
        self._datamodules: dict[int, TensorDataModule] = {}
        self._runs = 0

    def overrides(self, model: str, batch_size: int, steps: int, full_test: bool = False) -> list[str]:
        return [
            f"dataset={self.dataset}",
            f"model={model}",
            f"dataset.batch_size={batch_size}",
            f"threads={self.threads}",
            "trainer.max_epochs=1",
            f"++trainer.limit_train_batches={steps}",
            "++trainer.limit_val_batches=1",
            *([] if full_test else ["++trainer.limit_test_batches=1"]),
            *self.variant,
        ]

    def config(self, model: str, batch_size: int, steps: int) -> DictConfig:
        self._runs += 1
        return compose_run(self.overrides(model, batch_size, steps), self.workdir / f"run{self._runs}")

    def datamodule(self, cfg: DictConfig) -> TensorDataModule:
        key = cfg.dataset.batch_size
        if key not in self._datamodules:
            dm = instantiate(cfg.dataset)
            dm.prepare_data()
            dm.setup("fit")
            self._datamodules[key] = dm
        return self._datamodules[key]

    # -- the three pipelines -------------------------------------------------------------------------
    def convlab(self, model: str, batch_size: int, steps: int) -> float:
        from convlab.train import train

        with contextlib.redirect_stdout(io.StringIO()):  # the per-run summary is noise here
            record = train(self.config(model, batch_size, steps))
        return float(record["samples_per_second"])

    def hand_loop(self, model: str, batch_size: int, steps: int) -> float:
        cfg = self.config(model, batch_size, steps)
        dm = self.datamodule(cfg)
        net, loss_fn, optimizer = self._parts(cfg)
        images, labels = dm.train.images, dm.train.labels
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
        starts = [(i * batch_size) % (len(labels) - batch_size) for i in range(steps)]
        start = time.perf_counter()
        for s in starts:
            index = order[s : s + batch_size]
            x, y = dm.normalize(images.index_select(0, index)), labels.index_select(0, index)
            optimizer.zero_grad(set_to_none=True)
            loss_fn(net(x), y).backward()
            optimizer.step()
        return steps * batch_size / (time.perf_counter() - start)

    def tutorial(self, model: str, batch_size: int, steps: int) -> float:
        from torch.utils.data import DataLoader
        from torchvision import transforms

        cfg = self.config(model, batch_size, steps)
        dm = self.datamodule(cfg)
        transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((dm.mean,), (dm.std,))])
        dataset = _pil_dataset(self.dataset, dm, transform, self.workdir / "tutorial_data")
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=True)
        net, loss_fn, optimizer = self._parts(cfg)
        done, start = 0, time.perf_counter()
        while done < steps:
            for x, y in loader:
                optimizer.zero_grad(set_to_none=True)
                loss_fn(net(x), y).backward()
                optimizer.step()
                done += 1
                if done == steps:
                    break
        return steps * batch_size / (time.perf_counter() - start)

    def _parts(self, cfg: DictConfig) -> tuple[torch.nn.Module, Callable, torch.optim.Optimizer]:
        torch.manual_seed(0)
        net = instantiate(cfg.model)
        if cfg.get("channels_last"):
            net = net.to(memory_format=torch.channels_last)
        return net.train(), instantiate(cfg.loss), instantiate(cfg.optim)(net.parameters())


def _pil_dataset(dataset: str, dm: TensorDataModule, transform: Callable, scratch: Path) -> torch.utils.data.Dataset:
    """The tutorial's dataset: torchvision's own class, decoding a PIL image per sample.

    torchvision reads only uncompressed files in its own layout; convlab reads the files where they lie, so
    they are decompressed into ``scratch`` (the benchmark's own folder), never beside the originals."""
    if dataset == "fashion_mnist":
        from torchvision.datasets import FashionMNIST

        from convlab.data.idx import gunzip

        raw = scratch / "FashionMNIST" / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for name, path in dm._find_files().items():
            if (raw / name).is_file():
                continue
            if path.suffix == ".gz":
                gunzip(path, raw / name)
            else:
                shutil.copyfile(path, raw / name)
        return FashionMNIST(str(scratch), train=True, transform=transform)
    return _PilImages(dm.train.images, dm.train.labels, transform)


class _PilImages(torch.utils.data.Dataset):
    """Digits wrapped like torchvision's MNIST.__getitem__: tensor -> PIL image -> transform."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform: Callable) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i].numpy(), mode="L")), int(self.labels[i])


def measure(
    bench: Bench,
    models: Iterable[str],
    batch_sizes: Iterable[int],
    pipelines: Iterable[str],
    repetitions: int,
    budget_scale: float,
    progress: Callable[[str], None] = lambda s: None,
) -> list[Row]:
    """Interleaved repetitions; returns one row per (model, batch size, pipeline) with the median."""
    samples: dict[tuple[str, int, str], list[float]] = {}
    for rep in range(repetitions):
        for model in models:
            for batch_size in batch_sizes:
                steps = max(4, int(SAMPLE_BUDGET[model] * budget_scale) // batch_size)
                for pipeline in pipelines:
                    rate = getattr(bench, pipeline)(model, batch_size, steps)
                    samples.setdefault((model, batch_size, pipeline), []).append(rate)
                    progress(f"rep {rep + 1}/{repetitions} {model:5s} bs {batch_size:3d} {pipeline:9s} {rate:9.0f}/s")
    return [Row(m, b, p, round(statistics.median(v), 1)) for (m, b, p), v in samples.items()]


def ratios(rows: Sequence[Row]) -> dict[tuple[str, int], dict[str, float]]:
    """a/b (convlab / hand loop) and a/c (convlab / tutorial) per model and batch size."""
    by_key: dict[tuple[str, int], dict[str, float]] = {}
    for r in rows:
        by_key.setdefault((r.model, r.batch_size), {})[r.pipeline] = r.samples_per_second
    out = {}
    for key, rates in by_key.items():
        a = rates.get("convlab")
        out[key] = {
            **rates,
            "a/b": a / rates["hand_loop"] if a and rates.get("hand_loop") else float("nan"),
            "a/c": a / rates["tutorial"] if a and rates.get("tutorial") else float("nan"),
        }
    return out


# -- whole-process measurements ------------------------------------------------------------------------
def _train_command(*overrides: str) -> list[str]:
    return [sys.executable, str(ROOT / "train.py"), *overrides]


def startup_seconds(workdir: Path, repetitions: int = 3) -> float:
    """Median seconds from launching `python train.py` to the end of its first optimizer step."""
    times = []
    for i in range(repetitions):
        probe = workdir / f"first_step_{i}.json"
        launched = time.time()
        subprocess.run(
            _train_command(
                "trainer.max_epochs=1",
                "++trainer.limit_train_batches=1",
                "++trainer.limit_val_batches=1",
                "++trainer.limit_test_batches=1",
                "+callbacks.first_step._target_=convlab.bench.FirstStepProbe",
                f"+callbacks.first_step.path={probe}",
            ),
            cwd=workdir,
            check=True,
            capture_output=True,
        )
        times.append(json.loads(probe.read_text())["unix_time"] - launched)
    return statistics.median(times)


def import_seconds(module: str, repetitions: int = 3) -> float:
    """Median wall time of `python -c "import <module>"` (the floor under start-up)."""
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# Runs a command and prints its peak RSS in KB. The measuring process must be small: on Linux a child
# started with vfork (as subprocess does) inherits the high-water RSS of its parent's memory at exec, so
# measuring from the benchmark process itself would report the benchmark's own size.
_PEAK_RSS_PROBE = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_rss_mb(workdir: Path, dataset: str) -> float:
    """Peak resident memory of a full one-epoch LeNet run in its own process (MB)."""
    command = _train_command(f"dataset={dataset}", "model=lenet", "trainer.max_epochs=1")
    probe = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_PROBE, *command], cwd=workdir, check=True, capture_output=True, text=True
    )
    return int(probe.stdout.split()[-1]) / 1024


def eval_samples_per_second(bench: Bench, model: str) -> float:
    """Test-set samples/s of convlab's evaluation path, as train() records it."""
    from convlab.train import train

    cfg = compose_run(bench.overrides(model, 64, 1, full_test=True), bench.workdir / f"eval_{model}")
    with contextlib.redirect_stdout(io.StringIO()):
        record = train(cfg)
    return float(record["test_samples_per_second"])


class FirstStepProbe(pl.Callback):
    """Writes the wall-clock time at the end of the first optimizer step to ``path``.

    The start-up benchmark adds it to a run with
    ``+callbacks.first_step._target_=convlab.bench.FirstStepProbe +callbacks.first_step.path=probe.json``.
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step == 1 and not self.path.exists():
            self.path.write_text(json.dumps({"unix_time": time.time()}))


def write_json(path: str | Path, rows: Sequence[Row]) -> None:
    from convlab.fileio import atomic_write_json

    atomic_write_json(path, [asdict(r) for r in rows])


def default_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def temporary_workdir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="convlab-bench-")
