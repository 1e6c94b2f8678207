"""The files a run keeps beside its results.json (history.csv, predictions.npz), read for the report."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from convlab.errors import ConvlabError
from convlab.runfiles.history import HISTORY_NAME, read_history
from convlab.runfiles.predictions import PREDICTIONS_NAME, Predictions, read_predictions
from convlab.runfiles.results import RunRecord


@dataclass
class RunFiles:
    """Per run directory: its epochs and its test predictions; what could not be read, one line each."""

    histories: dict[Path, list[dict[str, Any]]] = field(default_factory=dict)
    predictions: dict[Path, Predictions] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # corrupt files: warned about, the run stays in

    def correct_by_index(self, run_dir: Path) -> np.ndarray:
        """Per test sample (by its index in the test split): was this run right."""
        found = self.predictions[run_dir]
        correct = np.zeros(len(found), dtype=bool)
        correct[found.index] = found.correct
        return correct


def _named_file(run_dir: Path, record: RunRecord, key: str, default: str) -> Path | None:
    """The file results.json names under ``key`` (relative to the run directory); older runs: the default
    name if that file exists, else None."""
    name = record.get(key)
    path = run_dir / (str(name) if name else default)
    return path if name or path.is_file() else None


def read_run_files(runs: Iterable[tuple[Path, RunRecord | None]]) -> RunFiles:
    """Read every finished run's history and predictions; a missing or unreadable file is a problem line."""
    files = RunFiles()
    for run_dir, record in runs:
        if not record or record.get("status") != "ok":
            continue
        path = _named_file(run_dir, record, "history", HISTORY_NAME)
        if path is not None:
            try:
                files.histories[run_dir] = read_history(path)
            except ConvlabError as e:
                files.problems.append(f"{e}; no learning curve for this run")
        path = _named_file(run_dir, record, "predictions", PREDICTIONS_NAME)
        if path is not None:
            try:
                found = read_predictions(path)
                if np.any((found.index < 0) | (found.index >= len(found))):
                    raise ConvlabError(f"{path}: corrupt predictions file (index out of range)")
                files.predictions[run_dir] = found
            except ConvlabError as e:
                files.problems.append(f"{e}; no paired test or mistakes for this run")
    return files
