"""What a config node's ``_target_`` is: a class or any callable (``torchvision.models.resnet18``), the class a
factory builds, and the keyword arguments it accepts.

A model is any ``torch.nn.Module`` class or any callable returning one; nothing convlab-specific is required.
What a class may declare is optional and read with a default here: ``task_kinds`` (models and losses, default
classification) and ``task_kind`` (data modules and tasks, default classification).
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

from convlab.errors import ConfigError

DEFAULT_TASK_KIND = "classification"

# The arguments a model may leave to the data: filled from its DataShape where the constructor takes them.
DATA_ARGUMENTS = ("in_channels", "num_classes", "image_size")


def locate(target: str, key: str) -> Any:
    """The class or callable ``target`` names (as Hydra's instantiate finds it); ConfigError naming ``key``."""
    from hydra._internal.utils import _locate

    try:
        obj = _locate(str(target))
    except Exception:
        raise ConfigError(f"{key}={target}: no such class or function (is its module importable?)") from None
    if not callable(obj):
        raise ConfigError(f"{key}={target} is not a class or a function")
    return obj


def built_class(obj: Any) -> type | None:
    """The class ``obj`` builds: itself when it is a class, else a factory's annotated return class
    (``resnet18(...) -> ResNet``); None when not known."""
    if inspect.isclass(obj):
        return obj
    try:
        returned = typing.get_type_hints(obj).get("return")
    except Exception:  # annotations that do not resolve here: not known
        returned = None
    if returned is None:
        returned = getattr(inspect.signature(obj), "return_annotation", None) if _has_signature(obj) else None
    return returned if inspect.isclass(returned) else None


def _has_signature(obj: Any) -> bool:
    try:
        inspect.signature(obj)
    except (TypeError, ValueError):
        return False
    return True


def task_kinds(obj: Any) -> tuple[str, ...]:
    """The task kinds a model or loss suits: its (or its built class's) ``task_kinds``; classification if unsaid."""
    klass = built_class(obj) or obj
    return tuple(getattr(obj, "task_kinds", None) or getattr(klass, "task_kinds", None) or (DEFAULT_TASK_KIND,))


def task_kind(obj: Any) -> str:
    """The task kind a data module or task names (``task_kind``); classification if unsaid."""
    return str(getattr(obj, "task_kind", None) or DEFAULT_TASK_KIND)


def accepted_arguments(obj: Any) -> list[str] | None:
    """The keyword arguments ``obj`` (a class or a callable) accepts; None when any name may be accepted
    (``**kwargs`` that reach no fixed signature) or when its signature cannot be read. A factory's ``**kwargs``
    are followed to the class it builds (``resnet18``'s reach ``ResNet``: ``num_classes`` ...)."""
    try:
        if inspect.isclass(obj):
            return _class_arguments(obj)
        names, open_ended = _arguments(inspect.signature(obj))
        if not open_ended:
            return names
        klass = built_class(obj)
        reached = _class_arguments(klass) if klass is not None else None
        return None if reached is None else names + [n for n in reached if n not in names]
    except (TypeError, ValueError):
        return None


def _class_arguments(klass: type) -> list[str] | None:
    names: list[str] = []
    # A class whose __init__ takes **kwargs and passes them on: follow it up to a fixed signature.
    for base in klass.__mro__:
        init = base.__dict__.get("__init__")
        if init is None:
            continue
        if base is object:
            return None
        fixed, open_ended = _arguments(inspect.signature(init))
        names += [n for n in fixed if n != "self" and n not in names]
        if not open_ended:
            return names
    return None


def _arguments(signature: inspect.Signature) -> tuple[list[str], bool]:
    params = signature.parameters.values()
    named = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return named, any(p.kind == p.VAR_KEYWORD for p in params)


def data_arguments(obj: Any, given: dict[str, Any], shape: Any) -> dict[str, Any]:
    """The arguments among ``in_channels``, ``num_classes``, ``image_size`` that ``obj`` accepts and the config
    does not give (``given``: the node's values; a null is not given), with their values from the data's ``shape``
    (a convlab.data.shape.DataShape). ``image_size`` is an int for square images, else [height, width]."""
    accepted = accepted_arguments(obj) or []
    given = {k for k, v in given.items() if v is not None}
    values = {
        "in_channels": shape.channels,
        "num_classes": shape.num_classes,
        "image_size": shape.height if shape.height == shape.width else [shape.height, shape.width],
    }
    return {name: values[name] for name in DATA_ARGUMENTS if name in accepted and name not in given}
