"""Training throughput of convlab against a hand-written loop and the common tutorial pipeline.

Three pipelines train the same model with the same optimizer and threads on the same data:

- ``convlab``:   train() exactly as `python train.py` runs it (Task, Trainer, data module, metrics,
                 callbacks, CSV logger); the figure is the samples/s that train() itself records.
- ``hand_loop``: a minimal PyTorch loop over the same in-memory uint8 tensors, normalised per batch
                 the same way, in PyTorch's default NCHW layout: the loop a researcher would write.
- ``tutorial``:  a torchvision dataset with ToTensor + Normalize and a DataLoader (num_workers=0), the
                 pipeline most tutorials use.

Measurements are interleaved (every model x batch size x pipeline once per repetition) so a noisy
neighbour slows all pipelines alike, and medians are reported.

These three run inside the benchmark's own process, which has imported torch and convlab. What a user's command
does is measured apart, in clean processes (``clean_pairs``): ``python train.py ...`` against the plain PyTorch
script scripts/hand_written_lenet.py, each started with the environment the benchmark itself was started with
(nothing convlab sets on import is inherited), in interleaved pairs; the training-throughput ratio and the
whole-command ratio are the medians over the pairs, with their spread.
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

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from convlab.data.mnist import FashionMnistDataModule
from convlab.data.tensor_data import TensorDataModule
from convlab.run.compose import compose_run

PIPELINES = ("convlab", "hand_loop", "tutorial")
MODELS = ("mlp", "lenet", "cnn8")
BATCH_SIZES = (32, 64, 256)
# Samples per measurement, so that each takes a few seconds whatever the model's speed.
SAMPLE_BUDGET = {"mlp": 24_000, "lenet": 9_000, "cnn8": 1_600}
ROOT = Path(__file__).resolve().parents[1]
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
HAND_SCRIPT = ROOT / "scripts" / "hand_written_lenet.py"
FASHION_FILES = [f"{s}-{k}" for s in ("train", "t10k") for k in ("images-idx3-ubyte", "labels-idx1-ubyte")]
# Values of variables with these in their names are not written to the benchmark's JSON.
SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL", "AUTH")


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
        self.variant = list(variant)  # extra overrides of convlab's config, e.g. channels_last=false
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
        from convlab.run.train import train

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
            x, y = dm.normalize(images.index_select(0, index)).contiguous(), labels.index_select(0, index)  # NCHW
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
        """The model, loss and optimizer a researcher would write: conv weights in PyTorch's default NCHW layout,
        whatever convlab's own ``channels_last`` (the rivals are the plain loop and the tutorial, not convlab)."""
        torch.manual_seed(0)
        net = instantiate(cfg.model)
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
    """Grayscale digits (N x 1 x H x W) served as torchvision's MNIST.__getitem__ does: tensor -> PIL -> transform."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform: Callable) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i, 0].numpy(), mode="L")), int(self.labels[i])  # 1 x H x W


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
                "+callbacks.first_step._target_=convlab.run.first_step_probe.FirstStepProbe",
                f"+callbacks.first_step.path={probe}",
            ),
            cwd=workdir,
            check=True,
            capture_output=True,
        )
        times.append(json.loads(probe.read_text())["unix_time"] - launched)
    return statistics.median(times)


def import_seconds(module: str, repetitions: int = 3, collector_paused: bool = False) -> float:
    """Median wall time of `python -c "import <module>"` (the floor under start-up); with ``collector_paused``,
    the way train.py loads it (convlab.run.collector: no cyclic garbage collection during the imports)."""
    code = f"import gc; gc.disable(); import {module}" if collector_paused else f"import {module}"
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
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
    from convlab.run.train import train

    cfg = compose_run(bench.overrides(model, 64, 1, full_test=True), bench.workdir / f"eval_{model}")
    with contextlib.redirect_stdout(io.StringIO()):
        record = train(cfg)
    return float(record["test_samples_per_second"])


# -- clean processes: the commands a user types, against a hand-written script ----------------------------------
def user_environment() -> dict[str, str]:
    """The environment this process was started with: what a user's own commands get. (convlab sets nothing
    on import; the benchmark's own settings, such as torch threads, never reach the children.)"""
    return dict(os.environ)


def recorded_environment(env: dict[str, str]) -> dict[str, str]:
    """A child's environment as the JSON records it: every variable, secret-looking values redacted."""
    return {k: "<redacted>" if any(m in k.upper() for m in SECRET_MARKERS) else v for k, v in sorted(env.items())}


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def machine_is_busy(threshold: float = 1.0) -> bool:
    """More than a core's worth of other work: a spinning hand loop collapses and ratios look falsely good."""
    return load_average() > threshold


def has_fashion_files(data_dir: str | Path) -> bool:
    return all((Path(data_dir) / f"{name}.gz").is_file() for name in FASHION_FILES)


@dataclass
class CleanRun:
    """One child process: what ran, in which environment, and what it measured."""

    program: str  # "convlab" (python train.py ...) or "hand_script" (scripts/hand_written_lenet.py)
    pair: int
    command: list[str]
    wall_seconds: float  # launch to exit: imports, data, training, test, writing
    samples_per_second: float  # the training loop alone (convlab: results.json's samples_per_second)
    test_acc: float
    load_average: float  # 1-minute load average when it was launched
    environment: dict[str, str]


def clean_commands(
    workdir: Path, data_dir: str | Path, threads: int, batch_size: int, steps: int | None, run_name: str
) -> dict[str, list[str]]:
    """``python train.py`` as a user types it for 1-epoch LeNet on Fashion-MNIST, and the hand-written script."""
    limits = (
        [f"++trainer.limit_train_batches={steps}", "++trainer.limit_val_batches=1", "++trainer.limit_test_batches=1"]
        if steps
        else []
    )
    convlab = [
        sys.executable,
        str(ROOT / "train.py"),
        "dataset=fashion_mnist",
        "model=lenet",
        "optim=rmsprop",
        "trainer.max_epochs=1",
        f"dataset.batch_size={batch_size}",
        f"threads={threads}",
        f"paths.data_dir={workdir / 'data'}",
        f"dataset.search_dirs=[{data_dir}]",
        f"hydra.run.dir={workdir / 'runs' / run_name}",
        *limits,
    ]
    hand = [sys.executable, str(HAND_SCRIPT), "--data-dir", str(data_dir), "--threads", str(threads)]
    hand += ["--batch-size", str(batch_size), *(["--steps", str(steps), "--test-batches", "1"] if steps else [])]
    return {"convlab": convlab, "hand_script": hand}


def run_clean(program: str, pair: int, command: list[str], workdir: Path, env: dict[str, str]) -> CleanRun:
    """Run one child in ``workdir`` with ``env``; read its figures from its results.json or its JSON line."""
    load = load_average()
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    if program == "convlab":
        from convlab.runfiles.results import read_results

        (run_dir,) = (c.split("=", 1)[1] for c in command if c.startswith("hydra.run.dir="))
        record = read_results(run_dir)
        rate, acc = record["samples_per_second"], record["test"]["acc"]
    else:
        record = json.loads(proc.stdout.strip().splitlines()[-1])
        rate, acc = record["samples_per_second"], record["test_acc"]
    return CleanRun(program, pair, command, round(wall, 3), float(rate), float(acc), load, recorded_environment(env))


def spread(values: Sequence[float]) -> dict[str, Any]:
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "values": [round(v, 4) for v in values],
    }


def clean_pairs(
    workdir: Path,
    data_dir: str | Path,
    threads: int,
    pairs: int = 5,
    batch_size: int = 64,
    steps: int | None = None,
    progress: Callable[[str], None] = lambda s: None,
) -> dict[str, Any]:
    """``pairs`` interleaved (convlab command, hand-written script) pairs, each a clean process, and per pair the
    ratios convlab / hand-written of training samples/s (higher is better for convlab) and of whole-command
    seconds (lower is better); ``steps`` cuts the epoch short (--quick)."""
    workdir.mkdir(parents=True, exist_ok=True)
    # convlab keeps decoded copies of the IDX files under paths.data_dir: made here once, as by a user's first run.
    FashionMnistDataModule(data_dir=str(workdir / "data"), download=False, search_dirs=[str(data_dir)]).prepare_data()
    env = user_environment()
    runs: list[CleanRun] = []
    for pair in range(pairs):
        commands = clean_commands(workdir, data_dir, threads, batch_size, steps, f"convlab_{pair}")
        order = ("hand_script", "convlab") if pair % 2 == 0 else ("convlab", "hand_script")  # ABBA: drift cancels
        for program in order:
            run = run_clean(program, pair, commands[program], workdir, env)
            runs.append(run)
            progress(
                f"pair {pair + 1}/{pairs} {program:11s} {run.samples_per_second:9.0f} samples/s "
                f"{run.wall_seconds:6.1f} s whole (load {run.load_average:.1f})"
            )
    by = {(r.program, r.pair): r for r in runs}
    train_ratio = [by["convlab", p].samples_per_second / by["hand_script", p].samples_per_second for p in range(pairs)]
    whole_ratio = [by["convlab", p].wall_seconds / by["hand_script", p].wall_seconds for p in range(pairs)]
    return {
        "what": "LeNet, Fashion-MNIST, RMSprop, one epoch"
        + (f" cut to {steps} steps (test: 1 batch)" if steps else " of the 54k training split, 10k test"),
        "batch_size": batch_size,
        "threads": threads,
        "pairs": pairs,
        "commands": clean_commands(workdir, data_dir, threads, batch_size, steps, "convlab_<pair>"),
        "ratios": {
            "train_samples_per_second (convlab / hand-written)": spread(train_ratio),
            "whole_command_seconds (convlab / hand-written)": spread(whole_ratio),
        },
        "medians": {
            program: {
                "samples_per_second": round(statistics.median(r.samples_per_second for r in mine), 1),
                "wall_seconds": round(statistics.median(r.wall_seconds for r in mine), 3),
            }
            for program in ("convlab", "hand_script")
            for mine in [[r for r in runs if r.program == program]]
        },
        "runs": [asdict(r) for r in runs],
    }


def write_json(path: str | Path, rows: Sequence[Row], **sections: Any) -> None:
    """The rows of the in-process comparison under "training", beside the other sections (clean processes)."""
    from convlab.fileio import atomic_write_json

    atomic_write_json(path, {"training": [asdict(r) for r in rows], **sections})


def default_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def temporary_workdir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="convlab-bench-")
