"""OmegaConf resolvers used by conf/hydra/default.yaml to name run directories."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from omegaconf import OmegaConf

_claimed: dict[str, str] = {}


def unique_dir(base: str) -> str:
    """Claim a directory that no other run uses: ``base``, else ``base.1``, ``base.2``, ...

    ``mkdir`` without exist_ok is atomic, so two runs started in the same second never share a
    directory. The answer is cached per process (Hydra resolves the run dir more than once). Worker
    processes that Lightning's DDP launcher starts are given rank 0's directory as ``hydra.run.dir``.
    """
    if base not in _claimed:
        Path(base).parent.mkdir(parents=True, exist_ok=True)
        for i in range(10_000):
            candidate = base if i == 0 else f"{base}.{i}"
            try:
                os.mkdir(candidate)
            except FileExistsError:
                continue
            _claimed[base] = candidate
            break
        else:
            raise RuntimeError(f"no free run directory beside {base}")
    return _claimed[base]


def slug(text: str, max_len: int = 100) -> str:
    """A file-name-safe form of a job's overrides (paths in values would otherwise nest directories)."""
    safe = re.sub(r"[^A-Za-z0-9=,._+-]+", "_", str(text)).strip("_") or "defaults"
    if len(safe) > max_len:
        safe = safe[: max_len - 9] + "_" + hashlib.sha1(safe.encode()).hexdigest()[:8]
    return safe


def register() -> None:
    OmegaConf.register_new_resolver("convlab_unique", unique_dir, replace=True)
    OmegaConf.register_new_resolver("convlab_slug", slug, replace=True)


# Also on import: a job unpickled in another process (the submitit launcher's SLURM tasks) imports convlab
# but never runs the command-line entry point, and still resolves its run directory with these.
register()
