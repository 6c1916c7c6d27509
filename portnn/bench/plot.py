"""A PNG chart of a benchmark record (matplotlib, an optional extra: ``portnn[plot]``)."""

from __future__ import annotations

import textwrap
from typing import Any


def plot(record: dict[str, Any], path: str) -> None:
    """Time per epoch by implementation/backend for each workload, and the batch-size sweep."""
    try:
        import matplotlib
        import matplotlib.ticker

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ValueError("--plot needs matplotlib: pip install 'portnn[plot]'") from exc
    workloads = list(record["settings"]["workloads"])
    panels = len(workloads) + (1 if record["sweep"] else 0)
    rows = max((sum(r["workload"] == w for r in record["results"]) for w in workloads), default=1)
    height = max(4.5, 0.38 * rows + 1.0)  # room for each two-line bar label
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, height), squeeze=False)
    for ax, workload in zip(axes[0], workloads):
        rows = [r for r in record["results"] if r["workload"] == workload]
        labels = [f"{r['implementation']}\n{r['backend']}" for r in rows]
        unit, scale = time_unit(max(r["per_epoch_s"]["median"] for r in rows))
        medians = [r["per_epoch_s"]["median"] / scale for r in rows]
        errors = [
            [m - r["per_epoch_s"]["min"] / scale for m, r in zip(medians, rows)],
            [r["per_epoch_s"]["max"] / scale - m for m, r in zip(medians, rows)],
        ]
        colors = ["tab:blue" if r["implementation"] == "portnn" else "tab:gray" for r in rows]
        ax.barh(labels, medians, xerr=errors, color=colors)
        if max(medians) > 10 * min(medians):  # a log axis only where the times span decades:
            ax.set_xscale("log")  # on a narrow range it would make small gaps look large
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # minor labels collide
        ax.set_xlabel(f"{unit} per epoch{' (log)' if ax.get_xscale() == 'log' else ''}")
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title(workload)
        ax.tick_params(axis="y", labelsize=7)
    if record["sweep"]:
        ax = axes[0][-1]
        for spec in dict.fromkeys(e["backend"] for e in record["sweep"]):
            pts = sorted((e["batch_size"], e["samples_per_s"]) for e in record["sweep"] if e["backend"] == spec)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=spec)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel("samples / s")
        ax.set_title("crossover: mnist network")
        ax.legend(fontsize=7)
    from matplotlib.patches import Patch

    legend = [Patch(color="tab:blue", label="portnn"), Patch(color="tab:gray", label="reference")]
    # Below the panels: above them it would cover the end of a long title on a one-panel chart.
    fig.legend(handles=legend, loc="lower center", ncol=2, fontsize=8)
    machine = record["machine"]
    gpus = ", ".join(g["name"] for g in machine.get("gpus", []))
    title = f"portnn bench — {machine['cpu']}, {machine['cores']} cores{', ' + gpus if gpus else ''}"
    fig.suptitle(textwrap.fill(title, width=14 * 5 * panels), fontsize=9)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def time_unit(seconds: float) -> tuple[str, float]:
    """The unit to show times up to ``seconds`` in, and its size in seconds: plain numbers on the
    axis instead of an offset like ``1e-5``.

    >>> time_unit(9e-5), time_unit(0.6), time_unit(6.5)
    (('µs', 1e-06), ('ms', 0.001), ('s', 1.0))
    """
    for unit, scale in (("µs", 1e-6), ("ms", 1e-3)):
        if seconds < 1000 * scale:
            return unit, scale
    return "s", 1.0
