"""The command-line pre-check: every job of a command line is composed and checked before Hydra starts
anything, so bad input ends in one clear line on stderr and a non-zero exit, with nothing written.

Hydra's own composition errors span several lines and end with a hint about HYDRA_FULL_ERROR; the
pre-check reports the same problems as one line.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Callable

from hydra import compose, initialize_config_dir
from hydra._internal.utils import get_args_parser
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

import convlab.config.resolvers  # noqa: F401  (registers the resolvers the run directory names use)
from convlab.cli.exit import fail
from convlab.config import CONFIG_DIR
from convlab.config.checks import check_slurm_launch, submitit_sweep_dir_note
from convlab.config.overrides import parse_override
from convlab.config.suggest import check_added_keys, dashed_option, explain_composition_error
from convlab.errors import ConvlabError
from convlab.run.environment import prepare_process
from convlab.run.launch import check_launch

MAX_PRECHECKED_JOBS = 512


def job_overrides(overrides: list[str], multirun: bool, limit: int | None = MAX_PRECHECKED_JOBS) -> list[list[str]]:
    """The override lists of the first ``limit`` jobs a command line launches (None: all of them); a cut says so
    on stderr. Interval sweeps are left to the sweeper."""
    if not multirun:
        return [overrides]
    axes: list[list[str]] = []
    for override in OverridesParser.create().parse_overrides(overrides):
        if not override.is_sweep_override():
            axes.append([override.input_line])
        elif override.is_discrete_sweep():
            key = override.get_key_element()
            axes.append([f"{key}={v}" for v in override.sweep_string_iterator()])
    total = math.prod(len(axis) for axis in axes)
    if limit is not None and total > limit:
        print(
            f"convlab: pre-checking the first {limit} of {total} jobs; the others are checked as they start",
            file=sys.stderr,
        )
    return [list(job) for job in itertools.islice(itertools.product(*axes), limit)]


def precheck(
    argv: list[str],
    config_name: str,
    check: Callable[[DictConfig], None],
    prepare: Callable[[list[DictConfig], bool], None] | None = None,
) -> None:
    """Compose every job of ``argv`` and run ``check`` on it; raise ConvlabError on the first bad one.

    ``prepare(configs, multirun)`` runs once every job is composed and before the first check, which may
    import torch: the place for process settings that OpenMP reads only once, when torch loads it.
    """
    parser = get_args_parser()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        dashed = dashed_option(
            argv, parser._option_string_actions, SCRIPTS.get(config_name, config_name), lambda: _compose(config_name)
        )
    if dashed:
        raise ConvlabError(dashed)
    args = parser.parse_args(argv)
    if args.help or args.hydra_help or args.cfg or args.info or args.shell_completion:
        return
    multirun = bool(args.multirun)
    try:
        jobs = job_overrides(list(args.overrides), multirun)
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            configs = []
            for overrides in jobs:
                try:
                    configs.append(_compose(config_name, overrides))
                except (HydraException, OmegaConfBaseException) as e:
                    raise ConvlabError(
                        explain_composition_error(
                            _hydra_message(e), overrides, lambda o: _compose_or_none(config_name, o)
                        )
                    ) from None
            if prepare is not None:
                prepare(configs, multirun)
            if multirun and configs:  # the launcher's settings are the sweep's, not a job's: checked once
                check_slurm_launch(configs[0])
                if note := submitit_sweep_dir_note(configs[0]):
                    print(f"convlab: warning: {note}", file=sys.stderr, flush=True)
            for overrides, cfg in zip(jobs, configs, strict=True):
                check_added_keys(cfg, overrides, lambda o=overrides: _compose_or_none(config_name, _declared(o)))
                check_launch(cfg, multirun)
                check(cfg)
    except (HydraException, OmegaConfBaseException) as e:
        raise ConvlabError(_hydra_message(e)) from None


# The script whose command line a config is composed for (named in the answers to bad input).
SCRIPTS = {"config": "train.py", "eval": "eval.py"}


def _hydra_message(e: Exception) -> str:
    cause = e.__cause__
    detail = f" ({cause})" if isinstance(cause, OmegaConfBaseException) and str(cause) not in str(e) else ""
    return f"{e}{detail}"


def _compose(config_name: str, overrides: list[str] | None = None) -> DictConfig:
    return compose(config_name, overrides=list(overrides or []), return_hydra_config=True)


def _compose_or_none(config_name: str, overrides: list[str]) -> DictConfig | None:
    try:
        return _compose(config_name, overrides)
    except (HydraException, OmegaConfBaseException):
        return None


def _declared(overrides: list[str]) -> list[str]:
    """A job's overrides without the keys it adds with + or ++: what the config declares."""
    return [o for o in overrides if not (parse_override(o).is_add() or parse_override(o).is_force_add())]


def precheck_or_exit(config_name: str, check: Callable[[DictConfig], None]) -> None:
    """Pre-check this process's command line (setting up the process on the way, see run.environment);
    on bad input, one line on stderr and exit code 2."""
    try:
        precheck(sys.argv[1:], config_name, check, prepare=prepare_process)
    except ConvlabError as e:
        fail(str(e))
