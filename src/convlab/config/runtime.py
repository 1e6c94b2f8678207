"""What the process was started as: one job of a Hydra multirun or a single run, and its rank in a distributed
launch. Read where the answer is needed (the record, the trackers, the threads of a sweep's job)."""

from __future__ import annotations

import os
from typing import Any, TypeVar

_Container = TypeVar("_Container", dict, list, set)

# Lightning's order for finding a process's global rank before the trainer exists.
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


def process_rank() -> int:
    """This process's global rank as its launcher set it in the environment (0 for a plain run)."""
    for name in RANK_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


def in_multirun() -> bool:
    """Whether this job is one of a Hydra multirun (``-m``): its output is one line, the sweep's report the rest.
    False for a single run and for a config composed without Hydra's runtime (tests, the benchmark)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


# How the user started convlab ("python train.py", "convlab train", "python -m convlab train --config-dir /abs/conf"),
# noted by the entry point and read wherever a command is printed. An environment variable, so that the processes
# a run starts (joblib and submitit workers, DDP ranks) print the user's command too, not their own start-up line.
INVOCATION_VARIABLE = "CONVLAB_INVOCATION"
# The clone's script of each command: what a process that no entry point started prints (tests, the benchmark).
CLONE_SCRIPTS = {
    "train": "train.py",
    "eval": "eval.py",
    "compare": "scripts/compare.py",
    "reproduce": "scripts/reproduce.py",
    "visualize": "scripts/visualize.py",
}


def remember_invocation(command: str, argv: list[str]) -> str:
    """Note how this process was started, as ``command`` (train, eval, ...) with the arguments ``argv`` after it,
    for invocation() here and in the processes it starts. Returns what was noted."""
    import json
    import shlex
    import sys

    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    script = CLONE_SCRIPTS.get(command, command)
    if spec is not None and spec.name in ("convlab", "convlab.__main__"):
        prefix = ["python", "-m", "convlab", command]
    elif os.path.basename(sys.argv[0]) == "convlab":  # the console script
        prefix = ["convlab", command]
    else:  # the clone's script (python train.py, python scripts/compare.py), or called in-process (tests)
        prefix = ["python", script]
    line = shlex.join([*prefix, *config_dir_options(argv)])
    os.environ[INVOCATION_VARIABLE] = json.dumps({"command": command, "line": line})
    return line


def config_dir_options(argv: list[str]) -> list[str]:
    """The ``--config-dir DIR`` (``-cd DIR``) of a command line, its path made absolute: a printed command that
    left it out would not find the user's own config groups."""
    options = []
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        if name in ("--config-dir", "-cd"):
            value = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
            if value:
                options += ["--config-dir", os.path.abspath(value)]
    return options


def invocation(command: str = "train") -> str:
    """How the user started convlab's ``command``, without its overrides: the start of every command convlab
    prints (a resume line, a hint). The clone's script (``python train.py``) when no entry point noted it."""
    import json

    noted = json.loads(os.environ.get(INVOCATION_VARIABLE) or "{}")
    if noted.get("command") == command:
        return str(noted["line"])
    return f"python {CLONE_SCRIPTS.get(command, command)}"


# What one command line keeps while it runs (the pre-check's caches, its run directory, its sweep's unfinished jobs),
# registered by the modules that keep it. A second command in the same process (main() called again, as the tests
# do) starts with none of the first's: a run directory claimed, a check passed, a dead job to report.
_per_command: list[Any] = []


def per_command(container: _Container) -> _Container:
    """Register ``container`` as state of the current command line: emptied by ``start_command``."""
    _per_command.append(container)
    return container


def start_command() -> None:
    """A new command line starts in this process: empty what the previous one kept."""
    for container in _per_command:
        container.clear()
