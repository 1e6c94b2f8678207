"""results.json: the one record of a run that reports, W&B summaries, benchmarks and tests read.

The contract is in the README (section "results.json"). Written atomically; read back with validation
so a truncated or foreign file is named as such rather than half-used.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from convlab.config.runtime import process_rank
from convlab.errors import ConvlabError
from convlab.fileio import atomic_write_json

log = logging.getLogger(__name__)

RESULTS_NAME = "results.json"
STATUSES = ("ok", "diverged", "interrupted", "failed")
REQUIRED_KEYS = ("status", "dataset", "model", "optim", "loss", "overrides")


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
