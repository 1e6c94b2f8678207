"""Resuming an interrupted run: which checkpoint (``ckpt_path=<file>`` or ``ckpt_path=last``) and whether it fits.

A resumed run gets a new run directory of its own; the interrupted run's directory is only read. The
checkpoint is loaded with weights_only=True and checked against the run's model before any training
starts, so a foreign, corrupt or unsafe file ends in one CheckpointError line, not a Lightning traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from convlab.checkpoints.load import load_checkpoint, run_dir_of
from convlab.config.checks import LAST, check_ckpt_path
from convlab.config.overrides import NOT_IDENTITY_KEYS
from convlab.errors import CheckpointError, ConfigError
from convlab.runfiles import LAST_CHECKPOINT

log = logging.getLogger(__name__)

Resume = tuple[Path, dict[str, Any]]  # the checkpoint a run continues from, and its contents

# Keys that say where a run writes, what it resumes from or how its sweep runs, not what it computes.
NOT_IDENTITY = ("hydra", "ckpt_path", *NOT_IDENTITY_KEYS)
RUN_DIR_PLACEHOLDER = "<run dir>"


def resume_checkpoint(cfg: DictConfig) -> Resume | None:
    """The checkpoint this run continues from and its contents (tensors memory-mapped), or None."""
    value = OmegaConf.select(cfg, "ckpt_path", default=None)
    if value is None:
        return None
    if str(value) == LAST:
        return find_last_checkpoint(cfg)
    check_ckpt_path(cfg)
    path = Path(str(value)).resolve()
    return path, load_checkpoint(path, mmap=True)


def run_identity(config: dict[str, Any]) -> dict[str, Any]:
    """A resolved config without what differs between two runs of the same experiment: their directories."""
    run_dir = str(config["paths"]["output_dir"]).rstrip("/")

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        if isinstance(value, str) and (value == run_dir or value.startswith(run_dir + "/")):
            return RUN_DIR_PLACEHOLDER + value[len(run_dir) :]  # the run dir itself or a path inside it
        return value

    return strip({k: v for k, v in config.items() if k not in NOT_IDENTITY})


def find_last_checkpoint(cfg: DictConfig) -> tuple[Path, dict[str, Any]]:
    """The newest ``last.ckpt`` under ``paths.log_dir`` written by a run whose config equals this one."""
    log_dir = Path(str(cfg.paths.log_dir))
    wanted = run_identity(OmegaConf.to_container(cfg, resolve=True))
    own_dir = Path(str(cfg.paths.output_dir)).resolve()
    compared, first_difference = 0, ""
    for path in _newest_first(log_dir.glob(f"**/{LAST_CHECKPOINT.as_posix()}")):
        if run_dir_of(path) == own_dir:
            continue
        try:
            checkpoint = load_checkpoint(path, mmap=True)
        except CheckpointError as e:
            log.warning("ckpt_path=last: skipping %s", e)
            continue
        stored = (checkpoint.get("convlab") or {}).get("config")
        if not isinstance(stored, dict) or "paths" not in stored:
            continue
        compared += 1
        found = run_identity(stored)
        if found == wanted:
            log.info("ckpt_path=last: resuming from %s", path)
            return path.resolve(), checkpoint
        if not first_difference:
            first_difference = f"; the newest, {path}, differs in {_first_difference(wanted, found)}"
    raise ConfigError(
        f"ckpt_path=last: no checkpoints/last.ckpt under {log_dir} comes from a run with this exact config "
        f"({compared} compared{first_difference}); give ckpt_path=<run dir>/checkpoints/last.ckpt"
    )


def check_resumable(checkpoint: dict[str, Any], task: Any, path: Path) -> None:
    """The checkpoint's weights must fit the task's model and it must hold what a resume needs."""
    expected = {k: tuple(v.shape) for k, v in task.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in checkpoint["state_dict"].items()}
    if found != expected:
        raise CheckpointError(
            f"{path}: its weights do not fit this run's model ({_first_difference(expected, found)}); "
            "resume with the overrides that trained it"
        )
    if not checkpoint.get("optimizer_states"):
        raise CheckpointError(f"{path}: holds weights only, not the optimizer state a resume needs")


def _newest_first(paths: Iterator[Path]) -> list[Path]:
    stamped = []
    for path in paths:
        try:
            stamped.append((path.stat().st_mtime_ns, path))
        except OSError:  # removed while we looked
            continue
    return [path for _, path in sorted(stamped, reverse=True)]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out or {prefix.rstrip("."): {}}
    return {prefix.rstrip("."): value}


def _first_difference(wanted: dict[str, Any], found: dict[str, Any]) -> str:
    """The first key whose value differs, as ``key: this run has X, the checkpoint Y``."""
    a, b = _flatten(wanted), _flatten(found)
    for key in sorted(a.keys() | b.keys()):
        if a.get(key, "<absent>") != b.get(key, "<absent>"):
            return f"{key}: this run has {a.get(key, '<absent>')!r}, the checkpoint {b.get(key, '<absent>')!r}"
    return "nothing"
