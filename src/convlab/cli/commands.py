"""``convlab <command> [arguments]`` and ``python -m convlab <command> [arguments]``: convlab as an installed tool,
from any directory. The commands are the clone's scripts (train.py, eval.py, scripts/compare.py, ...) by name."""

from __future__ import annotations

import importlib
import os
import sys

from convlab.cli.exit import fail

# command -> the module whose main(argv) runs it
COMMANDS = {
    "train": "convlab.cli.train",
    "eval": "convlab.cli.eval",
    "compare": "convlab.cli.compare",
    "reproduce": "convlab.cli.reproduce",
    "visualize": "convlab.cli.visualize",
}
USAGE = (
    "usage: convlab {train,eval,compare,reproduce,visualize} [arguments]\n"
    "  train      train one run, or a sweep with -m:  convlab train model=lenet trainer.max_epochs=3\n"
    "  eval       re-test a checkpoint:               convlab eval ckpt_path=<run dir>/checkpoints/last.ckpt\n"
    "  compare    the comparison report of runs:      convlab compare <sweep or run dirs>\n"
    "  reproduce  run the published presets:          convlab reproduce dataset=digits trainer.max_epochs=1\n"
    "  visualize  look inside a model:                convlab visualize <run dir or checkpoint>\n"
    "convlab <command> --help: that command's options. Your own models: put their module in the current directory\n"
    "(it is importable) and your config groups in a folder given as --config-dir (docs/own-model-and-data.md)."
)


def import_from_working_directory() -> None:
    """The current directory importable, as ``python train.py`` in a project makes it: a user's ``mymodels.py``
    next to their work is found by ``model._target_=mymodels.TinyNet``, here and, through PYTHONPATH, in the
    processes a run starts (joblib and submitit workers, DDP ranks)."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if cwd not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([cwd, *paths])


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, file=sys.stdout if argv else sys.stderr)
        sys.exit(0 if argv else 2)
    command, args = argv[0], argv[1:]
    if command not in COMMANDS:
        fail(f"{command}: not a command of convlab; one of {', '.join(COMMANDS)} (convlab --help)")
    import_from_working_directory()
    code = importlib.import_module(COMMANDS[command]).main(args)
    sys.exit(code if isinstance(code, int) else 0)
