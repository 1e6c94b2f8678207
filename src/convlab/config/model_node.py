"""The model's config node as it is built: the group's node, or a new one when the command line replaces its
``_target_``, with the arguments the data decides (``in_channels``, ``num_classes``, ``image_size``) filled in
where the model takes them and the config leaves them unset.

``model._target_=mymodels.Tiny`` replaces the node: LeNet's ``channels``, ``hidden`` ... are not passed to
Tiny. What the command line sets beside it (``model.width=8``, ``+model.depth=2``) is kept.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from convlab.config.overrides import overrides_of, parse_override, replaced_targets
from convlab.config.targets import DATA_ARGUMENTS, data_arguments, locate

GROUP = "model"


def command_line_keys(cfg: DictConfig, group: str = GROUP) -> set[str]:
    """The top-level keys of ``group`` that the command line sets (``model.hidden=3`` -> {"hidden"})."""
    keys = set()
    for text in overrides_of(cfg):
        override = parse_override(text)
        key = override.key_or_group
        if key.startswith(f"{group}.") and not override.is_delete():
            keys.add(key.split(".")[1])
    return keys


def model_node(cfg: DictConfig, shape: Any | None = None) -> DictConfig:
    """``cfg.model`` as built (see the module's docstring); ``shape`` (a convlab.data.shape.DataShape, or None
    for data that has none) fills the data's arguments."""
    node = cfg[GROUP]
    container = OmegaConf.to_container(node, resolve=True)
    if GROUP in replaced_targets(cfg):
        kept = command_line_keys(cfg) | {"_target_"}
        container = {k: v for k, v in container.items() if k in kept or k.startswith("_")}
    if shape is not None:
        target = locate(str(container["_target_"]), f"{GROUP}._target_")
        container.update(data_arguments(target, container, shape))
    # left to data that has no shape: the model's own defaults
    container = {k: v for k, v in container.items() if not (k in DATA_ARGUMENTS and v is None)}
    return OmegaConf.create(container)
