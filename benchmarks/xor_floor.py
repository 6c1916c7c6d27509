"""How far a tiny network's epoch can go: the xor workload's step as its bare operations, written
inline with no library around them, beside portnn's fit, the seed loop and torch eager.

Each bare sequence is exactly what portnn's step computes on that library (NumPy: the tanh
sigmoid, np.dot products; torch: its own sigmoid and sigmoid_backward, torch.mm, one addcmul_ for
the SGD step), so its time is the floor of an op-by-op implementation that makes those calls: what
portnn adds on top is its Python structure (layers, closures, the loop's loss read, history and
divergence snapshot). Rounds are interleaved and medians reported, as in ``portnn bench``.

Run: python benchmarks/xor_floor.py [--rounds 9] [--epochs 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

import portnn as pn
from portnn.bench.references import make_seed_xor, make_torch_eager
from portnn.bench.workloads import FULL, initial_weights, make_data


def bare_step(lib: str) -> Callable[[], object]:
    """portnn's xor step as inline operations on NumPy arrays or torch CPU tensors."""
    w = FULL["xor"]
    X, y = (a.astype(np.float64) for a in make_data(w))
    (w1, _), (w2, _) = initial_weights(w)
    # the parameters and gradients as views of two flat arrays, as portnn's parameter block keeps them
    arrays = [
        X,
        y,
        np.concatenate([w1.ravel(), w2.ravel()]),
        np.zeros(w1.size + w2.size),
        np.asarray(0.5),
        np.asarray(1.0),
    ]
    if lib == "torch":
        arrays = [torch.from_numpy(np.array(a)) for a in arrays]
    X, y, flat_w, flat_g, half, one = arrays
    n1 = w1.size
    W1, W2 = flat_w[:n1].reshape(w1.shape), flat_w[n1:].reshape(w2.shape)
    G1, G2 = flat_g[:n1].reshape(w1.shape), flat_g[n1:].reshape(w2.shape)
    if lib == "torch":
        return _torch_step(X, y, W1, W2, G1, G2, flat_w, flat_g, flat_w.new_tensor(w.lr))
    lr = np.asarray(w.lr)

    def step() -> object:  # NumPy: the tanh sigmoid, np.dot products, vdot for the sum of squares
        A = half * np.tanh(half * np.dot(X, W1)) + half
        P = half * np.tanh(half * np.dot(A, W2)) + half
        diff = P - y
        value = np.vdot(diff, diff) * 0.25
        dO = diff * 0.5 * (P * (one - P))
        np.dot(A.T, dO, out=G2)
        dH = np.dot(dO, W2.T) * (A * (one - A))
        np.dot(X.T, dH, out=G1)
        flat_g.__imul__(lr)  # in place; "flat_g *= lr" would make the closure's names local
        flat_w.__isub__(flat_g)
        return value

    return step


def _torch_step(*arrays: torch.Tensor) -> Callable[[], object]:
    """torch: torch.sigmoid and aten's sigmoid_backward, torch.mm, sum(x * x), one addcmul_."""
    X, y, W1, W2, G1, G2, flat_w, flat_g, lr = arrays
    sigmoid_backward = torch.ops.aten.sigmoid_backward.default

    def step() -> object:
        A = torch.sigmoid(torch.mm(X, W1))
        P = torch.sigmoid(torch.mm(A, W2))
        diff = P - y
        value = torch.sum(diff * diff) * 0.25
        dO = sigmoid_backward(diff * 0.5, P)
        torch.matmul(A.T, dO, out=G2)
        dH = sigmoid_backward(torch.mm(dO, W2.T), A)
        torch.matmul(X.T, dH, out=G1)
        flat_w.addcmul_(flat_g, lr, value=-1)
        return value

    return step


def per_epoch(fn: Callable[[], object], epochs: int) -> float:
    start = time.perf_counter()
    for _ in range(epochs):
        fn()
    return (time.perf_counter() - start) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--epochs", type=int, default=2000)
    args = parser.parse_args()
    w = FULL["xor"]
    X, y = make_data(w)
    seed, eager = make_seed_xor(w, X, y), make_torch_eager(w, X, y, "cpu")
    nets = {
        spec: pn.Sequential(
            pn.Dense(2, 3, bias=False),
            pn.Sigmoid(),
            pn.Dense(3, 1, bias=False),
            pn.Sigmoid(),
            backend=spec,
            dtype="float64",
            seed=0,
        )
        for spec in ("numpy", "torch:cpu")
    }

    def fit(spec: str) -> Callable[[], object]:
        opt = pn.optim.SGD(lr=w.lr)
        return lambda: nets[spec].fit(X, y, optimizer=opt, epochs=args.epochs, shuffle=False, progress=False)

    candidates: dict[str, Callable[[], float]] = {
        "seed loop (numpy)": lambda: per_epoch(seed.run, 1) / w.epochs,
        "bare step ops, numpy": lambda: per_epoch(bare_step("numpy"), args.epochs),
        "portnn fit, numpy": lambda: per_epoch(fit("numpy"), 1) / args.epochs,
        "bare step ops, torch:cpu": lambda: per_epoch(bare_step("torch"), args.epochs),
        "portnn fit, torch:cpu": lambda: per_epoch(fit("torch:cpu"), 1) / args.epochs,
        "torch eager (torch:cpu)": lambda: per_epoch(eager.run, 1) / w.epochs,
    }
    times: dict[str, list[float]] = {name: [] for name in candidates}
    with np.errstate(all="ignore"):
        for fn in candidates.values():
            fn()  # warm-up
        for _ in range(args.rounds):
            for name, fn in candidates.items():
                times[name].append(fn())
    medians = {name: statistics.median(t) for name, t in times.items()}
    eager_time = medians["torch eager (torch:cpu)"]
    print(
        f"xor per epoch, median of {args.rounds} interleaved rounds; torch {torch.__version__}, numpy {np.__version__}"
    )
    print("| what | time/epoch | vs torch eager |\n|---|---|---|")
    for name, value in medians.items():
        print(f"| {name} | {value * 1e6:.1f} µs | {value / eager_time:.2f}× |")


if __name__ == "__main__":
    main()
