"""The benchmark workloads and their data (made on the host, placed on each device untimed)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .. import datasets


@dataclass(frozen=True)
class Workload:
    """An MLP training job: layer widths, activation, loss, batching and how much to run."""

    name: str
    sizes: tuple[int, ...]
    activation: str
    loss: str
    batch_size: int | None
    samples: int
    epochs: int
    dtype: str
    lr: float
    bias: bool = True
    repeats: int = 5
    host_references: bool = True  # time the hand NumPy / seed loop / sklearn references beside it

    @property
    def steps_per_epoch(self) -> int:
        return 1 if self.batch_size is None else -(-self.samples // self.batch_size)

    @property
    def shuffle(self) -> bool:
        return self.batch_size is not None

    def describe(self) -> str:
        batch = "full batch" if self.batch_size is None else f"batch {self.batch_size}"
        return f"{'-'.join(map(str, self.sizes))} {self.activation}, {self.loss}, {batch}, {self.samples} samples, {self.dtype}"


FULL = {
    # A repeat of xor lasts 0.1 s: one noisy spell of a shared machine moves a median of three,
    # so it gets nine; a repeat of large lasts 6-8 s.
    "xor": Workload("xor", (2, 3, 1), "sigmoid", "mse", None, 4, 5_000, "float64", 2.0, bias=False, repeats=9),
    "mnist": Workload(
        "mnist", (784, 256, 256, 10), "relu", "cross_entropy", 128, 60_000, 1, "float32", 0.01, repeats=5
    ),
    "large": Workload("large", (1024, 4096, 4096, 1024), "relu", "mse", 1024, 8192, 1, "float32", 1e-3, repeats=3),
}
QUICK = {
    "xor": replace(FULL["xor"], epochs=1_000, repeats=5),
    "mnist": replace(FULL["mnist"], samples=6_000, repeats=3),
    "large": replace(FULL["large"], sizes=(512, 2048, 2048, 512), batch_size=512, samples=1024, repeats=2),
}
# GPU-sized: each timed unit lasts well past kernel-launch overhead and timer resolution. The large
# network's host references would take minutes on a CPU, so only device implementations run it.
GPU = {
    "xor": replace(FULL["xor"], epochs=1_000, repeats=5),
    "mnist": FULL["mnist"],
    "large": replace(FULL["large"], epochs=4, repeats=5, host_references=False),
}
PRESETS = {"full": FULL, "quick": QUICK, "gpu": GPU}
SWEEP_BATCHES = {"full": (16, 64, 256, 1024, 4096), "quick": (32, 256, 2048)}
SWEEP_SAMPLES = {"full": 16_384, "quick": 4_096}


def sweep_workload(batch_size: int, quick: bool) -> Workload:
    """The mnist network at another batch size (for the CPU/GPU crossover curve)."""
    samples = SWEEP_SAMPLES["quick" if quick else "full"]
    return replace(FULL["mnist"], name=f"sweep-{batch_size}", batch_size=batch_size, samples=samples, repeats=2)


def make_data(w: Workload) -> tuple[np.ndarray, np.ndarray]:
    """Host data for ``w``: XOR points, MNIST-shaped class clusters, or a Gaussian regression."""
    if w.name == "xor":
        return datasets.xor()
    if w.loss == "cross_entropy":
        X, y = datasets.synthetic_classification(w.samples, w.sizes[0], w.sizes[-1], seed=0)
        return ((X - X.mean(axis=0)) / X.std(axis=0)).astype(w.dtype), y
    rng = np.random.default_rng(0)
    X = rng.normal(size=(w.samples, w.sizes[0])).astype(w.dtype)
    return X, (0.1 * rng.normal(size=(w.samples, w.sizes[-1]))).astype(w.dtype)


def build_layers(w: Workload) -> list[Any]:
    """portnn layers for ``w`` (sigmoid after every layer for XOR, logits out for classification)."""
    from ..nn.activations import get_activation
    from ..nn.layers import Dense

    layers: list[Any] = []
    for i, (n_in, n_out) in enumerate(zip(w.sizes, w.sizes[1:])):
        layers.append(Dense(n_in, n_out, bias=w.bias))
        if i < len(w.sizes) - 2 or w.activation == "sigmoid":
            layers.append(get_activation(w.activation))
    return layers


@functools.cache
def initial_weights(w: Workload) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """The seed-0 initial (weight, bias) pairs every implementation starts from (float64, host).

    Made once per workload (the large network's take seconds); callers copy what they change.
    """
    from ..train.model import Sequential

    if w.name == "xor":
        seed = datasets.xor_seed_weights()
        return [(seed["0.weight"], None), (seed["2.weight"], None)]
    net = Sequential(*build_layers(w), dtype="float64", seed=0)
    sd = net.state_dict()
    dense = [i for i, layer in enumerate(net.layers) if "weight" in layer.params]
    return [(sd[f"{i}.weight"], sd.get(f"{i}.bias")) for i in dense]
