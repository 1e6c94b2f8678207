"""A run that SLURM restarted continues in its own directory (see convlab.checkpoints.requeue for the mechanism,
convlab.checkpoints.job_signals for the signals).

The restarted job (SLURM_RESTART_COUNT >= 1, same directory: Hydra gives a job the same one every time)
continues from the newest checkpoint under checkpoints/ (the requeue's ``hpc_ckpt_<n>.ckpt`` or ``last.ckpt``,
whichever holds the later step), whether or not the earlier attempt wrote its ``interrupted`` results.json: a
node lost or a SIGKILL after KillWait leaves none. An earlier attempt that had finished (ok, diverged, pruned)
keeps its record. One with nothing to continue from is moved to ``attempts/<n>/`` and the job starts over.
Every requeue is recorded in results.json: ``requeues`` (one entry per requeue: the restart it led to and the
optimizer step it continued from) and ``requeue_count``. A plain second run into a used directory (no SLURM
restart) is still refused (convlab.run.record.check_unused_run_dir).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from convlab.checkpoints.job_signals import job_signals
from convlab.checkpoints.load import load_checkpoint
from convlab.checkpoints.requeue import newest_requeue_checkpoint, restart_count
from convlab.errors import ConvlabError
from convlab.runfiles import LAST_CHECKPOINT
from convlab.runfiles.results import RESULTS_NAME, RunRecord, read_results, write_results
from convlab.sweeps.skip_done import archive_attempt

log = logging.getLogger(__name__)

# The checkpoint a restarted job continues from (path, contents), and what results.json gets about the requeues.
Requeued = tuple[tuple[Path, dict[str, Any]], RunRecord]
FINISHED = ("ok", "diverged", "pruned")  # an attempt that ended by itself: a restart keeps its verdict


def requeued_resume(out_dir: Path) -> Requeued | None:
    """For a SLURM job restarted before it finished: (the newest checkpoint and its contents, what results.json
    gets about the requeues); None for any other run (an earlier attempt with nothing to continue from is moved
    aside first)."""
    if restart_count() < 1:
        return None
    previous = _earlier_record(out_dir)
    if previous is not None and previous.get("status") in FINISHED:
        return None
    found = newest_checkpoint(out_dir / LAST_CHECKPOINT.parent)
    if found is None:  # stopped before its first checkpoint: start again, the attempt kept aside
        if (out_dir / RESULTS_NAME).exists() or (out_dir / LAST_CHECKPOINT.parent).exists():
            log.info(
                "SLURM restart %d: no checkpoint; earlier attempt moved to %s",
                restart_count(),
                archive_attempt(out_dir),
            )
        return None
    path, contents = found
    requeues = [*(previous or {}).get("requeues", []), {"restart": restart_count(), "at_step": contents["global_step"]}]
    if previous is None or previous.get("status") != "interrupted":
        log.warning("SLURM restart %d: the earlier attempt left no record of its end (killed?)", restart_count())
    log.info("SLURM restart %d: continuing from %s in place", restart_count(), path)
    return found, {"requeues": requeues, "requeue_count": len(requeues)}


def finished_before_restart(out_dir: Path) -> RunRecord | None:
    """A SLURM job restarted after it had finished (ok, diverged, pruned): its record, which stands."""
    if restart_count() < 1:
        return None
    previous = _earlier_record(out_dir)
    if previous is None or previous.get("status") not in FINISHED:
        return None
    log.info(
        "SLURM restart %d: this job had already ended %s; its results.json stands", restart_count(), previous["status"]
    )
    return previous


def newest_checkpoint(checkpoint_dir: Path) -> tuple[Path, dict[str, Any]] | None:
    """The checkpoint under ``checkpoint_dir`` with the latest step (the newest ``hpc_ckpt_<n>.ckpt`` or
    ``last.ckpt``; a requeue's checkpoint on a tie) and its contents; None if there is none that loads."""
    candidates = [newest_requeue_checkpoint(checkpoint_dir), checkpoint_dir / LAST_CHECKPOINT.name]
    best: tuple[Path, dict[str, Any]] | None = None
    for path in (p for p in candidates if p is not None and p.is_file()):
        try:
            contents = load_checkpoint(path, mmap=True)
        except ConvlabError as e:
            log.warning("not continuing from %s", e)
            continue
        if best is None or int(contents.get("global_step", 0)) > int(best[1].get("global_step", 0)):
            best = path, contents
    return best


def note_requeue(record: RunRecord, trainer: Any) -> None:
    """A run stopped by a signal inside a SLURM job: say which, and name the checkpoint the restart continues
    from."""
    from convlab.checkpoints.requeue_callbacks import CheckpointOnRequeue

    signals = job_signals()
    if not signals.stop:
        return
    saved = next((cb.saved for cb in trainer.callbacks if isinstance(cb, CheckpointOnRequeue) and cb.saved), None)
    record["error"] = signals.reason(record.get("steps", 0))
    if saved is not None:
        record["resume_checkpoint"] = str(saved)


def end_signalled(out_dir: Path, record: RunRecord, writes: bool) -> None:
    """After the run's files are written. A SIGTERM that arrived while they were written turns an ``ok``
    results.json into ``interrupted`` (a cancelled job never ends ok); the time-limit signal alone leaves a
    finished run ok. An interrupted run that got the time-limit signal requeues its job. ``writes``: this
    process writes the run's files (rank 0)."""
    signals = job_signals()
    if not signals.stop:
        return
    if record.get("status") == "ok" and not signals.time_limit_only:
        record.update(status="interrupted", error=signals.reason(record.get("steps", 0)) + ", while writing")
        if writes:
            write_results(out_dir, record)
    if writes and record.get("status") == "interrupted":
        signals.requeue()


def _earlier_record(out_dir: Path) -> RunRecord | None:
    if not (out_dir / RESULTS_NAME).is_file():
        return None
    try:
        return read_results(out_dir)
    except ConvlabError as e:  # cut short by a kill: atomic writes make this rare, not impossible
        log.warning("earlier results.json unreadable: %s", e)
        return None
