"""``portnn bench``: every workload on every backend beside the references, in one run."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from dataclasses import replace
from typing import Any, NamedTuple

from .. import __version__
from .._xp import available_backends, get_backend, pin_full_precision
from . import references
from .machine import describe_machine
from .report import crossover, markdown, ratios, terminal
from .timing import Runner, measure_interleaved
from .workloads import PRESETS, SWEEP_BATCHES, Workload, build_layers, initial_weights, make_data, sweep_workload

WORKLOADS = ("xor", "mnist", "large", "sweep")


def portnn_runner(w: Workload, spec: str, X: Any, y: Any) -> tuple[Runner, Any]:
    """A runner training a portnn model on ``spec`` (data placed on the device first), and the backend."""
    from ..optim.optimizers import SGD
    from ..train.model import Sequential

    bk = get_backend(spec)
    dtype = bk.dtype(w.dtype)
    net = Sequential(*build_layers(w), backend=bk, dtype=w.dtype, seed=0)
    dense = [i for i, layer in enumerate(net.layers) if "weight" in layer.params]
    start = {}
    for i, (W, b) in zip(dense, initial_weights(w)):
        start[f"{i}.weight"] = W
        if b is not None:
            start[f"{i}.bias"] = b
    Xd = bk.asarray(X, dtype)
    yd = bk.asarray(y) if w.loss == "cross_entropy" else bk.asarray(y, dtype)

    def run() -> float:
        history = net.fit(
            Xd,
            yd,
            loss=w.loss,
            optimizer=SGD(lr=w.lr),
            epochs=w.epochs,
            batch_size=w.batch_size,
            shuffle=w.shuffle,
            progress=False,
        )
        return history.history["loss"][-1]  # fit reads the loss from the device: already synchronised

    return Runner(run, lambda result: None, lambda: net.load_state_dict(start)), bk


def _entry(
    w: Workload,
    implementation: str,
    backend: str,
    timing: dict[str, Any],
    loss: float | None,
    host: int | None,
    device: int | None,
) -> dict[str, Any]:
    per_epoch = timing["median"] / w.epochs
    timed = {k: v for k, v in timing.items() if k != "warm_up"}
    return {
        "workload": w.name,
        "implementation": implementation,
        "backend": backend,
        "dtype": w.dtype,
        "epochs_timed": w.epochs,
        "per_epoch_s": {k: (v / w.epochs if k != "samples" else [s / w.epochs for s in v]) for k, v in timed.items()},
        "warm_up_s": round(timing.get("warm_up", float("nan")), 3),
        "per_step_s": per_epoch / w.steps_per_epoch,
        "samples_per_s": w.samples / per_epoch,
        "final_loss": loss,
        "peak_host_mb": None if host is None else round(host / 2**20, 2),
        "peak_device_mb": None if device is None else round(device / 2**20, 2),
    }


class _Candidate(NamedTuple):
    implementation: str
    backend: str
    runner: Runner
    bk: Any  # the Backend whose device memory is reported, or None


def _candidates(w: Workload, specs: list[str], log: Any) -> list[_Candidate]:
    """portnn on every backend, then every reference that applies; nothing run yet."""
    X, y = make_data(w)
    found = []
    for spec in specs:
        if w.dtype == "float64" and not get_backend(spec).float64:
            log(f"  {w.name:8s} skipped on {spec}: no float64 there")
            continue
        runner, bk = portnn_runner(w, spec, X, y)
        found.append(_Candidate("portnn", spec, runner, bk))
        if w.name != "xor":
            found.append(_Candidate("gemm-floor", spec, references.make_gemm_floor(w, bk), bk))
            strict = references.make_gemm_floor(w, bk, first_input_grad=False)
            found.append(_Candidate("gemm-needed", spec, strict, bk))
    if w.host_references and w.name == "xor":
        found.append(_Candidate("seed-loop", "numpy", references.make_seed_xor(w, X, y), None))
    elif w.host_references:
        found.append(_Candidate("numpy-hand", "numpy", references.make_numpy_hand(w, X, y), None))
    for spec, bk in ((s, get_backend(s)) for s in specs):
        if bk.torch_device is not None:  # its arrays are torch tensors: torch's own loop runs there too
            found.append(_Candidate("torch-eager", spec, references.make_torch_eager(w, X, y, bk.torch_device), bk))
    if w.host_references and w.name == "mnist" and _has("sklearn"):
        found.append(_Candidate("sklearn", "numpy", references.make_sklearn(w, X, y), None))
    return found


def run_workload(w: Workload, specs: list[str], log: Any) -> list[dict[str, Any]]:
    """Time every candidate, repeats interleaved round-robin so that a slow spell of a noisy
    machine lands on all of them rather than on one (only ratios within one run count)."""
    candidates = _candidates(w, specs, log)
    traced = [not c.implementation.startswith("gemm") and w.name != "xor" for c in candidates]
    measured = measure_interleaved([c.runner for c in candidates], w.repeats, traced, [c.bk for c in candidates])
    entries = []
    for c, (timing, result, host, device) in zip(candidates, measured):
        loss = None if c.implementation.startswith("gemm") else float(result)
        entry = _entry(w, c.implementation, c.backend, timing, loss, host, device)
        log(
            f"  {w.name:8s} {c.implementation:12s} {c.backend:26s} {entry['per_epoch_s']['median']:.4g} s/epoch  "
            f"loss {loss}  (warm-up {entry['warm_up_s']:.3g} s)"
        )
        entries.append(entry)
    return entries


def run_sweep(quick: bool, specs: list[str], log: Any) -> list[dict[str, Any]]:
    """portnn's samples per second on the mnist network at several batch sizes, per backend."""
    entries = []
    for batch in SWEEP_BATCHES["quick" if quick else "full"]:
        w = sweep_workload(batch, quick)
        X, y = make_data(w)
        runners = [portnn_runner(w, spec, X, y)[0] for spec in specs]
        measured = measure_interleaved(runners, w.repeats, [False] * len(specs), [None] * len(specs))
        for spec, (timing, result, _, _) in zip(specs, measured):
            entry = _entry(w, "portnn", spec, timing, float(result), None, None)
            entry["batch_size"] = batch
            entries.append(entry)
            log(f"  sweep    batch {batch:5d} {spec:26s} {entry['samples_per_s']:.4g} samples/s")
    return entries


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def run_suite(
    quick: bool,
    specs: list[str],
    workloads: list[str],
    log: Any = print,
    repeats: int | None = None,
    preset: str | None = None,
    on_workload: Any = None,
) -> dict[str, Any]:
    """Run the benchmark and return its record (machine, settings, every figure, ratios).

    ``preset`` picks the sizes: ``"full"``, ``"quick"`` or ``"gpu"`` (by default from ``quick``).
    ``on_workload(record)``, if given, receives the record so far after each workload (so that a
    run cut short still leaves what it measured).
    """
    pin_full_precision()
    started = time.perf_counter()
    preset = preset or ("quick" if quick else "full")
    table = PRESETS[preset]
    if repeats is not None:
        table = {name: replace(w, repeats=repeats) for name, w in table.items()}
    results: list[dict[str, Any]] = []
    sweep: list[dict[str, Any]] = []

    def record() -> dict[str, Any]:
        return _record(quick, preset, specs, table, workloads, results, sweep, started)

    for name in workloads:
        if name != "sweep":
            results += run_workload(table[name], specs, log)
            if on_workload is not None:
                on_workload(record())
    sweep += run_sweep(quick, specs, log) if "sweep" in workloads else []
    return record()


def _record(
    quick: bool,
    preset: str,
    specs: list[str],
    table: dict[str, Workload],
    workloads: list[str],
    results: list[dict[str, Any]],
    sweep: list[dict[str, Any]],
    started: float,
) -> dict[str, Any]:
    return {
        "schema": 1,
        "portnn": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "preset": preset,
        "machine": describe_machine(),
        "settings": {
            "backends": specs,
            "workloads": {name: table[name].describe() for name in workloads if name != "sweep"},
            "tf32": "off: pinned to full float32 precision for torch and jax; CuPy does not use TF32 by default",
            "timing": "median of repeats after one warm-up run; data on the device before the clock starts; "
            "device synchronised inside the timed region",
        },
        "results": results,
        "ratios": ratios(results),
        "sweep": sweep,
        "crossover": crossover(sweep),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _check_outputs(args: argparse.Namespace) -> None:
    """What the flags need, checked before any timing: matplotlib for --plot, writable paths."""
    from .. import io

    if args.plot and not _has("matplotlib"):
        raise ValueError("--plot needs matplotlib: pip install 'portnn[plot]'")
    for path in (args.out, args.plot, args.markdown):
        if path:
            io.check_writable(path)


def _write_json(path: str, record: dict[str, Any]) -> None:
    with open(path, "w") as f:
        json.dump(record, f, indent=1)


def _parse_list(text: str | None, allowed: tuple[str, ...] | list[str], what: str) -> list[str]:
    if text is None:
        return list(allowed)
    items = [t.strip() for t in text.split(",") if t.strip()]
    return items if what == "backend" else [i for i in items if _check_workload(i)]


def _check_workload(name: str) -> bool:
    if name not in WORKLOADS:
        raise ValueError(f"--workloads: unknown workload {name!r}; expected some of {list(WORKLOADS)}")
    return True


def main(args: argparse.Namespace) -> int:
    """Run from the parsed ``portnn bench`` arguments."""
    specs = _parse_list(args.backends, available_backends(), "backend")
    for spec in specs:
        get_backend(spec)  # an unusable spec fails here, with the list of available ones
    workloads = _parse_list(args.workloads, WORKLOADS, "workload")
    if args.repeats is not None and args.repeats <= 0:
        raise ValueError(f"--repeats: expected a positive int, got {args.repeats}")
    size = "gpu" if args.gpu else "quick" if args.quick else "full"
    print(f"portnn bench ({size}): backends {', '.join(specs)}", file=sys.stderr)
    if args.quick and args.gpu:
        raise ValueError("--quick and --gpu: choose one size")
    _check_outputs(args)
    preset = "gpu" if args.gpu else None
    record = run_suite(
        args.quick,
        specs,
        workloads,
        log=lambda line: print(line, file=sys.stderr),
        repeats=args.repeats,
        preset=preset,
        on_workload=(lambda partial: _write_json(args.out, partial)) if args.out else None,
    )
    print(terminal(record))
    if args.out:
        _write_json(args.out, record)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(record) + "\n")
    if args.plot:
        from .plot import plot

        plot(record, args.plot)
    return 0
