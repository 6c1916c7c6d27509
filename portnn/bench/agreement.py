"""Do the backends agree? Each contestant's final loss and weights against a reference trained on
the same data, from the same weights, with the same shuffles: NumPy where it ran, else the first backend.

Backends differ in summation order and in their math libraries, and training amplifies those
differences a little with every step, so the tolerance is relative and wide for float32 — but a
layer computing something else on one backend moves the loss and the weights by far more."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._xp import spec_arrays_are_numpy, to_numpy

#: Largest relative difference of the final loss, and of the change training made to the weights
#: (as one vector, by norm: the weights barely move in a short run), that still counts as agreeing.
TOLERANCE = {"float64": 1e-7, "float32": 1e-3}


def relative(value: Any, reference: Any) -> float:
    """``|value - reference| / |reference|`` by Euclidean norm (plain difference where the reference is 0).

    >>> relative(1.01, 1.0) < 0.0101, relative([0.0, 2.0], [0.0, 0.0])
    (True, 2.0)
    """
    a, b = np.asarray(value, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    size = float(np.linalg.norm(b))
    return float(np.linalg.norm(a - b)) / (size if size > 0 else 1.0)


def weights(net: Any) -> np.ndarray:
    """The network's parameters and buffers as one float64 host vector, by sorted name."""
    state = net.state_dict()
    return np.concatenate([to_numpy(state[k]).astype(np.float64).ravel() for k in sorted(state)])


def check(rows: list[dict[str, Any]], nets: list[Any], start: Any) -> None:
    """Set each row's ``reference`` (the backend it was compared with), ``difference`` (relative,
    of the final loss and of what training changed in the weights: final minus ``start``, the
    starting weights as one vector in the order of :func:`weights`) and ``agrees``, per dtype and
    batch size."""
    groups: dict[tuple[str, int], list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault((row["dtype"], row["batch_size"]), []).append(i)
    for (dtype, _), members in groups.items():
        ref = next((i for i in members if spec_arrays_are_numpy(rows[i]["backend"])), members[0])
        ref_change = weights(nets[ref]) - start
        for i in members:
            row = rows[i]
            difference = {
                "loss": relative(row["final_loss"], rows[ref]["final_loss"]),
                "weights": relative(weights(nets[i]) - start, ref_change),
            }
            finite = bool(np.isfinite(row["final_loss"]))
            row["reference"] = rows[ref]["backend"]
            row["difference"] = {k: float(f"{v:.3g}") for k, v in difference.items()}
            row["agrees"] = finite and max(difference.values()) <= TOLERANCE[dtype]


def disagreements(rows: list[dict[str, Any]]) -> list[str]:
    """A sentence for each row that disagrees with its reference.

    >>> row = {"backend": "torch:cpu", "dtype": "float32", "batch_size": 32, "agrees": False,
    ...        "reference": "numpy", "difference": {"loss": 0.4, "weights": 0.09}}
    >>> disagreements([row])
    ['torch:cpu float32 batch 32 DISAGREES with numpy: final loss differs by 0.4 and the change to the weights by 0.09 (relative; float32 tolerance 0.001): its times are not comparable.']
    """
    out = []
    for r in rows:
        if not r["agrees"]:
            d = r["difference"]
            out.append(
                f"{r['backend']} {r['dtype']} batch {r['batch_size']} DISAGREES with {r['reference']}: "
                f"final loss differs by {d['loss']:.3g} and the change to the weights by {d['weights']:.3g} "
                f"(relative; {r['dtype']} tolerance {TOLERANCE[r['dtype']]:g}): its times are not comparable."
            )
    return out
