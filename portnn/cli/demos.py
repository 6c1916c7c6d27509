"""The seed notebooks, reproduced with portnn (``portnn demo xor|people|neuron``)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .. import datasets, optim
from ..nn.activations import Sigmoid
from ..nn.layers import Dense
from ..train.model import Sequential


def xor_network(backend: str = "numpy", dtype: str = "float64") -> Sequential:
    """The XOR seed's 2-3-1 sigmoid network without biases, started from the seed's own weights."""
    net = Sequential(
        Dense(2, 3, bias=False), Sigmoid(), Dense(3, 1, bias=False), Sigmoid(), backend=backend, dtype=dtype
    )
    net.load_state_dict(datasets.xor_seed_weights())
    return net


def train_xor(net: Sequential, epochs: int = 80_000, progress: bool | str = False) -> Any:
    """Train like the seed: full batch, learning rate 1 on half the summed squared error.

    portnn's MSE is the mean over the 4 outputs, so its gradient is ``(out - y) / 2``; SGD with
    ``lr=2`` therefore makes exactly the seed's update ``w += 1 * (e_out @ hide.T)``.
    """
    X, y = datasets.xor()
    return net.fit(X, y, loss="mse", optimizer=optim.SGD(lr=2.0), epochs=epochs, batch_size=None, progress=progress)


def demo_xor(backend: str = "numpy", epochs: int = 80_000, progress: bool | str = "auto") -> None:
    """Print what the XOR notebook printed: predictions, probabilities and one line per input."""
    X, y = datasets.xor()
    net = xor_network(backend)
    start = time.perf_counter()
    history = train_xor(net, epochs, progress)
    seconds = time.perf_counter() - start
    proba = np.asarray(_host(net(X))).T
    print(f"XOR: 2-3-1 sigmoid, no biases, full batch, SGD, {epochs} epochs on {net.backend.spec}")
    print(f"predict(X):       {(proba > 0.5)!r}")
    print(f"predict_proba(X): {np.round(proba, 4)!r}")
    for xi, yi, pi in zip(X.astype(int), y == 1, proba.T):
        print(f"For input: {xi} expected {yi}, the prediction is: {pi > 0.5} with probability {np.around(pi, 4)}")
    print(f"final training loss (MSE): {history.history['loss'][-1]:.6g}")
    print(f"time: {seconds:.2f} s ({seconds / epochs * 1e6:.1f} us per epoch)")


def demo_people(backend: str = "numpy", epochs: int = 1000, progress: bool | str = "auto") -> None:
    """The people notebook's 2-2-1 sigmoid network, per-sample SGD (lr 0.1, 1000 epochs, MSE)."""
    X, y = datasets.people()
    net = Sequential(
        Dense(2, 2, init="normal"),
        Sigmoid(),
        Dense(2, 1, init="normal"),
        Sigmoid(),
        backend=backend,
        dtype="float64",
        seed=0,
    )
    history = net.fit(
        X, y, loss="mse", optimizer=optim.SGD(lr=0.1), epochs=epochs, batch_size=1, shuffle=False, progress=progress
    )
    losses = history.history["loss"]
    for epoch in range(0, len(losses), max(1, len(losses) // 10)):
        print(f"Epoch {epoch}, loss {losses[epoch]:.6f}")
    print(f"final training loss (MSE): {losses[-1]:.6g}")
    print(f"Emily {float(_host(net(datasets.EMILY))[0, 0]):.6f}  (expected near 1: female)")
    print(f"Frank {float(_host(net(datasets.FRANK))[0, 0]):.6f}  (expected near 0: male)")


def neuron_output(backend: str = "numpy") -> float:
    """The lecture's single neuron: weights [0, 1], bias 4, input [2, 3] -> sigmoid(7)."""
    net = Sequential(Dense(2, 1), Sigmoid(), backend=backend, dtype="float64")
    net.load_state_dict({"0.weight": [[0.0], [1.0]], "0.bias": [4.0]})
    return float(_host(net([[2.0, 3.0]]))[0, 0])


def demo_neuron(backend: str = "numpy") -> None:
    """Print the lecture's two numbers: the neuron's output and sigmoid(-1)."""
    print(neuron_output(backend))
    sigmoid = Sequential(Sigmoid(), backend=backend, dtype="float64")
    print(float(_host(sigmoid([[-1.0]]))[0, 0]))


def _host(x: Any) -> np.ndarray:
    from .._xp import to_numpy

    return to_numpy(x)
