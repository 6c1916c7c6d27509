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


def comparison_figure(record: dict[str, Any], path: Any = None) -> Any:
    """The chart of a :func:`portnn.bench.compare` record: samples/s and time per epoch (median,
    min-max bars) by batch size, a line per backend and dtype; one that disagrees is dashed and
    named so. Built without pyplot (the Figure shows itself in Jupyter); saved to ``path`` if given."""
    import matplotlib.ticker

    from ..train.plotting import figure_class

    rows = record["rows"]
    fig = figure_class()(figsize=(10, 4.2))
    speed, times = fig.subplots(1, 2)
    unit, scale = time_unit(max(r["per_epoch_s"]["max"] for r in rows))
    for backend, dtype in dict.fromkeys((r["backend"], r["dtype"]) for r in rows):
        mine = sorted(
            (r for r in rows if (r["backend"], r["dtype"]) == (backend, dtype)), key=lambda r: r["batch_size"]
        )
        agrees = all(r["agrees"] for r in mine)
        label = f"{backend} {dtype}{'' if agrees else ' (DISAGREES)'}"
        style = {"marker": "o", "linestyle": "-" if agrees else "--", "label": label}
        batches = [r["batch_size"] for r in mine]
        (line,) = speed.plot(batches, [r["samples_per_s"] for r in mine], **style)
        medians = [r["per_epoch_s"]["median"] / scale for r in mine]
        spread = [
            [m - r["per_epoch_s"]["min"] / scale for m, r in zip(medians, mine)],
            [r["per_epoch_s"]["max"] / scale - m for m, r in zip(medians, mine)],
        ]
        times.errorbar(batches, medians, yerr=spread, color=line.get_color(), capsize=3, **style)
    for ax, ylabel, title in (
        (speed, "samples / s", "throughput (higher is faster)"),
        (times, f"{unit} per epoch (median, min–max)", "time per epoch (lower is faster)"),
    ):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        sizes = sorted({r["batch_size"] for r in rows})
        ax.set_xticks(sizes, [str(b) for b in sizes])  # the sizes timed, as numbers, not powers of 2
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xlabel("batch size")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    speed.legend(fontsize=7)
    m, s = record["machine"], record["settings"]
    gpus = ", ".join(g["name"] for g in m.get("gpus", []))
    title = f"{s['model']} — {m['cpu']}, {m['cores']} cores{', ' + gpus if gpus else ''}"
    fig.suptitle(textwrap.fill(title, width=140), fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
