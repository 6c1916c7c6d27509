"""Curves of a training run (matplotlib: the ``plot`` extra). ``History.plot()`` calls this."""

from __future__ import annotations

import io
from typing import Any


def figure_class() -> type:
    """matplotlib's Figure, plus ``_repr_png_``: Jupyter shows the chart when a cell ends with
    ``history.plot()``. A Figure made without pyplot has no display of its own (pyplot's inline
    backend registers one only for figures it manages). Raises ``ImportError`` without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("History.plot needs matplotlib: pip install 'portnn[plot]'") from exc

    class HistoryFigure(Figure):
        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", dpi=100)
            return buffer.getvalue()

    return HistoryFigure


def plot_history(history: dict[str, list[float]], path: Any = None) -> Any:
    """Loss curves (``loss``, ``val_loss``) in one panel and every other logged value beside them,
    by epoch; saved to ``path`` when given. Returns the matplotlib Figure, which Jupyter shows
    as a PNG image when it ends a cell.

    The figure is built without pyplot: the user's backend is not switched and no figure is left
    open in pyplot's registry.

    Raises ``ImportError`` saying how to install matplotlib when it is missing.
    """
    Figure = figure_class()
    if not history:
        raise ValueError("History.plot: nothing to plot yet (train first)")
    losses = [k for k in history if k in ("loss", "val_loss")]
    others = sorted({k.removeprefix("val_") for k in history if k not in losses})
    panels = [losses] + [[k for k in (name, f"val_{name}") if k in history] for name in others]
    fig = Figure(figsize=(4.5 * len(panels), 3.5))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, keys in zip(axes[0], panels):
        for key in keys:
            ax.plot(range(1, len(history[key]) + 1), history[key], label=key)
        ax.set_xlabel("epoch")
        ax.set_title(keys[0].removeprefix("val_") if keys else "")
        ax.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
