"""Checks on a composed config that must pass before any data is read or training starts.

Each failure is one ConfigError line naming the key, its value and what is allowed. The CLI pre-check
runs them on every job of a command line before the first one starts; a job run in another process
(joblib, submitit) runs them again there. A config that passed once in a process is not checked again.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from convlab.config.overrides import group_choices
from convlab.config.runtime import per_command
from convlab.config.shapes import check_shapes
from convlab.config.targets import locate, task_kind, task_kinds
from convlab.errors import ConfigError

LAST = "last"  # ckpt_path=last: the newest last.ckpt of a run with the same config


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _each_number(v: Any, ok: Callable[[Any], bool]) -> bool:
    """A number, or a non-empty list of numbers (one per image channel), each ``ok``."""
    values = list(v) if isinstance(v, ListConfig | list | tuple) else [v]
    return bool(values) and all(_number(x) and ok(x) for x in values)


def _integer(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# (key, test, allowed-range text). A key absent from the config is skipped.
Rule = tuple[str, Callable[[Any], bool], str]
RULES: list[Rule] = [
    ("optim.lr", lambda v: _number(v) and v > 0, "a number > 0"),
    ("optim.weight_decay", lambda v: _number(v) and v >= 0, "a number >= 0"),
    ("optim.momentum", lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1)"),
    ("optim.alpha", lambda v: _number(v) and 0 < v < 1, "a number in (0, 1)"),
    ("optim.eps", lambda v: _number(v) and v > 0, "a number > 0"),
    ("dataset.batch_size", lambda v: _integer(v) and v > 0, "an integer > 0"),
    ("dataset.eval_batch_size", lambda v: _integer(v) and v > 0, "an integer > 0"),
    ("dataset.val_fraction", lambda v: _number(v) and 0 < v < 1, "a number in (0, 1)"),
    ("dataset.test_fraction", lambda v: _number(v) and 0 < v < 1, "a number in (0, 1)"),
    ("dataset.std", lambda v: _each_number(v, lambda x: x > 0), "a number > 0, or one per channel"),
    ("dataset.folds", lambda v: v is None or (_integer(v) and v >= 2), "null or an integer >= 2"),
    ("model.dropout", lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1)"),
    ("model.num_classes", lambda v: _integer(v) and v >= 2, "an integer >= 2"),
    ("loss.label_smoothing", lambda v: _number(v) and 0 <= v <= 1, "a number in [0, 1]"),
    # 0 epochs, steps or batches would train nothing and report an untrained model as a result: refused.
    ("trainer.max_epochs", lambda v: _integer(v) and v >= 1, "an integer >= 1 (0 trains nothing)"),
    (
        "trainer.max_steps",
        lambda v: _integer(v) and (v >= 1 or v == -1),
        "-1 (no limit) or an integer >= 1 (0 trains nothing)",
    ),
    (
        "trainer.limit_train_batches",
        lambda v: (_integer(v) and v >= 1) or (_number(v) and not _integer(v) and 0 < v <= 1),
        "an integer >= 1 (batches) or a fraction in (0, 1] (0 trains nothing)",
    ),
    ("seed", lambda v: _integer(v) and v >= 0, "an integer >= 0"),
    ("threads", lambda v: v is None or (_integer(v) and v > 0), "null or an integer > 0"),
    ("skip_done", lambda v: isinstance(v, bool), "true or false"),
    ("logger.wandb.mode", lambda v: v in ("online", "offline", "disabled"), "online, offline, disabled or null"),
]


# Keys naming input files: checked to exist before any run directory is made.
FILE_KEYS = ("dataset.path",)


def _missing_keys(node: DictConfig, prefix: str = "") -> Iterator[str]:
    """Keys left as ??? (mandatory), found without resolving any interpolation."""
    for key in node:
        if prefix == "" and key == "hydra":
            continue
        if OmegaConf.is_missing(node, key):
            yield f"{prefix}{key}"
        elif not OmegaConf.is_interpolation(node, key) and isinstance(node[key], DictConfig):
            yield from _missing_keys(node[key], f"{prefix}{key}.")


def check_values(cfg: DictConfig) -> None:
    missing = list(_missing_keys(cfg))
    if missing:
        raise ConfigError(f"{missing[0]} has no value: add {missing[0]}=<value> to the command line")
    for key, ok, allowed in RULES:
        value = OmegaConf.select(cfg, key, default=None)
        if value is None and key not in ("dataset.folds", "threads"):
            continue
        if not ok(value):
            problem = "is out of range" if _number(value) else "is not valid"
            raise ConfigError(f"{key}={value!r} {problem}: must be {allowed}")
    for key in FILE_KEYS:
        value = OmegaConf.select(cfg, key, default=None)
        if value is not None and not Path(str(value)).is_file():
            raise ConfigError(f"{key}={value}: no such file")
    folds = OmegaConf.select(cfg, "dataset.folds")
    if folds:
        fold = OmegaConf.select(cfg, "dataset.fold", default=0)
        if not (_integer(fold) and 0 <= fold < folds):
            raise ConfigError(f"dataset.fold={fold!r} is out of range: must be an integer in [0, {folds - 1}]")


def _target(cfg: DictConfig, group: str) -> Any:
    """The class or callable ``group._target_`` names (a model may be any nn.Module class or factory)."""
    target = OmegaConf.select(cfg, f"{group}._target_")
    if not target:
        raise ConfigError(f"config group '{group}' is missing or has no _target_")
    return locate(str(target), f"{group}._target_")


def check_pairing(cfg: DictConfig) -> None:
    """Dataset, model and loss must all suit the task (classification or image filter regression). What a class
    declares (``task_kind``, ``task_kinds``) is optional: classification when unsaid (convlab.config.targets)."""
    names = group_choices(cfg)
    kind = task_kind(_target(cfg, "task"))
    dataset_kind = task_kind(_target(cfg, "dataset"))
    if dataset_kind != kind:
        raise ConfigError(
            f"dataset={names['dataset']} is a {dataset_kind} dataset but task={names.get('task')} trains "
            f"{kind}; pick a {kind} dataset or use experiment=sobel for image filtering"
        )
    for group in ("model", "loss"):
        kinds = task_kinds(_target(cfg, group))
        if kind not in kinds:
            this, data = f"{group}={names[group]}", f"dataset={names['dataset']}"
            raise ConfigError(
                f"{this} cannot be used with {data}: {this} is for {' or '.join(kinds)}, {data} is {kind}"
                + ("; use experiment=sobel" if "filter" in kinds else "")
            )


def check_factory_arguments(cfg: DictConfig) -> None:
    """optim and scheduler are built as partials and called only when training starts: check their keys now."""
    for group in ("optim", "scheduler"):
        node = cfg.get(group)
        if not node or "_target_" not in node:
            continue
        params = inspect.signature(_target(cfg, group)).parameters
        if any(p.kind == p.VAR_KEYWORD for p in params.values()):
            continue
        # the first argument (parameters, or the optimizer of a scheduler) is supplied by the task
        allowed = [name for name, p in list(params.items())[1:] if p.kind != p.VAR_POSITIONAL]
        for key in node:
            if not str(key).startswith("_") and key not in params:
                raise ConfigError(f"{group}.{key} is not an argument of {node._target_}; it takes {', '.join(allowed)}")


def check_dataset_options(cfg: DictConfig) -> None:
    """Checks a data module class offers as ``check_config(cfg)`` (dataset=image: its kernel and photo)."""
    check = getattr(_target(cfg, "dataset"), "check_config", None)
    if check is not None:
        check(cfg)


def check_ckpt_path(cfg: DictConfig) -> None:
    """``ckpt_path`` is null, ``last``, or an existing file (checked before any run directory is made)."""
    value = OmegaConf.select(cfg, "ckpt_path", default=None)
    if value is None or str(value) == LAST:
        return
    if not Path(str(value)).is_file():
        raise ConfigError(
            f"ckpt_path={value}: no such file (give <run dir>/checkpoints/last.ckpt, or ckpt_path=last "
            "for the newest checkpoint of a run with this exact config)"
        )


# Fingerprints of the configs that passed check_config in this command line.
_passed: set[str] = per_command(set())


def _fingerprint(cfg: DictConfig) -> str:
    """The config as written (interpolations unresolved: resolving would claim run directories), minus Hydra's node."""
    node = OmegaConf.to_container(cfg, resolve=False)
    node.pop("hydra", None)
    return json.dumps(node, sort_keys=True, default=str)


def check_config(cfg: DictConfig) -> None:
    """All checks that need no training: the checkpoint to resume from, value ranges, dataset/model/loss/task
    compatibility, optimizer and scheduler arguments, dataset options, and the model against the data's shape
    (convlab.config.shapes: the data module's cheap ``shape()``). Once per config and process."""
    fingerprint = _fingerprint(cfg)
    if fingerprint in _passed:
        return
    check_ckpt_path(cfg)  # first: it needs no imports, the pairing checks do
    check_values(cfg)
    check_pairing(cfg)
    check_factory_arguments(cfg)
    check_dataset_options(cfg)
    check_shapes(cfg)  # last: it builds the data module and the model
    _passed.add(fingerprint)


# -- a sweep submitted to SLURM (hydra/launcher=slurm or submitit_slurm): checked once, before sbatch ------------
def _submitit_launcher(cfg: DictConfig) -> str:
    """``slurm``, ``local`` (submitit's two launchers, Hydra's or convlab's wrappers of them) or ``""``."""
    target = str(OmegaConf.select(cfg, "hydra.launcher._target_", default="") or "")
    if not any(plugin in target for plugin in ("hydra_submitit_launcher", "convlab_launcher")):
        return ""
    return "slurm" if target.endswith("SlurmLauncher") else "local"


def check_slurm_launch(cfg: DictConfig) -> None:
    """The partition exists (where this machine has SLURM's commands) and a DDP job gets one SLURM task per
    device: Lightning takes its processes from srun under SLURM, so tasks_per_node must equal trainer.devices."""
    if _submitit_launcher(cfg) != "slurm":
        return
    launcher = cfg.hydra.launcher
    partition = OmegaConf.select(launcher, "partition", default=None)
    if partition is not None:
        _check_partition(str(partition))
    strategy = str(OmegaConf.select(cfg, "trainer.strategy", default="") or "")
    devices = OmegaConf.select(cfg, "trainer.devices", default=1)
    tasks = OmegaConf.select(launcher, "tasks_per_node", default=1)
    if "ddp" in strategy and _integer(devices) and devices != tasks:
        raise ConfigError(
            f"trainer.strategy={strategy} with trainer.devices={devices} needs hydra.launcher.tasks_per_node={devices} "
            f"(it is {tasks}): under SLURM every DDP process is a task srun starts"
        )


def _check_partition(partition: str) -> None:
    import shutil
    import subprocess

    if shutil.which("scontrol") is None:  # a machine without SLURM's commands: sbatch will say it
        return
    shown = subprocess.run(["scontrol", "show", "partition", partition], capture_output=True, text=True, timeout=30)
    if shown.returncode == 0:
        return
    listed = subprocess.run(["sinfo", "-h", "-o", "%R"], capture_output=True, text=True, timeout=30)
    names = ", ".join(sorted(set(listed.stdout.split()))) or "none listed"
    raise ConfigError(f"hydra.launcher.partition={partition}: no such partition on this cluster (sinfo: {names})")


def submitit_sweep_dir_note(cfg: DictConfig) -> str | None:
    """A warning for a relative hydra.sweep.dir under submitit: every job resolves it against the directory the
    command was run from, which the job's node must see (shared storage) for results.json to land there."""
    if not _submitit_launcher(cfg):
        return None
    raw = OmegaConf.to_container(cfg.hydra.sweep, resolve=False).get("dir")
    if raw is None or Path(str(raw)).is_absolute():
        return None
    return (
        f"hydra.sweep.dir={raw} is relative: submitit's jobs write under {Path.cwd()}/, which every node running "
        "them must see (shared storage); give an absolute hydra.sweep.dir otherwise"
    )
