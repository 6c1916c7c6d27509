"""``portnn train``: an MLP on a built-in dataset or on your own data (``--data FILE``)."""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from typing import Any

import numpy as np

from .. import datasets, distributed, io
from .._xp import spec_for_rank, to_numpy
from ..nn.layers import Dense
from ..nn.standardize import Standardize
from ..optim.optimizers import OPTIMIZERS
from ..train.model import Sequential
from .datafiles import Table, read_table
from .options import metric_names


def _hidden_sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise ValueError(f"--hidden: expected comma-separated positive ints, got {text!r}") from exc
    if any(s <= 0 for s in sizes):
        raise ValueError(f"--hidden: sizes must be positive, got {text!r}")
    return sizes


def _builtin(name: str) -> Table:
    if name == "spirals":
        X, labels = datasets.spirals()
        return Table(X, labels, ["x0", "x1"], [str(c) for c in range(int(labels.max()) + 1)])
    X, y = datasets.xor() if name == "xor" else datasets.people()
    return Table(X, y.ravel().astype(np.int64), [f"x{i}" for i in range(X.shape[1])], ["0", "1"])


def _split(table: Table, fraction: float, seed: int) -> tuple[Table, Table | None]:
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"--val-split: expected a fraction in [0, 1), got {fraction}")
    if fraction == 0.0:
        return table, None
    n = table.X.shape[0]
    n_val = round(fraction * n)
    if n_val >= n:
        raise ValueError(f"--val-split {fraction}: holds out all {n} rows, no rows left to train on")
    if n_val == 0:
        raise ValueError(f"--val-split {fraction}: holds out no validation rows of {n}; use 0 for none")
    order = np.random.default_rng(seed).permutation(table.X.shape[0])
    val, train = order[:n_val], order[n_val:]
    assert table.y is not None
    parts = [Table(table.X[i], table.y[i], table.features, table.classes) for i in (train, val)]
    return parts[0], parts[1]


def _network(args: argparse.Namespace, table: Table) -> tuple[Sequential, str]:
    """The MLP and its loss: logits and cross-entropy for classes, a linear output and MSE for values.
    It starts by standardising the features with the statistics of ``table``'s rows (the training
    rows: validation stays unseen), so the saved model takes raw features."""
    assert table.y is not None
    sizes = [table.X.shape[1], *_hidden_sizes(args.hidden)]
    layers: list = [Standardize(sizes[0]).adapt(table.X)]
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [Dense(n_in, n_out), args.activation]
    n_out = len(table.classes) if table.classes is not None else (1 if table.y.ndim == 1 else table.y.shape[1])
    layers.append(Dense(sizes[-1], n_out))
    net = Sequential(*layers, backend=args.backend, dtype=args.dtype, seed=args.seed)
    return net, "cross_entropy" if table.classes is not None else "mse"


def run_train(args: argparse.Namespace) -> int:
    """Train, print the loss curve's ends and the final logs, optionally save."""
    if args.save:
        io.check_writable(args.save)  # before the training that would be lost
    if args.data:
        table = read_table(args.data, args.target or "y", args.task)
    else:
        table = _builtin(args.dataset)
    if table.classes is None and table.y is not None and table.y.ndim == 1:
        table.y = table.y[:, None]
    train, val = _split(table, args.val_split, args.seed)
    comm = distributed.init() if args.distributed else None
    if comm is not None:  # one rank per GPU: a GPU backend's device is the rank's on its machine
        args.backend = spec_for_rank(args.backend, comm.local_rank)
    if comm is None or comm.rank == 0:  # rank 0 speaks for all
        tell(table.notes)
    net, loss = _network(args, train)
    metrics = metric_names(args.metrics, table.classes is not None)
    if not metrics and table.classes is not None:
        metrics = ["accuracy"]
    start = time.perf_counter()
    history = net.fit(
        train.X,
        train.y,
        loss=loss,
        optimizer=OPTIMIZERS[args.optimizer.lower()](lr=args.lr),
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_data=None if val is None else (val.X, val.y),
        metrics=metrics,
        progress=False if args.no_progress else args.progress,
        distributed=comm,
    )
    seconds = time.perf_counter() - start
    if comm is not None and comm.rank != 0:
        return 0  # rank 0 reports and saves
    logs = {k: v[-1] for k, v in history.history.items()}
    ranks = f" on {comm.size} ranks" if comm is not None else ""
    print(f"{args.data or args.dataset}: {net}{ranks}")
    print(f"loss {history.history['loss'][0]:.4f} -> {logs.pop('loss'):.4f} in {args.epochs} epochs, {seconds:.2f} s")
    print("  ".join(f"{k} {v:.4f}" for k, v in logs.items()))
    if args.save:
        net.metadata = _metadata(args, table, loss, metrics)
        net.save(args.save)
        print(f"saved to {args.save}")
    return 0


def _metadata(args: argparse.Namespace, table: Table, loss: str, metrics: list[str]) -> dict[str, Any]:
    """What `portnn evaluate` and `portnn predict` need to read new data the same way."""
    return {
        "features": table.features,
        "target": args.target or "y",
        "classes": table.classes,
        "loss": loss,
        "metrics": metrics,
    }


def tell(notes: list[str]) -> None:
    """The choices made reading the data, one line each, where the results are not written."""
    for note in notes:
        print(f"portnn: {note}", file=sys.stderr)


def predictions(net: Sequential, X: np.ndarray) -> np.ndarray:
    """Outputs for ``X`` as the user's labels (classes) or values."""
    out = to_numpy(net(X))
    classes = net.metadata.get("classes")
    if classes is None:
        return out
    return np.array(classes)[out.argmax(axis=1)]
