"""results.json: the one record of a run that reports, W&B summaries, benchmarks and tests read.

The contract is in the README (section "results.json"). Written atomically; read back with validation
so a truncated or foreign file is named as such rather than half-used.
"""

from __future__ import annotations

import json
import logging
import platform
import subprocess
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from convlab.config.overrides import command_line_overrides, group_choices
from convlab.errors import ConvlabError, RunDirInUseError
from convlab.fileio import atomic_write_json
from convlab.run.launch import process_rank

log = logging.getLogger("convlab")

RESULTS_NAME = "results.json"
STATUSES = ("ok", "diverged", "interrupted", "failed")
REQUIRED_KEYS = ("status", "dataset", "model", "optim", "loss", "overrides")


def describe_run(cfg: DictConfig) -> dict[str, Any]:
    """The results.json fields known before training: what ran, with which overrides and versions."""
    names = group_choices(cfg)
    return {
        "status": "failed",  # until proven otherwise: a crash never leaves a misleading "ok"
        "dataset": names.get("dataset"),
        "model": names.get("model"),
        "optim": names.get("optim"),
        "loss": names.get("loss"),
        "task": names.get("task"),
        "overrides": command_line_overrides(),
        "seed": int(cfg.seed),
        "run_dir": str(OmegaConf.select(cfg, "paths.output_dir")),
        "versions": library_versions(),
        "git_commit": git_commit(Path(__file__).parent),
    }


def check_unused_run_dir(out_dir: Path) -> None:
    """Refuse a directory that holds another run's results or checkpoints: never mix or overwrite runs."""
    for name in (RESULTS_NAME, "checkpoints"):
        if (out_dir / name).exists():
            raise RunDirInUseError(
                f"{out_dir} already holds another run's {name}; choose a new hydra.run.dir "
                f"(to continue that run: ckpt_path={out_dir / 'checkpoints' / 'last.ckpt'})"
            )


def library_versions() -> dict[str, str]:
    import hydra
    import pytorch_lightning
    import torch
    import torchmetrics
    import torchvision

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "lightning": pytorch_lightning.__version__,
        "torchmetrics": torchmetrics.__version__,
        "hydra": hydra.__version__,
    }


def git_commit(cwd: str | Path | None = None) -> str | None:
    """The commit of the source tree, with ``+dirty`` when it has local changes; None outside git."""
    try:

        def git(*args: str) -> str:
            return subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=True
            ).stdout.strip()

        commit = git("rev-parse", "HEAD")
        return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return None


def write_results(run_dir: str | Path, results: dict[str, Any]) -> Path:
    if results.get("status") not in STATUSES:
        raise ValueError(f"results status must be one of {STATUSES}, got {results.get('status')!r}")
    path = atomic_write_json(Path(run_dir) / RESULTS_NAME, results)
    log.info("rank %d wrote %s", process_rank(), path)  # in the run's log: which process wrote it, and when
    return path


def read_results(path: str | Path) -> dict[str, Any]:
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
