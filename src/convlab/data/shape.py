"""What a model needs to know about its data before any training: one input's shape and the classes.

The pre-check asks a data module for its ``DataShape`` (``shape()``) to fill a model's missing
``in_channels`` / ``image_size`` / ``num_classes`` and to pass one input of that shape through the model.
A data module answers cheaply where it can (constants, a folder scan, one image's header), without decoding
its whole data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataShape:
    """One input is ``channels x height x width``; labels are ``0 .. len(class_names) - 1``."""

    channels: int
    height: int
    width: int
    class_names: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height, self.width)

    def describe(self) -> str:
        """``1 x 28 x 28, 10 classes``: how error lines name it."""
        return f"{self.channels} x {self.height} x {self.width}, {self.num_classes} classes"
