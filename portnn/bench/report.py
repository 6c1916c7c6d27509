"""Ratios, the CPU/GPU crossover and the markdown table of a benchmark record."""

from __future__ import annotations

import textwrap
from typing import Any

from .._xp import spec_arrays_are_numpy, spec_on_gpu

# portnn on a backend is compared with these references (on the same workload).
_REFERENCES = ("seed-loop", "numpy-hand", "gemm-floor", "gemm-needed", "torch-eager", "sklearn")


def _reference_for(entry: dict[str, Any], ref: str, results: list[dict[str, Any]]) -> dict[str, Any] | None:
    same = [r for r in results if r["workload"] == entry["workload"] and r["implementation"] == ref]
    if ref.startswith("gemm"):
        same = [r for r in same if r["backend"] == entry["backend"]]
    elif ref == "torch-eager":
        on_gpu = spec_on_gpu(entry["backend"])
        same = [r for r in same if spec_on_gpu(r["backend"]) == on_gpu]
    return same[0] if same else None


def ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """portnn's time per epoch divided by each reference's (below 1: portnn is faster)."""
    out = []
    for entry in results:
        if entry["implementation"] != "portnn":
            continue
        for ref in _REFERENCES:
            other = _reference_for(entry, ref, results)
            if other is not None:
                out.append(
                    {
                        "workload": entry["workload"],
                        "backend": entry["backend"],
                        "versus": f"{ref} ({other['backend']})",
                        "ratio": round(entry["per_epoch_s"]["median"] / other["per_epoch_s"]["median"], 3),
                        # Load on a shared machine only ever adds time: the ratio of the fastest
                        # repeats is the steadier figure when the medians drift.
                        "ratio_min": round(entry["per_epoch_s"]["min"] / other["per_epoch_s"]["min"], 3),
                    }
                )
    return out


def crossover(sweep: list[dict[str, Any]], gpu_only: bool = True) -> dict[str, Any]:
    """For each GPU backend (each non-NumPy one without ``gpu_only``), the smallest swept batch
    size at which it trains faster than NumPy."""
    numpy = {e["batch_size"]: e["samples_per_s"] for e in sweep if spec_arrays_are_numpy(e["backend"])}
    found: dict[str, Any] = {}
    others = {e["backend"] for e in sweep if not spec_arrays_are_numpy(e["backend"])}
    for spec in sorted(s for s in others if spec_on_gpu(s) or not gpu_only):
        faster = sorted(
            e["batch_size"]
            for e in sweep
            if e["backend"] == spec and e["samples_per_s"] > numpy.get(e["batch_size"], float("inf"))
        )
        found[spec] = faster[0] if faster else None
    return found or {"note": "no GPU backend in this run"}


def seconds(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


_COLUMNS = (  # reference column: the implementations it compares with
    ("vs hand/seed NumPy", ("seed-loop", "numpy-hand")),
    ("vs GEMM floor", ("gemm-floor",)),
    ("vs GEMM needed", ("gemm-needed",)),
    ("vs torch eager", ("torch-eager",)),
    ("vs sklearn", ("sklearn",)),
)


def _why_not(column: str, workload: str, ran: set[str]) -> str:
    """Why a reference did not run on ``workload``: the reason that holds, read from what did run.

    >>> _why_not("vs sklearn", "xor", {"portnn", "seed-loop"})
    'runs on mnist only'
    >>> _why_not("vs sklearn", "mnist", {"portnn", "numpy-hand"})
    "needs scikit-learn (pip install 'portnn[bench]')"
    """
    host = bool(ran & {"seed-loop", "numpy-hand"})  # the preset times the host references here
    if column == "vs sklearn":
        if workload != "mnist":
            return "runs on mnist only"
        return "needs scikit-learn (pip install 'portnn[bench]')" if host else "left out of this preset's mnist"
    if column.startswith("vs GEMM"):
        return "xor has no matrix products worth timing" if workload == "xor" else "no backend ran this workload"
    if column == "vs torch eager":
        return "needs a torch backend in --backends (pip install 'portnn[torch]')"
    return "left out of this preset's workload (minutes on a CPU)"


def markdown(record: dict[str, Any]) -> str:
    """The record as markdown: one table per workload (only the columns of references that ran,
    then a line naming those that did not and why), then the sweep and the crossover in a sentence."""
    lines = [*_preamble(record), ""]
    ratio_of = {(r["workload"], r["backend"], r["versus"].split(" ")[0]): r for r in record["ratios"]}
    for workload, description in record["settings"]["workloads"].items():
        lines += [f"**{workload}** ({description})", "", *_table(record, workload, ratio_of), ""]
    if record["sweep"]:
        lines += _sweep(record)
    return "\n".join(lines)


def _preamble(record: dict[str, Any]) -> list[str]:
    m = record["machine"]
    gpus = ", ".join(f"{g['name']} (driver {g['driver']})" for g in m["gpus"]) or "none"
    preset = record.get("preset", "quick" if record["quick"] else "full")
    return [
        f"Machine: {m['cpu']}, {m['cores']} cores, GPU: {gpus}. {preset.capitalize()} run, {record['seconds']} s.",
        "Ratios are portnn's time over the reference's: median over median (fastest over fastest).",
        "Peak traced host memory is tracemalloc's view: NumPy arrays, not torch's or JAX's own allocators.",
    ]


def _table(record: dict[str, Any], workload: str, ratio_of: dict) -> list[str]:
    ran = {r["implementation"] for r in record["results"] if r["workload"] == workload}
    columns = [c for c in _COLUMNS if ran & set(c[1])]
    header = ["implementation", "backend", "time/epoch (median, min–max)", "time/step", "samples/s", "final loss"]
    header += [c[0] for c in columns] + ["peak traced host MB", "peak device MB"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for e in (r for r in record["results"] if r["workload"] == workload):
        t = e["per_epoch_s"]
        cells = [
            e["implementation"],
            e["backend"],
            f"{seconds(t['median'])} ({seconds(t['min'])}–{seconds(t['max'])})",
            seconds(e["per_step_s"]),
            f"{e['samples_per_s']:.3g}",
            "—" if e["final_loss"] is None else f"{e['final_loss']:.5g}",
        ]
        for _, refs in columns:
            found = next(
                (ratio_of[(workload, e["backend"], r)] for r in refs if (workload, e["backend"], r) in ratio_of), None
            )
            mine = found is not None and e["implementation"] == "portnn"
            cells.append(f"{found['ratio']:.2f}× ({found['ratio_min']:.2f}×)" if found is not None and mine else "")
        cells += ["" if e[k] is None else f"{e[k]:.1f}" for k in ("peak_host_mb", "peak_device_mb")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + _not_run(workload, ran)


def _not_run(workload: str, ran: set[str]) -> list[str]:
    missing = [f"- {name[3:]}: {_why_not(name, workload, ran)}" for name, refs in _COLUMNS if not ran & set(refs)]
    return ["", "Not run here:", *missing] if missing else []


def terminal(record: dict[str, Any], width: int = 120) -> str:
    """The record for a terminal, in lines of at most ``width`` columns: each workload's figures in
    a table, then portnn's ratios in words (:func:`markdown` has every column in one wide table)."""
    lines = [*_preamble(record), ""]
    ratio_of = {(r["workload"], r["backend"], r["versus"].split(" ")[0]): r for r in record["ratios"]}
    for workload, description in record["settings"]["workloads"].items():
        rows = [r for r in record["results"] if r["workload"] == workload]
        lines += [f"**{workload}** ({description})", ""]
        lines += ["| implementation | backend | time/epoch | samples/s | final loss | peak host MB | peak device MB |"]
        lines += ["|---|---|---|---|---|---|---|"]
        for e in rows:
            cells = [
                e["implementation"],
                e["backend"],
                seconds(e["per_epoch_s"]["median"]),
                f"{e['samples_per_s']:.3g}",
            ]
            cells += ["—" if e["final_loss"] is None else f"{e['final_loss']:.5g}"]
            cells += ["" if e[k] is None else f"{e[k]:.1f}" for k in ("peak_host_mb", "peak_device_mb")]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        for spec in dict.fromkeys(e["backend"] for e in rows if e["implementation"] == "portnn"):
            found = [ratio_of[k] for k in ratio_of if k[:2] == (workload, spec)]
            said = "; ".join(f"{r['ratio']:.2f}× ({r['ratio_min']:.2f}×) {r['versus']}" for r in found)
            lines += textwrap.wrap(f"portnn on {spec}: {said}", width, subsequent_indent="  ") if found else []
        lines += [*_not_run(workload, {e["implementation"] for e in rows})[1:], ""]
    if record["sweep"]:
        lines += _sweep(record)
    return "\n".join(part for line in lines for part in (textwrap.wrap(line, width) if len(line) > width else [line]))


def _sweep(record: dict[str, Any]) -> list[str]:
    batches = sorted({e["batch_size"] for e in record["sweep"]})
    lines = ["**sweep** (mnist network, samples/s by batch size)", ""]
    lines += ["| backend | " + " | ".join(str(b) for b in batches) + " |", "|---|" + "---|" * len(batches)]
    for spec in dict.fromkeys(e["backend"] for e in record["sweep"]):
        by_batch = {e["batch_size"]: e["samples_per_s"] for e in record["sweep"] if e["backend"] == spec}
        lines.append(f"| {spec} | " + " | ".join(f"{by_batch.get(b, 0):.3g}" for b in batches) + " |")
    return [*lines, "", crossover_sentence(record["crossover"]), ""]


def crossover_sentence(
    found: dict[str, Any], network: str = "the mnist network", contenders: str = "GPU backend"
) -> str:
    """The crossover in words.

    >>> crossover_sentence({"cupy:0": 256, "torch:cuda": 16, "jax:gpu": None})
    'On the mnist network, torch:cuda trains faster than NumPy from batch size 16, cupy:0 from 256; jax:gpu at none of the sizes swept.'
    >>> crossover_sentence({"note": "no GPU backend in this run"})
    'No GPU backend ran, so there is no CPU/GPU crossover to report.'
    """
    if "note" in found:
        return "No GPU backend ran, so there is no CPU/GPU crossover to report."
    faster = sorted((b, s) for s, b in found.items() if b is not None)
    never = [s for s, b in found.items() if b is None]
    if not faster:
        return f"On {network}, no {contenders} trains faster than NumPy at the batch sizes swept."
    (first_batch, first), rest = faster[0], faster[1:]
    text = f"On {network}, {first} trains faster than NumPy from batch size {first_batch}"
    text += "".join(f", {spec} from {batch}" for batch, spec in rest)
    return text + (f"; {', '.join(never)} at none of the sizes swept." if never else ".")
