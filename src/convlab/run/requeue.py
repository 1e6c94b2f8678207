"""A run that SLURM requeued continues in its own directory (see convlab.checkpoints.requeue for the mechanism).

The first run stops on SIGTERM with results.json status interrupted and a checkpoint under checkpoints/; the
restarted job (SLURM_RESTART_COUNT >= 1, same directory: Hydra gives a job the same one every time) finds
them, resumes from that checkpoint and records every requeue in its results.json: ``requeues`` (one entry per
requeue: the restart it led to and the optimizer step it stopped at) and ``requeue_count``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from convlab.checkpoints.load import load_checkpoint
from convlab.checkpoints.requeue import newest_requeue_checkpoint, restart_count
from convlab.runfiles import LAST_CHECKPOINT
from convlab.runfiles.results import RESULTS_NAME, RunRecord, read_results
from convlab.sweeps.skip_done import archive_attempt

log = logging.getLogger(__name__)

# The checkpoint a restarted job continues from (path, contents), and what results.json gets about the requeues.
Requeued = tuple[tuple[Path, dict[str, Any]], RunRecord]


def requeued_resume(out_dir: Path) -> Requeued | None:
    """For a SLURM job restarted after a requeue: (the checkpoint and its contents, what results.json gets
    about the requeues); None for any other run."""
    if restart_count() < 1 or not (out_dir / RESULTS_NAME).is_file():
        return None
    previous = read_results(out_dir)
    checkpoint = newest_requeue_checkpoint(out_dir / LAST_CHECKPOINT.parent)
    if previous.get("status") != "interrupted":
        return None
    if checkpoint is None:  # stopped before its first optimizer step: start again, the attempt kept aside
        log.info(
            "SLURM restart %d: no checkpoint yet; earlier attempt moved to %s",
            restart_count(),
            archive_attempt(out_dir),
        )
        return None
    contents = load_checkpoint(checkpoint, mmap=True)
    requeues = [*previous.get("requeues", []), {"restart": restart_count(), "at_step": contents["global_step"]}]
    log.info("SLURM restart %d: continuing from %s in place", restart_count(), checkpoint)
    return (checkpoint, contents), {"requeues": requeues, "requeue_count": len(requeues)}


def note_requeue(record: RunRecord, trainer: Any) -> None:
    """An interruption by SIGTERM inside a SLURM job: say so, and name the checkpoint the restart continues from."""
    from convlab.checkpoints.requeue_callbacks import CheckpointOnRequeue

    saved = next((cb.saved for cb in trainer.callbacks if isinstance(cb, CheckpointOnRequeue) and cb.saved), None)
    if saved is not None:
        steps = record.get("steps", 0)
        record.update(error=f"SIGTERM at step {steps} (SLURM requeue or preemption)", resume_checkpoint=str(saved))
