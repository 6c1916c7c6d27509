"""``portnn bench --data FILE`` with ``--model FILE`` or ``--hidden SIZES``: :func:`compare` on the
user's data, read by the command line's own reader (:mod:`portnn.cli.datafiles`)."""

from __future__ import annotations

import argparse
import itertools
import sys
from typing import Any

import numpy as np

from ..cli.datafiles import Table, read_table
from ..io import check_writable
from ..nn.layers import Dense
from ..nn.standardize import Standardize
from ..optim.base import OPTIMIZERS
from ..train.model import Sequential, load
from .compare import compare


def _ints(flag: str, text: str) -> list[int]:
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        values = []
    if not values or any(v <= 0 for v in values):
        raise ValueError(f"{flag}: expected comma-separated positive ints, got {text!r}")
    return values


def mlp(table: Table, hidden: list[int]) -> tuple[Sequential, str]:
    """An MLP for ``table`` as ``portnn train`` builds one: features standardised on its rows, relu
    after each hidden layer, logits and cross-entropy for classes, a linear output and MSE for values."""
    sizes = [table.X.shape[1], *hidden]
    layers: list[Any] = [Standardize(sizes[0]).adapt(table.X)]
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [Dense(n_in, n_out), "relu"]
    assert table.y is not None
    n_out = len(table.classes) if table.classes is not None else (1 if table.y.ndim == 1 else table.y.shape[1])
    layers.append(Dense(sizes[-1], n_out))
    return Sequential(*layers, seed=0), "cross_entropy" if table.classes is not None else "mse"


def _saved(path: str, table: Table) -> tuple[Sequential, str]:
    net = load(path)
    features = table.X.shape[1]
    if net.n_in is not None and net.n_in != features:
        raise ValueError(f"--model: {path!r} takes {net.n_in} features; --data has {features}")
    default = "cross_entropy" if table.classes is not None else "mse"
    return net, str(net.metadata.get("loss", default))


def _check(args: argparse.Namespace) -> None:
    if not args.data:
        raise ValueError("--model/--hidden: --data is needed (a .csv with a header row, or a .npz with X and y)")
    if args.model and args.hidden:
        raise ValueError("--model and --hidden: choose one (a saved model, or an MLP of these sizes)")
    for flag in ("quick", "gpu", "workloads", "markdown"):
        if getattr(args, flag):
            raise ValueError(f"--{flag} is for the built-in workloads; it does not go with --data")
    if args.optimizer.lower() not in OPTIMIZERS:
        raise ValueError(f"--optimizer: unknown name {args.optimizer!r}; expected one of {sorted(OPTIMIZERS)}")
    if args.epochs <= 0 or (args.repeats is not None and args.repeats <= 0):
        raise ValueError(f"--epochs, --repeats: expected positive ints, got {args.epochs}, {args.repeats}")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError as exc:
            raise ValueError("--plot needs matplotlib: pip install 'portnn[plot]'") from exc
    for path in (args.out, args.plot):
        if path:
            check_writable(path)


def run_own(args: argparse.Namespace) -> int:
    """Read the data, build or load the model, compare, print the table, write the record and chart."""
    _check(args)
    batch_sizes = _ints("--batch-sizes", args.batch_sizes)
    table = read_table(args.data, args.target or "y", "auto")
    for note in table.notes:
        print(f"portnn: {note}", file=sys.stderr)
    assert table.y is not None
    if table.classes is None and table.y.ndim == 1:
        table.y = table.y[:, None]
    net, loss = _saved(args.model, table) if args.model else mlp(table, _ints("--hidden", args.hidden or "64,64"))
    backends = None if args.backends is None else [b.strip() for b in args.backends.split(",") if b.strip()]
    print(f"portnn bench: {args.data} ({table.X.shape[0]} rows), {net}", file=sys.stderr)
    result = compare(
        net,
        table.X,
        np.asarray(table.y),
        loss=loss,
        optimizer=OPTIMIZERS[args.optimizer.lower()](lr=args.lr),
        backends=backends,
        batch_sizes=batch_sizes,
        dtypes=[d.strip() for d in args.dtypes.split(",") if d.strip()],
        epochs=args.epochs,
        repeats=args.repeats or 3,
        metrics=["accuracy"] if table.classes is not None else [],
        log=lambda line: print(line, file=sys.stderr),
    )
    print(result.to_markdown())
    if args.out:
        result.to_json(args.out)
    if args.plot:
        result.plot(args.plot)
    return 0
