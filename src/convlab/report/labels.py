"""Text labels that never overlap: placed greedily around their points, dropped when there is no room."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

# Offsets (points) tried in turn: right-above first, as a reader expects a label beside its marker.
OFFSETS = ((7, 4), (7, -12), (-7, 4), (-7, -12), (7, 14), (-7, 14), (7, -22), (-7, -22))


def visible_texts(fig: Any) -> list[Any]:
    """Every drawn, non-empty text of a figure: titles, axis and tick labels, annotations, legend entries.

    Tick labels count only for ticks inside the view: matplotlib keeps (visible) labels of the ticks it
    does not draw, at stale positions."""
    from matplotlib.text import Text

    texts, tick_labels = [], set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                tick_labels |= {id(tick.label1), id(tick.label2)}
                if low - 1e-9 * abs(high - low) <= tick.get_loc() <= high + 1e-9 * abs(high - low):
                    texts += [t for t in (tick.label1, tick.label2) if t.get_visible() and t.get_text().strip()]
    others = [t for t in fig.findobj(Text) if id(t) not in tick_labels]
    return texts + [t for t in others if t.get_visible() and t.get_text().strip() and _shown(t)]


def _shown(text: Any) -> bool:
    # A text placed in data coordinates outside the view is not drawn.
    axes = text.axes
    if axes is None or text.get_transform() is not axes.transData:
        return True
    x, y = text.get_position()
    (x0, x1), (y0, y1) = sorted(axes.get_xlim()), sorted(axes.get_ylim())
    return x0 <= x <= x1 and y0 <= y <= y1


def text_boxes(fig: Any) -> list[tuple[Any, Any]]:
    """(text, its window extent) after a full draw, so constrained layout has placed everything."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [(t, t.get_window_extent(renderer)) for t in visible_texts(fig)]


def overlapping_texts(fig: Any, pad: float = 1.0) -> list[tuple[str, str]]:
    """Pairs of visible texts whose boxes overlap by more than ``pad`` pixels each way (touching is fine)."""
    boxes = [(t, b.padded(-pad)) for t, b in text_boxes(fig) if b.width > 2 * pad and b.height > 2 * pad]
    return [(a.get_text(), b.get_text()) for (a, ba), (b, bb) in combinations(boxes, 2) if ba.overlaps(bb)]


def place_labels(ax: Any, points: Sequence[tuple[float, float, str]], fontsize: float = 7) -> int:
    """Annotate points in the order given (best first), each at the first offset where its box stays inside
    the axes and overlaps no label already placed (nor any other text in the axes); a label with no room is
    left out. Returns how many were placed.

    The figure's layout must be final (fixed margins, legend outside the axes, limits set): labels are
    measured once, and a later layout pass would move them onto each other. Keeping labels inside the axes
    keeps them off tick labels, titles and a legend placed outside.
    """
    fig = ax.figure
    if fig.get_layout_engine() is not None:  # settle the layout once, then keep it
        fig.draw_without_rendering()
        fig.set_layout_engine("none")
    ax.autoscale_view()
    renderer = fig.canvas.get_renderer()
    taken = [t.get_window_extent(renderer).padded(2) for t in ax.texts if t.get_visible() and t.get_text()]
    inside = ax.get_window_extent(renderer)
    placed = 0
    for x, y, text in points:
        for offset in OFFSETS:
            label = ax.annotate(
                text,
                (x, y),
                textcoords="offset points",
                xytext=offset,
                fontsize=fontsize,
                ha="left" if offset[0] > 0 else "right",
            )
            box = label.get_window_extent(renderer)
            fits = inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1
            if fits and not any(box.overlaps(other) for other in taken):
                taken.append(box.padded(2))
                placed += 1
                break
            label.remove()
    return placed
