"""history.csv: a run's per-epoch metrics, kept in its run directory whatever loggers the user chose.

One row per finished epoch: ``epoch`` (1-based), ``step`` (global step at its end), ``train_loss``,
``train_acc``, ``val_loss``, ``val_acc``, ``seconds`` (wall time since training started). The file is
rewritten atomically after every epoch, so a killed run keeps the epochs it finished. results.json names it
(``history``); its last row's validation figures are the record's ``val``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from convlab.errors import ConvlabError
from convlab.fileio import atomic_write_text

HISTORY_NAME = "history.csv"
HISTORY_COLUMNS = ("epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc", "seconds")


def write_history(run_dir: str | Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Write every epoch's row (missing values left empty) to history.csv, atomically."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HISTORY_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in HISTORY_COLUMNS})
    return atomic_write_text(Path(run_dir) / HISTORY_NAME, out.getvalue())


def read_history(path: str | Path) -> list[dict[str, float | None]]:
    """The rows of a history.csv (or the one in a run directory), numbers as floats (epoch, step as int)."""
    path = Path(path)
    if path.is_dir():
        path = path / HISTORY_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConvlabError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConvlabError(f"{path}: not a readable history file ({e})") from None
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or any(k not in reader.fieldnames for k in ("epoch", "val_loss", "val_acc")):
        raise ConvlabError(f"{path}: not a convlab history.csv (needs columns {', '.join(HISTORY_COLUMNS)})")
    rows = []
    for n, raw in enumerate(reader, 2):
        try:
            row = {k: (float(v) if v not in ("", None) else None) for k, v in raw.items() if k in HISTORY_COLUMNS}
        except ValueError:
            raise ConvlabError(f"{path}: line {n} is not numeric") from None
        for k in ("epoch", "step"):
            if row.get(k) is not None and math.isfinite(row[k]):
                row[k] = int(row[k])
        rows.append(row)
    return rows
