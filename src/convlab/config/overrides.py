"""Command-line overrides (``key=value``, ``+key=value``, ``~key``, ``group=option``), read with Hydra's own parser.

Every place that needs an override's key or value asks here, so an override means the same thing to the
pre-check, the sweep resume, the report and the trackers as it does to Hydra.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from convlab.errors import ConfigError

# The config groups that name what a run is; results.json records the option chosen in each.
GROUPS = ("dataset", "model", "optim", "loss", "task")
# Overrides that say how a sweep runs, not what a job is: ignored when matching a resumed job or checkpoint, left
# out of a job's directory name (conf/hydra/default.yaml's exclude_keys: the same list, tests/unit/test_config.py).
# optuna_trial: the Optuna sweeper's trial number (the job's directory is named by it; a resume runs outside the study).
NOT_IDENTITY_KEYS = ("skip_done", "sweep_label", "optuna_trial")


@functools.lru_cache(maxsize=4096)
def parse_override(text: str) -> Override:
    """One override string as Hydra reads it; ConfigError (one line) when Hydra cannot read it."""
    try:
        return OverridesParser.create().parse_overrides([str(text)])[0]
    except HydraException as e:
        raise ConfigError(f"cannot read the override {text!r}: {str(e).splitlines()[0]}") from None


def override_key(text: str) -> str:
    """``++trainer.max_epochs=3`` -> ``trainer.max_epochs``; ``hydra/launcher=joblib`` -> ``hydra/launcher``."""
    return parse_override(text).key_or_group


def override_value(text: str) -> str | None:
    """The value as written (``hydra.sweep.dir=/a/b`` -> ``/a/b``); None for a deletion without value (``~key``)."""
    override = parse_override(text)
    return None if override.value() is None else override.get_value_element_as_str()


def typed_value(text: str) -> Any:
    """The value as Hydra types it (``optim.lr=1e-3`` -> 0.001, ``seed=3`` -> 3, ``a=[1,2]`` -> [1, 2])."""
    return parse_override(text).value()


def is_deletion(text: str) -> bool:
    return parse_override(text).is_delete()


def values_of(overrides: list[str], key: str) -> list[str]:
    """The values given to ``key`` in ``overrides``, in order (the last one is what Hydra uses)."""
    return [value for o in overrides if override_key(o) == key and (value := override_value(o)) is not None]


def job_identity(overrides: list[str]) -> list[str]:
    """A job's overrides without those that only say how its sweep runs, in a fixed order."""
    return sorted(o for o in overrides if override_key(o) not in NOT_IDENTITY_KEYS)


def command_line_overrides() -> list[str]:
    """The Hydra overrides of the current run (empty when composed without Hydra's runtime)."""
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def overrides_of(cfg: DictConfig) -> list[str]:
    """The command-line overrides ``cfg`` was composed with: its own Hydra node's (the pre-check's configs) or,
    without one, the current run's."""
    task = OmegaConf.select(cfg, "hydra.overrides.task", default=None) if "hydra" in cfg else None
    return [str(o) for o in task] if task is not None else command_line_overrides()


def replaced_targets(cfg: DictConfig, overrides: list[str] | None = None) -> set[str]:
    """The groups whose ``_target_`` the command line (``overrides``, default ``cfg``'s) sets."""
    return replaced_groups(overrides_of(cfg) if overrides is None else overrides)


def replaced_groups(overrides: Iterable[str]) -> set[str]:
    """The groups whose ``_target_`` these overrides set (``model._target_=mymodels.Tiny``): the group's option no
    longer names what runs."""
    groups = set()
    for text in overrides:
        override = parse_override(str(text))
        group, _, leaf = override.key_or_group.partition(".")
        if leaf == "_target_" and group in GROUPS and not override.is_delete():
            groups.add(group)
    return groups


def named_by_target(choices: dict[str, str], cfg: DictConfig, overrides: list[str] | None = None) -> dict[str, str]:
    """``choices`` with each group whose ``_target_`` the command line replaced named by that target."""
    out = dict(choices)
    for g in replaced_targets(cfg, overrides):
        out[g] = str(OmegaConf.select(cfg, f"{g}._target_"))
    return out


def group_choices(cfg: DictConfig) -> dict[str, str]:
    """The option chosen in each config group (``model=lenet`` -> {"model": "lenet"}); a group whose
    ``_target_`` the command line replaced is named by that target (``model._target_=mymodels.Tiny`` ->
    {"model": "mymodels.Tiny"}), never by the option it replaced."""
    if "hydra" in cfg and OmegaConf.select(cfg, "hydra.runtime.choices") is not None:
        choices = cfg.hydra.runtime.choices
    elif HydraConfig.initialized():
        choices = HydraConfig.get().runtime.choices
    else:
        choices = {}
    out = named_by_target({g: str(choices[g]) for g in GROUPS if choices.get(g) is not None}, cfg)
    for g in GROUPS:  # composed without Hydra's runtime info (tests): name by class
        if g not in out and OmegaConf.select(cfg, f"{g}._target_"):
            out[g] = str(cfg[g]._target_).rsplit(".", 1)[-1].lower()
    return out
