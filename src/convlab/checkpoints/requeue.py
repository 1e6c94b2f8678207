"""A SLURM job stopped mid-training for a requeue (``scontrol requeue``, preemption) continues in place.

One mechanism, Lightning's SLURM environment (SLURMEnvironment, which Lightning picks by itself inside a SLURM
job): its SIGTERM handler stops the trainer at the end of the current batch, and the state saved then holds
the loops' exact position (epoch, batch, optimizer step), which a Lightning resume restores. Lightning saves
its ``hpc_ckpt_<n>.ckpt`` only on its own requeue signal (here submitit's time-limit signal, USR2, then it
requeues the job); SLURM's requeue and preemption send SIGTERM, so CheckpointOnRequeue saves the same kind of
file on that one too, under the run's checkpoints/. submitit's checkpointing is off: Hydra's launcher
``checkpoint()`` only resubmits the same call, with no training state, so the job would start over from step 0;
requeue_environment gives its signal to Lightning instead.

A sampler starts every epoch at its first batch; ResumeMidEpoch tells a resumable one (convlab's
BatchIndexSampler) where the restored epoch stands, so the resumed epoch sees exactly the batches the
interrupted one had not reached. The callbacks live in convlab.checkpoints.requeue_callbacks (they import
Lightning); this module only names the files, so a run can look for them before torch loads.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

REQUEUE_CHECKPOINT = re.compile(r"hpc_ckpt_(\d+)\.ckpt")  # Lightning's own name, numbered from 1


def restart_count() -> int:
    """How many times SLURM restarted this job (SLURM_RESTART_COUNT; 0 outside SLURM and on the first run)."""
    value = os.environ.get("SLURM_RESTART_COUNT", "")
    return int(value) if value.isdigit() else 0


def newest_requeue_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The highest-numbered ``hpc_ckpt_<n>.ckpt`` in ``checkpoint_dir``, or None."""
    named = ((REQUEUE_CHECKPOINT.match(p.name), p) for p in checkpoint_dir.glob("hpc_ckpt_*.ckpt"))
    found = [(int(m.group(1)), p) for m, p in named if m]
    return max(found)[1] if found else None


def next_requeue_checkpoint(checkpoint_dir: Path) -> Path:
    newest = newest_requeue_checkpoint(checkpoint_dir)
    number = int(REQUEUE_CHECKPOINT.match(newest.name).group(1)) + 1 if newest else 1
    return checkpoint_dir / f"hpc_ckpt_{number}.ckpt"
