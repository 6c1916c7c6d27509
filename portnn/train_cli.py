"""``portnn train``: an MLP on a built-in dataset, from the command line."""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from . import datasets, io
from ._xp import to_numpy
from .layers import Dense
from .model import Sequential
from .optim import OPTIMIZERS


def _hidden_sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise ValueError(f"--hidden: expected comma-separated positive ints, got {text!r}") from exc
    if any(s <= 0 for s in sizes):
        raise ValueError(f"--hidden: sizes must be positive, got {text!r}")
    return sizes


def run_train(args: argparse.Namespace) -> int:
    """Train, print the loss curve's ends and the training accuracy, optionally save."""
    if args.save:
        io.check_writable(args.save)  # before the training that would be lost
    if args.dataset == "spirals":
        X, labels = datasets.spirals()
        classes, loss = int(labels.max()) + 1, "cross_entropy"
        y = labels
    else:
        X, y = datasets.xor() if args.dataset == "xor" else datasets.people()
        classes, loss, labels = 1, "bce", y.ravel()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    if args.optimizer.lower() not in OPTIMIZERS:
        raise ValueError(f"--optimizer: unknown name {args.optimizer!r}; expected one of {sorted(OPTIMIZERS)}")
    sizes = [X.shape[1], *_hidden_sizes(args.hidden)]
    layers: list = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [Dense(n_in, n_out), args.activation]
    layers.append(Dense(sizes[-1], classes))
    if classes == 1:
        layers.append("sigmoid")
    net = Sequential(*layers, backend=args.backend, dtype=args.dtype, seed=args.seed)
    optimizer = OPTIMIZERS[args.optimizer.lower()](lr=args.lr)
    start = time.perf_counter()
    history = net.fit(
        X,
        y,
        loss=loss,
        optimizer=optimizer,
        epochs=args.epochs,
        batch_size=args.batch_size,
        progress=not args.no_progress and "auto",
    )
    seconds = time.perf_counter() - start
    out = to_numpy(net(X))
    predicted = out.argmax(axis=1) if classes > 1 else (out[:, 0] > 0.5)
    accuracy = float(np.mean(predicted == labels))
    losses = history.history["loss"]
    print(f"{args.dataset}: {net}")
    print(
        f"loss {losses[0]:.4f} -> {losses[-1]:.4f} in {len(losses)} epochs, {seconds:.2f} s; training accuracy {accuracy:.3f}"
    )
    if args.save:
        net.save(args.save)
        print(f"saved to {args.save}")
    return 0
