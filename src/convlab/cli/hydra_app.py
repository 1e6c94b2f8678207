"""Hydra's main, handed its command line: ``convlab train ...`` keeps ``sys.argv`` as the user typed it (Lightning's
DDP ranks re-run ``sys.argv``, subcommand included), so Hydra reads the arguments after the subcommand from here
rather than from ``sys.argv`` as ``@hydra.main`` would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hydra import version
from hydra._internal.utils import _run_hydra, get_args_parser

from convlab.config import CONFIG_DIR


def run_hydra(task_function: Callable[[Any], Any], config_name: str, argv: list[str]) -> None:
    """What ``@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name=...)`` does, for ``argv``."""
    version.setbase("1.3")
    parser = get_args_parser()
    _run_hydra(
        args=parser.parse_args(argv),
        args_parser=parser,
        task_function=task_function,
        config_path=CONFIG_DIR,
        config_name=config_name,
    )
