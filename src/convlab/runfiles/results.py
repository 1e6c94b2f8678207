"""results.json: the one record of a run that reports, W&B summaries, benchmarks and tests read.

The contract is in the README (section "results.json"). Written atomically; read back with validation
so a truncated or foreign file is named as such rather than half-used.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Literal, TypedDict, get_args

from convlab.config.runtime import process_rank
from convlab.errors import ConvlabError
from convlab.fileio import atomic_write_json

log = logging.getLogger(__name__)

RESULTS_NAME = "results.json"
Status = Literal["ok", "diverged", "interrupted", "failed", "pruned"]  # pruned: stopped by an Optuna pruner


class RunIdentity(TypedDict):
    """The keys every results.json has, a failed run's too: what ran (read_results refuses a file without them)."""

    status: Status
    dataset: str | None
    model: str | None
    optim: str | None
    loss: str | None
    overrides: list[str]  # the run's Hydra overrides, as on its command line


class RunRecord(RunIdentity, total=False):
    """results.json, the contract every report, tracker and test reads (README section "results.json").

    A TypedDict, not a dataclass: the record is JSON as it stands (json.load gives one back, no conversion either
    way), it is filled key by key as the run goes (check, fit, test, record), and a task or data module adds keys
    of its own. Adding a key is one line here.
    """

    task: str | None  # what it trains: classification, filter
    seed: int
    run_dir: str
    versions: dict[str, str]  # python, torch, torchvision, lightning, torchmetrics, hydra
    convlab_version: str  # the convlab that ran it (convlab.__version__, the installed package's version)
    git_commit: str | None  # of the directory the command ran in (the user's project or the clone); "+dirty" when
    # its tree had local changes; None outside git
    resumed_from: str  # the checkpoint a resumed run continued
    params: int  # trainable parameters
    flops_per_sample: int | None
    threads: int
    omp_wait_policy: str | None
    busy_cores_at_start: float
    class_names: list[str]
    split_sizes: dict[str, int]  # train, val, test
    normalization: dict[
        str, list[float]
    ]  # dataset=image_folder: the per-channel mean and std the inputs were scaled by
    image_cache: dict[str, Any]  # dataset=image_folder: mode (memory, streamed), file, reused, seconds
    val: dict[str, float]  # the final epoch's validation figures
    epochs: int
    steps: int
    world_size: int
    train_seconds: float
    samples_per_second: float | None
    checkpoints: dict[str, str]  # last, best
    test: dict[str, Any]  # acc, f1_macro, loss, samples, per_class, confusion_matrix, acc_ci95, fingerprint
    test_seconds: float
    test_samples_per_second: float | None
    warnings: list[str]  # a classifier at chance
    history: str  # history.csv, relative to the run directory
    predictions: str  # predictions.npz, relative to the run directory
    error: str  # why the status is not ok
    diverged_at_step: int
    interrupted_at_step: int
    pruned_after_epochs: int  # status pruned: the epochs it trained before the Optuna pruner stopped it
    resume_checkpoint: str | None
    resume_command: str | None
    requeue_count: int  # a SLURM job: how many times it was requeued and continued in place
    requeues: list[dict[str, int]]  # one per requeue: the SLURM restart it led to, the optimizer step it stopped at
    checkpoint: str  # eval.py: the checkpoint tested
    evaluated_run: str  # eval.py: the run that trained it
    filter: dict[str, Any]  # a filter run: the learned kernel, its target, MSE
    image: str  # a filter run's training photo
    image_shape: list[int]
    steps_per_epoch: int
    epoch_definition: str
    recorded_by: str  # "sweep": written by the sweep for a job that could not write its own (killed, never run)


STATUSES: tuple[Status, ...] = get_args(Status)
REQUIRED_KEYS = tuple(RunIdentity.__annotations__)


def write_results(run_dir: str | Path, results: RunRecord) -> Path:
    if results.get("status") not in STATUSES:
        raise ValueError(f"results status must be one of {STATUSES}, got {results.get('status')!r}")
    path = atomic_write_json(Path(run_dir) / RESULTS_NAME, results)
    log.info("rank %d wrote %s", process_rank(), path)  # in the run's log: which process wrote it, and when
    return path


def read_results(path: str | Path) -> RunRecord:
    """Read a results.json (or the one in a run directory), raising ConvlabError if it is not valid."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConvlabError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConvlabError(f"{path}: not a readable results.json ({e})") from None
    if not isinstance(data, dict) or any(k not in data for k in REQUIRED_KEYS):
        raise ConvlabError(f"{path}: not a convlab results.json (needs keys {', '.join(REQUIRED_KEYS)})")
    if data["status"] not in STATUSES:
        raise ConvlabError(f"{path}: unknown status {data['status']!r}")
    if data["status"] == "ok" and not isinstance(data.get("test"), dict):
        raise ConvlabError(f"{path}: status ok but no test metrics")
    return data
