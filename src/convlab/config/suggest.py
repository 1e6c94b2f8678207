"""What a bad command line probably meant: "did you mean" for a misspelt group option, config key or group,
keys added with ``+``/``++`` that nothing would read, and options typed as ``--model lenet``.

A key that is not in the composed config is accepted only when something reads it:
- it is an argument of the ``_target_`` of the node it is added to (``++trainer.limit_train_batches=2``:
  an argument of pytorch_lightning.Trainer), or it is that node's own ``_target_`` (``+callbacks.x._target_=...``);
- or it starts with one of ALLOWED_NEW_KEYS.
Anything else would be silently ignored by a run (``+epochs=3`` trained the default 10 epochs), so it is refused.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable

from omegaconf import DictConfig, OmegaConf

from convlab.config.overrides import override_value, parse_override
from convlab.config.runtime import invocation
from convlab.config.targets import accepted_arguments, locate
from convlab.errors import ConfigError

# Keys the composed config does not declare that may still be added with + or ++: Hydra's own settings
# (``+hydra.job.env_set.X=1``), which Hydra checks against its own schema.
ALLOWED_NEW_KEYS = ("hydra.",)

# Words a newcomer types for a key or group convlab names otherwise.
SYNONYMS = {
    "epochs": "max_epochs",
    "epoch": "max_epochs",
    "n_epochs": "max_epochs",
    "num_epochs": "max_epochs",
    "steps": "max_steps",
    "learning_rate": "lr",
    "optimizer": "optim",
    "optimiser": "optim",
    "batchsize": "batch_size",
    "bs": "batch_size",
    "criterion": "loss",
    "data": "dataset",
    "gpus": "devices",
}

# Overrides the composed config cannot say anything about: Hydra's own node is left to Hydra.
_HYDRA = "hydra"


def closest(name: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate ``name`` most likely meant: the same ignoring case, a known synonym, or a close spelling."""
    lowered = {c.lower(): c for c in candidates}
    word = name.lower()
    if word in lowered:
        return lowered[word]
    if SYNONYMS.get(word) in lowered:
        return lowered[SYNONYMS[word]]
    match = difflib.get_close_matches(word, list(lowered), n=1, cutoff=cutoff)
    return lowered[match[0]] if match else None


def config_keys(cfg: DictConfig) -> list[str]:
    """Every dotted key of ``cfg``, Hydra's node and ``_target_``-like keys left out (nothing is resolved)."""
    keys: list[str] = []

    def walk(node: DictConfig, prefix: str) -> None:
        for key in node:
            key = str(key)
            if (prefix == "" and key == _HYDRA) or key.startswith("_"):
                continue
            keys.append(prefix + key)
            if not OmegaConf.is_interpolation(node, key) and not OmegaConf.is_missing(node, key):
                child = node._get_node(key)
                if isinstance(child, DictConfig):
                    walk(child, f"{prefix}{key}.")

    walk(cfg, "")
    return keys


def group_names(cfg: DictConfig) -> list[str]:
    """The config groups of a composed config (``model``, ``hydra/launcher`` ...)."""
    choices = OmegaConf.select(cfg, "hydra.runtime.choices", default=None)
    return [str(g) for g in choices] if choices is not None else []


def closest_key(key: str, cfg: DictConfig, arguments: bool = True) -> str | None:
    """The dotted key ``key`` most likely meant, as an override writes it: a key beside it in ``cfg`` first,
    then (``arguments``) an argument of the ``_target_`` of the node it is in (``++trainer.limit_val_batches``),
    then a key of the same name anywhere (``epochs`` -> ``trainer.max_epochs``), then the whole key."""
    keys = [k for k in config_keys(cfg) if k != key]
    parent, _, leaf = key.rpartition(".")
    siblings = {k.rpartition(".")[2]: k for k in keys if k.rpartition(".")[0].lower() == parent.lower()}
    hit = closest(leaf, siblings)
    if hit:
        return siblings[hit]
    node = _select_node(cfg, parent) if parent else None
    if arguments and isinstance(node, DictConfig) and "_target_" in node:
        hit = closest(leaf, [a for a in target_arguments(str(node["_target_"])) or () if a not in node])
        if hit:
            return f"++{parent}.{hit}"
    by_leaf: dict[str, str] = {}
    for k in sorted(keys, key=len):  # the shortest key of each name
        by_leaf.setdefault(k.rpartition(".")[2], k)
    # a short name only when it is exact (lr -> optim.lr): close spellings of short names are mostly noise
    short = len(leaf) < 4 and leaf.lower() not in SYNONYMS
    hit = closest(leaf, [k for k in by_leaf if k.lower() == leaf.lower()] if short else by_leaf, cutoff=0.75)
    if hit:
        return by_leaf[hit]
    same_depth = [k for k in keys if k.count(".") == key.count(".")]
    return closest(key, same_depth, cutoff=0.75)


def target_arguments(target: str) -> list[str] | None:
    """The keyword arguments ``target`` (a class or function) accepts; None when any name may be accepted
    (``**kwargs`` that reach no fixed signature) or when it cannot be imported. A factory's ``**kwargs`` reach
    the class it builds (convlab.config.targets.accepted_arguments)."""
    try:
        return accepted_arguments(locate(target, "_target_"))
    except ConfigError:  # not importable here: its own check names it
        return None


def _select_node(cfg: DictConfig, path: str) -> object:
    try:
        return OmegaConf.select(cfg, path, default=None, throw_on_missing=False, throw_on_resolution_failure=False)
    except Exception:
        return None


def _written(key: str, value: str | None) -> str:
    return key + ("" if value is None else f"={value}")


def _enclosing_target(cfg: DictConfig, key: str) -> tuple[str, str, str, list[str] | None] | None:
    """(node, argument, target, the target's arguments) for the nearest node above ``key`` with a ``_target_``."""
    parts = key.split(".")
    for i in range(len(parts) - 1, 0, -1):
        node = _select_node(cfg, ".".join(parts[:i]))
        if isinstance(node, DictConfig) and "_target_" in node:
            target = str(node["_target_"])
            allowed = target_arguments(target)
            if allowed and node.get("_partial_") is True:
                allowed = allowed[1:]  # a factory: convlab supplies the first argument (parameters, optimizer)
            return ".".join(parts[:i]), parts[i], target, allowed
    return None


def _has_key(cfg: DictConfig, key: str) -> bool:
    parent, _, leaf = key.rpartition(".")
    node = _select_node(cfg, parent) if parent else cfg
    return isinstance(node, DictConfig) and leaf in node


def check_added_keys(cfg: DictConfig, overrides: list[str], declared: Callable[[], DictConfig | None]) -> None:
    """Refuse a key added with ``+``/``++`` that nothing reads (see the module's docstring). ``declared``
    composes the job without its ``+``/``++`` keys (None when that fails): the keys the config declares."""
    groups = set(group_names(cfg))
    for text in overrides:
        override = parse_override(text)
        if not (override.is_add() or override.is_force_add()) or override.is_delete():
            continue
        key = override.key_or_group
        if "/" in key or "@" in key or key in groups or key == _HYDRA or key.startswith(ALLOWED_NEW_KEYS):
            continue
        owner = _enclosing_target(cfg, key)
        if owner is not None:
            _, argument, _, allowed = owner
            if argument.startswith("_") or allowed is None or argument in allowed:
                continue  # the node's own _target_ / _partial_, or an argument of its target
        base = declared()
        if base is not None and _has_key(base, key):
            continue  # in the config's schema: ++ sets it
        hint = closest_key(key, cfg)
        value = None if override.value() is None else override.get_value_element_as_str()
        meant = f"; did you mean {_written(hint, value)}?" if hint else ""
        if owner is not None:
            node, argument, target, allowed = owner
            takes = f"; it takes {', '.join(allowed)}" if allowed and not hint and len(allowed) <= 15 else ""
            raise ConfigError(f"{text}: {node}.{argument} is not an argument of {target}{meant}{takes}")
        raise ConfigError(
            f"{text}: {key} is not a key of the config and nothing reads it (a run would ignore it){meant}"
            + ("" if hint else f"; {invocation()} --cfg job prints every key")
        )


def without_search_path(message: str) -> str:
    """Hydra's message without the config search path it appends to "Could not find" errors: noise for a user."""
    return re.split(r"\n\s*Config search path", message)[0]


def explain_composition_error(
    message: str, overrides: list[str], compose_without: Callable[[list[str]], DictConfig | None]
) -> str:
    """Hydra's composition error with a "did you mean" added where a close match exists. ``compose_without``
    composes the given overrides (None when that fails too)."""
    missing = re.search(r"Could not find '([^']*)/([^'/]*)'", message)
    if missing:
        group, option = missing.groups()
        listed = re.search(r"Available options in '[^']*':((?:\s*\n\t[^\n]*)+)", message)
        options = listed.group(1).split() if listed else []
        hint = closest(option, options) if option else None
        if not hint:
            return message
        message = without_search_path(message).rstrip()
        return f"{message}\ndid you mean {group}={hint}?"
    unknown = re.search(r"Could not override '([^']+)'", message)
    if not unknown or "is not in struct" not in message:
        return message
    key = unknown.group(1)
    if key.startswith(f"{_HYDRA}."):
        return message  # Hydra's own settings: its message names them
    rest = [o for o in overrides if _key_of(o) != key]
    base = compose_without(rest) or compose_without([])
    if base is None:
        return message
    value = next((override_value(o) for o in overrides if _key_of(o) == key), None)
    head = f"Could not override '{key}': no such key or config group in the config"
    groups = [g for g in group_names(base) if not g.startswith(_HYDRA)]
    if "." not in key:
        group = closest(key, groups)
        if group:
            return f"{head}; did you mean {group}" + ("" if value is None else f"={value}") + "?"
    hint = closest_key(key, base)
    if hint:
        return f"{head}; did you mean {_written(hint, value)}?"
    return f"{head}; {invocation()} --cfg job prints every key"


def _key_of(text: str) -> str | None:
    try:
        return parse_override(text).key_or_group
    except ConfigError:
        return None


def dashed_option(
    argv: list[str], known: Iterable[str], command: str, compose_default: Callable[[], DictConfig]
) -> str | None:
    """A one-line answer to an option typed as ``--model lenet`` / ``--model=lenet``: the Hydra form, written after
    ``command`` (how the user started convlab: config.runtime.invocation)."""
    known = set(known)
    long_known = [k for k in known if k.startswith("--")]
    for i, arg in enumerate(argv):
        if not arg.startswith("-") or arg == "-":
            continue
        name, eq, value = arg.partition("=")
        if name in known or (name.startswith("--") and any(k.startswith(name) for k in long_known)):
            continue  # Hydra's own flag (argparse also takes a unique prefix of one)
        typed = arg
        if not eq:
            following = argv[i + 1] if i + 1 < len(argv) else ""
            if following and not following.startswith("-") and "=" not in following:
                value, typed = following, f"{arg} {following}"
        word = name.lstrip("-").replace("-", "_")
        cfg = compose_default()
        groups = [g for g in group_names(cfg) if not g.startswith(_HYDRA)]
        if word in groups or word in config_keys(cfg):
            meant = _written(word, value or ("<option>" if word in groups else "<value>"))
        else:
            hint = (closest(word, groups) if "." not in word else None) or closest_key(word, cfg, arguments=False)
            if hint is None:
                return (
                    f"{typed}: not an option of {command}; settings are Hydra overrides written key=value without "
                    f"dashes ({command} --help lists them)"
                )
            meant = _written(hint, value or ("<option>" if hint in groups else "<value>"))
        return f"{typed}: settings are Hydra overrides written without dashes: {command} {meant}"
    return None
