"""Memory during training on NumPy, by tracemalloc (which sees every NumPy allocation).

1. No growth across epochs: traced memory at the end of each epoch of one fit.
2. No parameter-sized allocation per step for the update: the peak allocated inside one
   ``optimizer.step()`` (and inside one whole training step) next to the largest parameter.

Run: python benchmarks/memory.py [--out benchmarks/results/memory.json]
"""

from __future__ import annotations

import argparse
import json
import tracemalloc

import numpy as np

import portnn as pn
from portnn.bench.machine import describe_machine
from portnn.train.step import TrainStep


def mnist_net(seed: int = 0) -> pn.Sequential:
    return pn.Sequential(pn.Dense(784, 256), pn.ReLU(), pn.Dense(256, 256), pn.ReLU(), pn.Dense(256, 10), seed=seed)


def data(n: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    X, y = pn.datasets.synthetic_classification(n, 784, 10, seed=0)
    return X.astype(np.float32), y


class TracedMemory(pn.Callback):
    def __init__(self) -> None:
        self.per_epoch: list[int] = []

    def on_epoch_end(self, model, epoch, logs) -> None:
        self.per_epoch.append(tracemalloc.get_traced_memory()[0])


def growth_across_epochs(epochs: int = 8) -> list[int]:
    X, y = data()
    net, cb = mnist_net(), TracedMemory()
    Xd, yd = net.backend.asarray(X, net.dtype), net.backend.asarray(y)
    tracemalloc.start()
    try:
        net.fit(
            Xd,
            yd,
            loss="cross_entropy",
            optimizer=pn.optim.Adam(lr=1e-3),
            epochs=epochs,
            batch_size=128,
            progress=False,
            callbacks=[cb],
        )
    finally:
        tracemalloc.stop()
    return cb.per_epoch


def step_allocations(optimizer: pn.optim.Optimizer) -> dict[str, int]:
    X, y = data(128)
    net = mnist_net()
    step = TrainStep(net, "cross_entropy", optimizer)  # binds the optimizer to the network (its parameter block)
    Xd = net.backend.asarray(X, net.dtype)
    yd = step.loss.prepare_target(np, net.backend.asarray(y), (128, 10), net.dtype)
    for _ in range(2):  # state exists and caches are warm before measuring
        step(Xd, yd)
    tracemalloc.start()
    try:
        pred, backprops = net.forward(Xd, True)
        _, grad = step.loss.value_and_grad(np, pred, yd)
        net.backward(grad, backprops)
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        optimizer.step()
        update_peak = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        step(Xd, yd)
        step_peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    largest = max(int(np.prod(p.value.shape)) * 4 for p in net.parameters())
    return {"update_peak_bytes": update_peak, "train_step_peak_bytes": step_peak, "largest_parameter_bytes": largest}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    optimizers = {
        "SGD": pn.optim.SGD(lr=0.01),
        "SGD(momentum, nesterov, wd)": pn.optim.SGD(lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4),
        "Adam": pn.optim.Adam(),
        "AdamW": pn.optim.AdamW(),
        "RMSprop": pn.optim.RMSprop(),
    }
    record = {
        "machine": describe_machine(),
        "traced_bytes_at_epoch_end": growth_across_epochs(),
        "per_step": {name: step_allocations(opt) for name, opt in optimizers.items()},
    }
    epochs = record["traced_bytes_at_epoch_end"]
    print(f"traced memory at the end of each epoch (MB): {[round(b / 2**20, 2) for b in epochs]}")
    print("| optimizer | peak allocated in optimizer.step() | peak in one training step | largest parameter |")
    print("|---|---|---|---|")
    for name, r in record["per_step"].items():
        print(
            f"| {name} | {r['update_peak_bytes']:,} B | {r['train_step_peak_bytes'] / 2**20:.2f} MB | {r['largest_parameter_bytes'] / 2**20:.2f} MB |"
        )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(record, f, indent=1)


if __name__ == "__main__":
    main()
