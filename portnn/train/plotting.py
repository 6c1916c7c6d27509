"""Curves of a training run (matplotlib: the ``plot`` extra). ``History.plot()`` calls this."""

from __future__ import annotations

from typing import Any


def plot_history(history: dict[str, list[float]], path: Any = None) -> Any:
    """Loss curves (``loss``, ``val_loss``) in one panel and every other logged value beside them,
    by epoch; saved to ``path`` when given. Returns the matplotlib Figure (Jupyter displays it).

    The figure is built without pyplot: the user's backend is not switched and no figure is left
    open in pyplot's registry.

    Raises ``ImportError`` saying how to install matplotlib when it is missing.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("History.plot needs matplotlib: pip install 'portnn[plot]'") from exc
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
