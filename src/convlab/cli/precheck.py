"""The command-line pre-check: every job of a command line is composed and checked before Hydra starts
anything, so bad input ends in one clear line on stderr and a non-zero exit, with nothing written.

Hydra's own composition errors span several lines and end with a hint about HYDRA_FULL_ERROR; the
pre-check reports the same problems as one line.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hydra import compose, version
from hydra._internal.hydra import Hydra
from hydra._internal.utils import create_config_search_path, get_args_parser
from hydra.core.config_search_path import SearchPathQuery
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.initialize import get_gh_backup, restore_gh_from_backup
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

import convlab.config.resolvers  # noqa: F401  (registers the resolvers the run directory names use)
from convlab.cli.exit import fail
from convlab.config import CONFIG_DIR
from convlab.config.checks import check_slurm_launch, submitit_sweep_dir_note
from convlab.config.overrides import parse_override
from convlab.config.runtime import invocation
from convlab.config.suggest import check_added_keys, dashed_option, explain_composition_error
from convlab.errors import ConfigError, ConvlabError
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
) -> list[str]:
    """Compose every job of ``argv`` and run ``check`` on it; raise ConvlabError on the first bad one. Returns
    ``argv`` as Hydra is to read it: ``+key=value`` for a key the config already has becomes ``key=value``
    (``+loss.label_smoothing=0.1`` sets loss=ce's declared key instead of failing as Hydra would).

    ``prepare(configs, multirun)`` runs once every job is composed and before the first check, which may
    import torch: the place for process settings that OpenMP reads only once, when torch loads it.
    """
    parser = get_args_parser()
    config_dir = parser.parse_known_args(argv)[0].config_dir
    with config_search(config_dir):
        dashed = dashed_option(
            argv,
            parser._option_string_actions,
            invocation(COMMANDS.get(config_name, config_name)),
            lambda: _compose(config_name),
        )
    if dashed:
        raise ConvlabError(dashed)
    args = parser.parse_args(argv)
    if args.help or args.hydra_help or args.cfg or args.info or args.shell_completion:
        return argv
    multirun = bool(args.multirun)
    try:
        jobs = job_overrides(list(args.overrides), multirun)
        with config_search(config_dir):
            declared = _adds_of_declared_keys(config_name, list(args.overrides), jobs)
            if declared:
                argv = [declared.get(a, a) for a in argv]
                jobs = job_overrides([declared.get(o, o) for o in args.overrides], multirun)
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
    return argv


def _adds_of_declared_keys(config_name: str, overrides: list[str], jobs: list[list[str]]) -> dict[str, str]:
    """``{"+key=value": "key=value"}`` for each override that adds (``+``) a key the config already declares."""
    adds = [o for o in overrides if parse_override(o).is_add()]
    if not adds or not jobs:
        return {}
    base = _compose_or_none(config_name, _declared(jobs[0]))
    if base is None:
        return {}
    missing = object()
    return {
        o: o[1:] for o in adds if OmegaConf.select(base, parse_override(o).key_or_group, default=missing) is not missing
    }


@contextmanager
def config_search(config_dir: str | None) -> Iterator[None]:
    """Hydra set up to compose from convlab's conf/ and a command line's ``--config-dir`` (the user's own groups,
    searched after convlab's), as the command's Hydra main will; ``hydra.searchpath`` overrides act in compose."""
    backup = get_gh_backup()
    version.setbase("1.3")
    search_path = create_config_search_path(search_path_dir=CONFIG_DIR)
    if config_dir is not None:
        if not os.path.isdir(config_dir):
            raise ConfigError(f"--config-dir {config_dir}: no such directory")
        # Where Hydra's main puts it: after convlab's conf/, so a group the user adds is found, never replaces one.
        search_path.prepend("command-line", f"file://{os.path.abspath(config_dir)}", SearchPathQuery(provider="schema"))
    Hydra.create_main_hydra2(task_name="app", config_search_path=search_path)
    try:
        yield
    finally:
        restore_gh_from_backup(backup)


# The command a config is composed for (its command line named in the answers to bad input).
COMMANDS = {"config": "train", "eval": "eval"}


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


def precheck_or_exit(config_name: str, check: Callable[[DictConfig], None], argv: list[str] | None = None) -> list[str]:
    """Pre-check a command line (default: this process's), setting up the process on the way (see
    run.environment); on bad input, one line on stderr and exit code 2. Returns the command line as Hydra is to
    read it (precheck's)."""
    try:
        return precheck(sys.argv[1:] if argv is None else argv, config_name, check, prepare=prepare_process)
    except ConvlabError as e:
        fail(str(e))
