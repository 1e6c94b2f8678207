"""The report's figures: pyplot on the Agg backend, one save (atomic, closed after), one caption per file."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convlab.fileio import atomic_savefig

DPI = 100  # with the figure sizes used, images stay legible at 1280 px and the page small


def pyplot() -> Any:
    """matplotlib.pyplot on the file-only backend; imported on use: it is slow to import."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: Path, dpi: int = DPI) -> Path:
    """Every report figure is saved here (tests wrap this to look inside each figure before it closes)."""
    return atomic_savefig(fig, path, dpi=dpi)


def wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False)) or text


def empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


@dataclass
class Picture:
    """A written figure and where the page shows it: its section, a caption in words, folded away or not."""

    path: Path
    caption: str
    section: str
    folded: bool = False  # inside a <details> element: the rest of a long list
