"""The Optuna search space of ``hydra.sweeper.params`` (conf/hparams_search/optuna.yaml), in Hydra's sweep syntax.

``choice(a, b)`` is categorical, ``range(start, stop, step)`` a stepped int (or float) range without ``stop``
(as Python's range), ``interval(low, high)`` a uniform float (Hydra reads its ends as floats), ``tag(int,
interval(...))`` a uniform int, and ``tag(log, interval(...))`` log-uniform (``tag(int, log, ...)`` both).
A plain value is fixed: passed to every trial, not searched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep, Override, RangeSweep, Transformer
from hydra.errors import HydraException

from convlab.errors import ConfigError


def search_space(params: Mapping[str, Any] | None, arguments: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """(distributions by key, fixed values by key) of the sweeper's params plus the command line's overrides
    (a command-line override of a key replaces the config's)."""
    lines = [f"{k}={v}" for k, v in (params or {}).items()] + list(arguments)
    try:
        parsed = OverridesParser.create().parse_overrides(lines)
    except HydraException as e:
        raise ConfigError(f"hydra.sweeper.params: {e}") from None
    distributions: dict[str, Any] = {}
    fixed: dict[str, str] = {}
    for override in parsed:
        key = override.get_key_element()
        distributions.pop(key, None)
        fixed.pop(key, None)
        if override.is_sweep_override():
            distributions[key] = distribution(override)
        else:
            fixed[key] = override.get_value_element_as_str()
    return distributions, fixed


def distribution(override: Override) -> Any:
    """The Optuna distribution of one sweep override."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    value = override.value()
    key = override.get_key_element()
    if override.is_choice_sweep() or (override.is_range_sweep() and value.shuffle):
        return CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))
    if override.is_range_sweep():
        assert isinstance(value, RangeSweep)
        values = list(override.sweep_iterator())
        if not values:
            raise ConfigError(f"{key}={override.get_value_element_as_str()}: the range is empty")
        if all(isinstance(v, int) for v in values) and isinstance(value.step, int):
            return IntDistribution(int(values[0]), int(values[-1]), step=int(value.step))
        return FloatDistribution(float(values[0]), float(values[-1]), step=float(value.step))
    if override.is_interval_sweep():
        assert isinstance(value, IntervalSweep)
        log = "log" in value.tags
        if log and min(value.start, value.end) <= 0:
            raise ConfigError(f"{key}: tag(log, interval(...)) needs a positive lower end, not {value.start}")
        if "int" in value.tags:
            return IntDistribution(int(value.start), int(value.end), log=log)
        return FloatDistribution(float(value.start), float(value.end), log=log)
    raise ConfigError(f"{key}={override.get_value_element_as_str()}: not a sweep Optuna can search")


def trial_overrides(params: Mapping[str, Any], fixed: Mapping[str, str]) -> list[str]:
    """A trial's overrides: its sampled values, then the fixed ones."""
    return [f"{k}={v}" for k, v in params.items()] + [f"{k}={v}" for k, v in fixed.items() if k not in params]
