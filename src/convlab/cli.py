"""Command-line front door: every job of a command line is composed and checked before Hydra starts
anything, so bad input ends in one clear line on stderr and a non-zero exit, with nothing written.

Hydra's own composition errors span several lines and end with a hint about HYDRA_FULL_ERROR; the
pre-check reports the same problems as one line.
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Callable

from hydra import compose, initialize_config_dir
from hydra._internal.utils import get_args_parser
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from convlab import resolvers
from convlab.config_checks import check_config
from convlab.errors import ConvlabError
from convlab.launch import check_launch
from convlab.runtime import CONFIG_DIR

EXIT_BAD_INPUT = 2
MAX_PRECHECKED_JOBS = 512


def fail(message: str) -> None:
    """Print one error line and exit with EXIT_BAD_INPUT."""
    print(f"convlab: error: {one_line(message)}", file=sys.stderr, flush=True)
    sys.exit(EXIT_BAD_INPUT)


def one_line(message: str) -> str:
    """Fold a multi-line library message into one line: option lists become comma-separated."""
    # Hydra appends its config search path to "Could not find" errors: noise for a user.
    text = re.split(r"\n\s*Config search path", str(message))[0].replace("\r", "")
    text = re.sub(r"\n\s*\n", ". ", text.strip())
    text = re.sub(r":\s*\n\t", ": ", text)
    text = re.sub(r"\n\t", ", ", text)
    text = re.sub(r"\s*\n\s*", "; ", text)
    return re.sub(r"\s+", " ", text).replace(".;", ";").replace("..", ".")


def job_overrides(overrides: list[str], multirun: bool) -> list[list[str]]:
    """The override lists of every job a command line launches (interval sweeps are left to the sweeper)."""
    if not multirun:
        return [overrides]
    axes: list[list[str]] = []
    for override in OverridesParser.create().parse_overrides(overrides):
        if not override.is_sweep_override():
            axes.append([override.input_line])
        elif override.is_discrete_sweep():
            key = override.get_key_element()
            axes.append([f"{key}={v}" for v in override.sweep_string_iterator()])
    return [list(job) for job in itertools.islice(itertools.product(*axes), MAX_PRECHECKED_JOBS)]


def precheck(argv: list[str], config_name: str, extra_check: Callable | None = None) -> None:
    """Compose and check every job of ``argv``; raise ConvlabError on the first bad one."""
    args = get_args_parser().parse_args(argv)
    if args.help or args.hydra_help or args.cfg or args.info or args.shell_completion:
        return
    try:
        jobs = job_overrides(list(args.overrides), bool(args.multirun))
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            for overrides in jobs:
                cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
                check_launch(cfg, bool(args.multirun))
                (extra_check or check_config)(cfg)
    except (HydraException, OmegaConfBaseException) as e:
        cause = e.__cause__
        detail = f" ({cause})" if isinstance(cause, OmegaConfBaseException) and str(cause) not in str(e) else ""
        raise ConvlabError(f"{e}{detail}") from None


def run_cli(hydra_main: Callable[[], object], config_name: str, extra_check: Callable | None = None) -> None:
    """Pre-check the command line, then hand over to the Hydra app."""
    resolvers.register()
    try:
        precheck(sys.argv[1:], config_name, extra_check)
    except ConvlabError as e:
        fail(str(e))
    hydra_main()
