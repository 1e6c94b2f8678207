"""Build the object a config node names (its ``_target_``), a user's mistake kept to one clear line."""

from __future__ import annotations

from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning_fabric.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig

from convlab.errors import ConfigError, ConvlabError


def make(node: DictConfig, key: str, **kwargs: Any) -> Any:
    """instantiate(node), unwrapping Hydra's wrapper so a user error stays one clear line."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as e:
        cause = e.__cause__
        if isinstance(cause, ConvlabError):
            raise cause from None
        if isinstance(cause, (TypeError, ValueError, MisconfigurationException)):
            raise ConfigError(f"{key}: {cause}") from None
        raise
