"""What :func:`portnn.bench.compare` returns: the rows, ratios, crossover, agreement, and the
Markdown table, JSON record and chart made from them."""

from __future__ import annotations

import datetime
import json
import os
import textwrap
from typing import Any

from .._xp import spec_arrays_are_numpy
from .agreement import disagreements
from .machine import describe_machine
from .report import crossover, crossover_sentence, seconds

METHOD = (
    "Every contestant starts from the model's weights and sees the same shuffles; one untimed warm-up "
    "each, then the repeats taken in turn across contestants; data on the device before the clock "
    "starts; the device synchronised inside the timed region (the final loss is read back)."
)


def _median(row: dict[str, Any]) -> float:
    return float(row["per_epoch_s"]["median"])


def _crossovers(rows: list[dict[str, Any]], dtypes: list[str]) -> tuple[dict[str, Any], str]:
    """Per dtype, the batch size from which each backend trains faster than NumPy, and in words."""
    found, sentences = {}, []
    for dtype in dtypes:
        mine = [r for r in rows if r["dtype"] == dtype and r["agrees"]]
        prefix = f"In {dtype}, " if len(dtypes) > 1 else ""
        if not any(spec_arrays_are_numpy(r["backend"]) for r in mine):
            sentences.append(
                f"{prefix or 'Here, '}NumPy did not run (or disagreed), so there is no crossover to report."
            )
            continue
        found[dtype] = crossover(mine, gpu_only=False)
        if "note" in found[dtype]:
            sentences.append(f"{prefix or 'Here, '}only NumPy ran, so there is no crossover to report.")
            continue
        text = crossover_sentence(found[dtype], "this network", "other backend")
        sentences.append(prefix + (text[0].lower() + text[1:] if prefix else text))
    return found, " ".join(sentences)


def build_record(
    settings: dict[str, Any], rows: list[dict[str, Any]], unavailable: dict[str, str], skipped: list[dict[str, Any]]
) -> dict[str, Any]:
    """The JSON record: rows with their ratios, the fastest agreeing contestant, the crossover,
    the disagreements, the backends that did not run and why, and the machine."""
    agreeing = [r for r in rows if r["agrees"]]
    fastest = min(agreeing, key=_median) if agreeing else None
    numpy_of = {(r["dtype"], r["batch_size"]): r for r in agreeing if spec_arrays_are_numpy(r["backend"])}
    for r in rows:
        r["vs_fastest"] = None if fastest is None else round(_median(r) / _median(fastest), 3)
        numpy = numpy_of.get((r["dtype"], r["batch_size"]))
        r["vs_numpy"] = None if numpy is None else round(_median(r) / _median(numpy), 3)
    found, sentence = _crossovers(rows, list(dict.fromkeys(settings["dtypes"])))
    import importlib.metadata  # here: it takes long to import, and `import portnn` stays light

    try:
        version = importlib.metadata.version("portnn")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return {
        "schema": 1,
        "kind": "compare",
        "portnn": version,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": describe_machine(),
        "settings": {**settings, "method": METHOD},
        "rows": rows,
        "fastest": None if fastest is None else {k: fastest[k] for k in ("backend", "dtype", "batch_size")},
        "crossover": found,
        "crossover_sentence": sentence,
        "disagreements": disagreements(rows),
        "unavailable": unavailable,
        "skipped": skipped,
    }


class Comparison:
    """The result of :func:`portnn.bench.compare`: ``rows`` (one per backend, batch size and dtype),
    ``fastest``, ``crossover``, ``disagreements``, and ``to_markdown()``, ``to_json(path)``, ``plot()``.
    Jupyter shows it as its Markdown table."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Per contestant: times per epoch and per step (median, min, max, samples), samples/s,
        peak host and device MB, final loss and metrics, ratios, and whether it agrees."""
        return list(self.record["rows"])

    @property
    def fastest(self) -> str | None:
        """The backend spec of the fastest contestant that agrees (None if none agrees);
        ``record["fastest"]`` has its dtype and batch size too."""
        found = self.record["fastest"]
        return None if found is None else str(found["backend"])

    @property
    def crossover(self) -> str:
        """From which batch size each backend trains faster than NumPy, in words."""
        return str(self.record["crossover_sentence"])

    @property
    def disagreements(self) -> list[str]:
        """A sentence for each contestant whose results differ from the reference backend's."""
        return list(self.record["disagreements"])

    def to_json(self, path: str | os.PathLike) -> None:
        """Write the record (the machine, settings and every figure) as JSON to ``path``."""
        with open(path, "w") as f:
            json.dump(self.record, f, indent=1)

    def plot(self, path: str | os.PathLike | None = None) -> Any:
        """Samples/s and time per epoch by batch size, one line per backend and dtype (disagreeing
        ones dashed); saved to ``path`` when given. Returns the matplotlib Figure, which Jupyter
        shows as a PNG when it ends a cell. Raises ImportError without matplotlib."""
        from .plot import comparison_figure

        return comparison_figure(self.record, path)

    def to_markdown(self, width: int = 120) -> str:
        """The comparison as Markdown in lines of at most ``width`` columns: the times, then the
        final losses and agreement, then the fastest, the crossover and what did not run."""
        lines = [*_heading(self.record), "", *_times(self.rows), "", *_results(self.rows), ""]
        lines += _closing(self.record)
        return "\n".join(p for line in lines for p in (textwrap.wrap(line, width) if len(line) > width else [line]))

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        return self.to_markdown()


def _heading(record: dict[str, Any]) -> list[str]:
    s, m = record["settings"], record["machine"]
    gpus = ", ".join(g["name"] for g in m["gpus"]) or "none"
    return [
        f"{s['model']}: {s['parameters']} parameters; {s['samples']} samples × {s['features']} features; "
        f"loss {s['loss']}, {s['optimizer']}; {s['epochs']} epoch(s) per timed run, median of {s['repeats']}.",
        f"Machine: {m['cpu']}, {m['cores']} cores, GPU: {gpus}.",
    ]


def _times(rows: list[dict[str, Any]]) -> list[str]:
    header = "| backend | dtype | batch | time/epoch (min–max) | time/step | samples/s | ×fastest | ×NumPy | host MB | dev MB |"
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        t = r["per_epoch_s"]
        flag = "" if r["agrees"] else " ⚠"
        cells = [
            r["backend"] + flag,
            r["dtype"],
            str(r["batch_size"]),
            f"{seconds(t['median'])} ({seconds(t['min'])}–{seconds(t['max'])})",
            seconds(r["per_step_s"]["median"]),
            f"{r['samples_per_s']:.3g}",
            *("—" if r[k] is None else f"{r[k]:.2f}" for k in ("vs_fastest", "vs_numpy")),
            *("—" if r[k] is None else f"{r[k]:.1f}" for k in ("peak_host_mb", "peak_device_mb")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return [
        *lines,
        "",
        "×: time per epoch over the fastest agreeing contestant's, and over NumPy's (same batch and dtype).",
        "host MB: tracemalloc's peak in the warm-up (NumPy's arrays, not torch's or JAX's allocators); "
        "dev MB: the device's peak.",
    ]


def _results(rows: list[dict[str, Any]]) -> list[str]:
    names = list(dict.fromkeys(k for r in rows for k in r["metrics"]))
    header = ["backend", "dtype", "batch", "final loss", *names, "Δ loss", "Δ weights", "vs", "agrees"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = [r["backend"], r["dtype"], str(r["batch_size"]), f"{r['final_loss']:.6g}"]
        cells += [f"{r['metrics'][k]:.4g}" if k in r["metrics"] else "" for k in names]
        cells += [f"{r['difference'][k]:.2g}" for k in ("loss", "weights")]
        cells += [r["reference"], "yes" if r["agrees"] else "NO"]
        lines.append("| " + " | ".join(cells) + " |")
    return [
        *lines,
        "",
        "Δ: relative difference from the reference backend's final loss, and from its change to the weights.",
    ]


def _closing(record: dict[str, Any]) -> list[str]:
    f = record["fastest"]
    lines = []
    if f is not None:
        row = next(r for r in record["rows"] if all(r[k] == f[k] for k in f))
        lines.append(
            f"Fastest: {f['backend']}, {f['dtype']}, batch {f['batch_size']} ({seconds(_median(row))} per epoch)."
        )
    lines.append(record["crossover_sentence"])
    lines += record["settings"].get("notes", [])
    lines += [f"⚠ {d}" for d in record["disagreements"]]
    lines += [f"Skipped: {s['backend']} in {s['dtype']} ({s['why']})." for s in record["skipped"]]
    lines += [f"Not available: {spec} ({why})." for spec, why in record["unavailable"].items()]
    return lines
