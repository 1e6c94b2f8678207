"""OmegaConf resolvers used by conf/hydra/default.yaml to name run and sweep directories.

Registered when this module is imported, and only here: Hydra resolves the run directory before a job's
own code runs, also in a joblib or submitit worker that merely unpickles the job (and so imports
convlab.cli.train, which imports this module). Everything else that composes configs imports it too.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf

from convlab.config.overrides import parse_override, replaced_groups
from convlab.config.runtime import per_command

# base -> the directory this command claimed for it; per command, so that a second run in the same second, in the
# same process, claims ``base.1`` rather than reusing the first's.
_claimed: dict[str, str] = per_command({})


def unique_dir(base: str) -> str:
    """Claim a directory that no other run uses: ``base``, else ``base.1``, ``base.2``, ...

    ``mkdir`` without exist_ok is atomic, so two runs started in the same second never share a
    directory. The answer is cached per command line (Hydra resolves the run dir more than once). Worker
    processes that Lightning's DDP launcher starts are given rank 0's directory as ``hydra.run.dir``.
    """
    if base not in _claimed:
        _claimed[base] = claim_unique_dir(base)
    return _claimed[base]


def claim_unique_dir(base: str) -> str:
    """Create and return ``base``, or ``base.1``, ``base.2`` ... if taken (mkdir is atomic: never shared)."""
    Path(base).parent.mkdir(parents=True, exist_ok=True)
    for i in range(10_000):
        candidate = base if i == 0 else f"{base}.{i}"
        try:
            os.mkdir(candidate)
        except FileExistsError:
            continue
        return candidate
    raise RuntimeError(f"no free directory beside {base}")


def sweep_label(overrides: Sequence[str]) -> str:
    """The keys a command line sweeps over, e.g. ``model=mlp,lenet optim=sgd,rmsprop`` -> "model-optim"."""
    parsed = [parse_override(str(o)) for o in overrides]
    keys = [o.key_or_group for o in parsed if o.is_sweep_override()]
    return "-".join(keys) or "sweep"


def sweep_dir(root: str, stamp: str, label: str | None, overrides: Sequence[str]) -> str:
    """``<root>/<stamp>_<label>``, claimed like ``unique_dir`` (``.1``, ``.2`` ... when taken).

    Registered with use_cache: OmegaConf caches by the interpolation's text, Hydra copies the launching
    process's cache into every job's config, and the cache travels with the pickled config to joblib
    and submitit workers. So every job of a sweep resolves to the directory claimed once, at launch.
    """
    return claim_unique_dir(f"{root}/{stamp}_{slug(label or sweep_label(overrides), 60)}")


def slug(text: str, max_len: int = 100) -> str:
    """A file-name-safe form of a job's overrides (paths in values would otherwise nest directories)."""
    safe = re.sub(r"[^A-Za-z0-9=,._+-]+", "_", str(text)).strip("_") or "defaults"
    if len(safe) > max_len:
        safe = safe[: max_len - 9] + "_" + hashlib.sha1(safe.encode()).hexdigest()[:8]
    return safe


def group_name(group: str, choice: str, target: str, overrides: Sequence[str]) -> str:
    """How a run directory names a group: its option (``lenet``), or, where the command line replaced the
    group's ``_target_`` (``model._target_=torchvision.models.resnet18``), the target's own name (``resnet18``)."""
    return str(target).rsplit(".", 1)[-1] if group in replaced_groups(overrides) else str(choice)


def _register() -> None:
    OmegaConf.register_new_resolver("convlab_unique", unique_dir, replace=True)
    OmegaConf.register_new_resolver("convlab_slug", slug, replace=True)
    OmegaConf.register_new_resolver("convlab_sweep_dir", sweep_dir, replace=True, use_cache=True)
    OmegaConf.register_new_resolver("convlab_group_name", group_name, replace=True)


_register()  # the one import-time side effect in convlab: see the module docstring
