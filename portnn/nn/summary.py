"""A network as a table: each layer, its output size, its parameters and buffers; totals; where
it computes. ``Network.summary()`` prints it."""

from __future__ import annotations

import math
from typing import Any, Protocol


class Summarized(Protocol):
    """What the table reads of a network (``Network`` has it; the network imports this module)."""

    n_in: int | None
    layers: list[Any]
    backend: Any
    dtype_name: str


def _count(arrays: dict) -> int:
    return sum(math.prod(a.shape) for a in arrays.values())


def _activation_name(layer: Any) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in layer.get_config().items())
    return type(layer).__name__ + (f"({args})" if args else "")


class SummaryText(str):
    """The table :meth:`Network.summary` prints and returns: a ``str``, which IPython and Jupyter
    do not display a second time when it ends a cell (the table is printed already)."""

    def _ipython_display_(self) -> None:
        return None


def summary_table(network: Summarized) -> str:
    """The table :meth:`Network.summary` prints.

    >>> import portnn as pn
    >>> print(summary_table(pn.Sequential(pn.Dense(2, 3), pn.ReLU(), pn.Dense(3, 1, activation="sigmoid"), seed=0)))
    #  layer                   output  parameters  buffers
    0  Dense(2 -> 3)           3                9        0
    1  ReLU                    3                0        0
    2  Dense(3 -> 1, Sigmoid)  1                4        0
    total: 13 trainable parameters, 0 buffer values; backend numpy (device cpu), float32
    """
    rows, size = [], network.n_in
    for i, layer in enumerate(network.layers):
        size = layer.output_size(size)
        name = type(layer).__name__
        if hasattr(layer, "n_in") and hasattr(layer, "n_out"):
            name += f"({layer.n_in} -> {layer.n_out})"
        if getattr(layer, "activation", None) is not None:  # Dense(..., activation=...)
            name = f"{name[:-1]}, {_activation_name(layer.activation)})"
        rows.append((str(i), name, "?" if size is None else str(size), _count(layer.params), _count(layer.buffers)))
    width = max([len("layer")] + [len(r[1]) for r in rows]) + 2
    lines = [f"{'#':<3}{'layer':<{width}}{'output':<8}{'parameters':>10}{'buffers':>9}"]
    lines += [f"{i:<3}{name:<{width}}{out:<8}{p:>10}{b:>9}" for i, name, out, p, b in rows]
    trainable, buffers = sum(r[3] for r in rows), sum(r[4] for r in rows)
    bk = network.backend
    lines.append(
        f"total: {trainable} trainable parameters, {buffers} buffer values; "
        f"backend {bk.spec} (device {bk.device}), {network.dtype_name}"
    )
    return "\n".join(lines)
