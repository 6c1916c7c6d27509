"""``pn.bench.compare``: time *your* network on *your* data across backends, batch sizes and dtypes,
with the method of ``portnn bench`` (:mod:`portnn.bench.timing`) and the backends' results checked
to agree (:mod:`portnn.bench.agreement`)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .._checks import positive_int
from .._xp import available_backends, get_backend, known_spec, pin_full_precision, to_numpy
from .._xp.registry import library_names
from ..nn.network import Network
from ..optim.base import Optimizer, get_optimizer
from ..testing import ALL_SPECS
from . import agreement
from .comparison import Comparison, build_record
from .timing import Runner, measure_interleaved

DTYPES = ("float32", "float64")


class Contestant(NamedTuple):
    """One timed configuration: a copy of the model on ``backend`` in ``dtype``, at ``batch_size``."""

    backend: str
    dtype: str
    batch_size: int
    runner: Runner
    net: Network


def unavailable(specs: Sequence[str] | None = None) -> dict[str, str]:
    """The backend specs that cannot run here, each with why (the library's own words).

    >>> "numpy" in unavailable()
    False
    """
    found = {}
    for spec in ALL_SPECS if specs is None else specs:
        try:
            get_backend(spec)
        except ValueError as exc:
            found[spec] = str(exc.__cause__ or exc)
    return found


def _backends(backends: Sequence[str] | None) -> tuple[list[str], dict[str, str]]:
    if backends is None:
        usable = available_backends()
        return usable, unavailable()
    if isinstance(backends, str) or not all(isinstance(b, str) for b in backends):
        raise TypeError(f"backends: expected a list of spec strings such as ['numpy', 'torch:cpu'], got {backends!r}")
    for spec in backends:
        if not known_spec(spec):
            raise ValueError(f"backends: unknown spec {spec!r}; libraries are {list(library_names())}")
    missing = unavailable(backends)
    usable = [b for b in dict.fromkeys(backends) if b not in missing]
    if not usable:
        raise ValueError(f"backends: none of {list(backends)} can run here: {missing}")
    return usable, missing


def _positive_ints(name: str, values: Any) -> list[int]:
    values = [values] if isinstance(values, int) else list(values)
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        raise ValueError(f"{name}: expected positive ints, got {values!r}")
    return sorted(set(values))


def _data(X: Any, y: Any, n_in: int | None) -> tuple[np.ndarray, np.ndarray]:
    X, y = to_numpy(X) if not isinstance(X, np.ndarray) else X, to_numpy(y) if not isinstance(y, np.ndarray) else y
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X: expected a 2-D array with at least one row, got shape {X.shape}")
    if n_in is not None and X.shape[1] != n_in:
        raise ValueError(f"X: the model takes {n_in} features, got shape {X.shape}")
    if y.shape[:1] != X.shape[:1]:
        raise ValueError(f"y: expected {X.shape[0]} rows like X, got shape {y.shape}")
    integer = np.issubdtype(y.dtype, np.integer)
    return X.astype(np.float64), y.astype(np.int64 if integer else np.float64)


def _model(model: Network | Callable[[], Network]) -> Network:
    net = model if isinstance(model, Network) else model() if callable(model) else model
    if not isinstance(net, Network):
        raise TypeError(f"model: expected a portnn network or a function returning one, got {type(net).__name__}")
    return net


def _contestant(base: Network, spec: str, dtype: str, batch: int, data: tuple, fit: dict[str, Any]) -> Contestant:
    """A copy of ``base`` on ``spec`` that ``reset()`` returns to base's weights and shuffle RNG."""
    net = copy.deepcopy(base).to(spec, dtype)
    start = {k: to_numpy(v) for k, v in base.state_dict().items()}
    rng_state, template = base.rng_state(), fit["optimizer"]
    Xd, yd = data
    current: dict[str, Optimizer] = {}

    def reset() -> None:
        net.load_state_dict(start)
        net.set_rng_state(copy.deepcopy(rng_state))  # the same shuffles on every backend and repeat
        current["optimizer"] = copy.deepcopy(template)  # fresh state, made outside the clock

    def run() -> dict[str, float]:
        history = net.fit(
            Xd,
            yd,
            loss=fit["loss"],
            optimizer=current["optimizer"],
            epochs=fit["epochs"],
            batch_size=batch,
            metrics=fit["metrics"],
            progress=False,
        )
        return {k: v[-1] for k, v in history.history.items()}  # read from the device: synchronised

    return Contestant(spec, dtype, batch, Runner(run, lambda result: None, reset), net)


def compare(
    model: Network | Callable[[], Network],
    X: Any,
    y: Any,
    loss: Any = "mse",
    optimizer: str | Optimizer = "sgd",
    backends: Sequence[str] | None = None,
    batch_sizes: Sequence[int] | int = (32, 256),
    dtypes: Sequence[str] | str = ("float32",),
    epochs: int = 1,
    repeats: int = 3,
    metrics: Sequence[Any] = (),
    log: Callable[[str], None] | None = None,
) -> Comparison:
    """Train ``model`` on ``(X, y)`` on every backend, batch size and dtype and time it.

    Every contestant starts from ``model``'s weights (its ``state_dict`` loaded into a copy on
    each backend) and sees the same shuffles; each gets one untimed warm-up, then ``repeats`` timed
    runs of ``epochs`` epochs, taken in turn across contestants so that load falls on all alike.
    The final losses and weights are compared across backends within a dtype-aware tolerance; one
    that disagrees is flagged. ``optimizer``: a name or an optimizer not yet used (copied per run).

    >>> import portnn as pn
    >>> X, y = pn.datasets.xor()
    >>> net = pn.Sequential(pn.Dense(2, 4), pn.Tanh(), pn.Dense(4, 1), seed=0)
    >>> result = pn.bench.compare(net, X, y, backends=["numpy"], batch_sizes=[2, 4], repeats=1)
    >>> [(r["backend"], r["batch_size"], r["agrees"]) for r in result.rows]
    [('numpy', 2, True), ('numpy', 4, True)]
    >>> result.fastest in ("numpy",)
    True
    """
    base = _model(model)
    Xh, yh = _data(X, y, base.n_in)
    specs, missing = _backends(backends)
    batches, notes = _batches(batch_sizes, Xh.shape[0])
    dtype_list = [dtypes] if isinstance(dtypes, str) else list(dtypes)
    if not dtype_list or any(d not in DTYPES for d in dtype_list):
        raise ValueError(f"dtypes: expected some of {list(DTYPES)}, got {dtypes!r}")
    fit = {
        "loss": loss,
        "optimizer": copy.deepcopy(get_optimizer(optimizer)),
        "epochs": positive_int("epochs", epochs),
        "metrics": list(metrics),
    }
    positive_int("repeats", repeats)
    pin_full_precision()
    contestants, skipped = _contestants(base, (Xh, yh), specs, dict.fromkeys(dtype_list), batches, fit)
    runners, backends_of = [c.runner for c in contestants], [get_backend(c.backend) for c in contestants]
    measured = measure_interleaved(runners, repeats, [True] * len(contestants), backends_of)
    rows = [_row(c, m, fit["epochs"], Xh.shape[0]) for c, m in zip(contestants, measured)]
    agreement.check(rows, [c.net for c in contestants], agreement.weights(base))
    say = log or (lambda line: None)
    for row in rows:
        say(f"  {row['backend']:18s} {row['dtype']} batch {row['batch_size']:6d} {row['samples_per_s']:.4g} samples/s")
    settings = {
        "model": repr(base),
        "parameters": base.num_parameters(),
        "samples": Xh.shape[0],
        "features": Xh.shape[1],
        "loss": str(loss) if isinstance(loss, str) else type(loss).__name__,
        "optimizer": repr(fit["optimizer"]),
        "epochs": fit["epochs"],
        "repeats": repeats,
        "batch_sizes": batches,
        "dtypes": dtype_list,
        "backends": specs,
        "tolerance": agreement.TOLERANCE,
        "notes": notes,
    }
    return Comparison(build_record(settings, rows, missing, skipped))


def _batches(batch_sizes: Any, n: int) -> tuple[list[int], list[str]]:
    """The batch sizes to time (one beyond the ``n`` rows is the full batch) and what was changed."""
    asked = _positive_ints("batch_sizes", batch_sizes)
    notes = [f"Batch size {b} is more than the {n} rows: timed as the full batch, {n}." for b in asked if b > n]
    return sorted({min(b, n) for b in asked}), notes


def _contestants(
    base: Network, data: tuple, specs: list[str], dtypes: Any, batches: list[int], fit: dict[str, Any]
) -> tuple[list[Contestant], list[dict[str, str]]]:
    """Every backend x dtype x batch size, the data placed on each device once; and what was skipped."""
    Xh, yh = data
    contestants, skipped = [], []
    for dtype in dtypes:
        for spec in specs:
            bk = get_backend(spec)
            if dtype == "float64" and not bk.float64:
                skipped.append({"backend": spec, "dtype": dtype, "why": "no float64 on this device"})
                continue
            labels = yh.dtype == np.int64  # class indices stay integers
            placed = (bk.asarray(Xh, bk.dtype(dtype)), bk.asarray(yh) if labels else bk.asarray(yh, bk.dtype(dtype)))
            contestants += [_contestant(base, spec, dtype, b, placed, fit) for b in batches]
    return contestants, skipped


def _row(c: Contestant, measured: tuple, epochs: int, samples: int) -> dict[str, Any]:
    timing, result, host, device = measured
    steps = math.ceil(samples / c.batch_size)
    per_epoch = {k: timing[k] / epochs for k in ("median", "min", "max")}
    return {
        "backend": c.backend,
        "dtype": c.dtype,
        "batch_size": c.batch_size,
        "epochs_timed": epochs,
        "steps_per_epoch": steps,
        "per_epoch_s": {**per_epoch, "samples": [s / epochs for s in timing["samples"]]},
        "per_step_s": {k: v / steps for k, v in per_epoch.items()},
        "samples_per_s": samples / per_epoch["median"],
        "warm_up_s": round(timing["warm_up"], 3),
        "peak_host_mb": None if host is None else round(host / 2**20, 2),
        "peak_device_mb": None if device is None else round(device / 2**20, 2),
        "final_loss": float(result["loss"]),
        "metrics": {k: float(v) for k, v in result.items() if k != "loss"},
    }
