"""The files a run writes and their readers: results.json, history.csv, predictions.npz (formats, types)."""

from pathlib import Path

# Inside a run directory: the checkpoint of its final (or latest) state, which eval and resume read.
LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"
