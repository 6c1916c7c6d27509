"""``portnn evaluate MODEL --data FILE`` and ``portnn predict MODEL --data FILE [--out FILE]``: a
model trained by ``portnn train --data`` applied to new data, read the way its training data was."""

from __future__ import annotations

import argparse
import csv
import os
import sys
from typing import Any

import numpy as np

from .._xp import get_backend
from ..train.model import Sequential, load
from .datafiles import Table, has_column, read_table
from .options import metric_names
from .train import predictions, tell


def load_model(path: str, backend: str) -> Sequential:
    """The model in ``path`` on ``backend``, or a one-line ValueError: no such file, or not a model."""
    get_backend(backend)  # a bad --backend is refused as such, not as a bad model file
    if not os.path.exists(path):
        raise ValueError(f"no such model file {path!r}")
    try:
        return load(path, backend=backend)
    except ValueError as exc:
        raise ValueError(f"{path!r} is not a portnn model file ({exc})") from None


def _features(net: Sequential, table: Table, path: str) -> np.ndarray:
    meta = net.metadata
    if "features" not in meta:
        raise ValueError("this model was not trained by `portnn train --data`: it does not say how to read data")
    names = meta["features"]
    if path.endswith(".csv"):
        missing = [n for n in names if n not in table.features]
        if missing:
            raise ValueError(f"--data: {path!r} lacks the model's feature columns {missing}")
        X = table.X[:, [table.features.index(n) for n in names]]
    else:
        X = table.X
    if X.shape[1] != len(names):
        raise ValueError(f"--data: the model takes {len(names)} features, {path!r} has {X.shape[1]}")
    if "mean" in meta:  # saved before the model standardised its features itself (Standardize)
        return (X - np.array(meta["mean"])) / np.array(meta["std"])
    return X


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _labels(net: Sequential, raw: Any, path: str, target: str) -> np.ndarray:
    """The targets in ``raw`` (text, as read) as the model's class indices, or as values."""
    where = f"--data: the target column {target!r} of {path!r}"
    classes = net.metadata.get("classes")
    if classes is None:
        bad = sorted({str(v) for v in raw if _number(str(v)) is None})
        if bad:
            raise ValueError(f"{where} holds values that are not numbers: {bad[:5]}")
        values = raw.astype(np.float64)
        return values[:, None] if values.ndim == 1 else values
    index = {c: i for i, c in enumerate(classes)}
    if all(c.lstrip("-").isdigit() for c in classes):  # whole-number classes: "3.0" is class "3"
        numbers = {str(v): _number(str(v)) for v in raw}
        bad = sorted(v for v, x in numbers.items() if x is None or not x.is_integer())
        if bad:
            raise ValueError(f"{where} holds labels that are not whole numbers: {bad[:5]}; classes: {classes}")
        raw = np.array([str(int(numbers[str(v)])) for v in raw])  # type: ignore[arg-type]
    unknown = sorted({str(v) for v in raw} - set(index))
    if unknown:
        raise ValueError(f"{where} holds labels {unknown[:5]} that are not among the model's classes {classes}")
    return np.array([index[str(v)] for v in raw], dtype=np.int64)


def run_evaluate(args: argparse.Namespace) -> int:
    """Print the loss and the metrics of a saved model on labelled data."""
    net = load_model(args.model, args.backend)
    target = args.target or net.metadata.get("target", "y")
    table = read_table(args.data, target, task="raw")
    tell(table.notes)
    X, y = _features(net, table, args.data), _labels(net, table.y, args.data, target)
    classify = net.metadata.get("classes") is not None
    metrics = metric_names(args.metrics, classify) if args.metrics else net.metadata.get("metrics", [])
    results = net.evaluate(X, y, loss=net.metadata["loss"], metrics=metrics, batch_size=args.batch_size)
    print("  ".join(f"{k} {v:.6g}" for k, v in results.items()))
    return 0


def run_predict(args: argparse.Namespace) -> int:
    """Write one prediction per row (the user's labels, or values) as CSV, to --out or stdout."""
    net = load_model(args.model, args.backend)
    target = args.target or net.metadata.get("target", "y")
    table = read_table(args.data, target if has_column(args.data, target) else None, task="raw", labelled=False)
    tell(table.notes)
    out = predictions(net, _features(net, table, args.data))
    if out.ndim == 2 and out.shape[1] == 1:  # one output column: named like the target
        out = out[:, 0]
    header = [target] if out.ndim == 1 else [f"{target}{i}" for i in range(out.shape[1])]
    rows = [[v] if out.ndim == 1 else list(v) for v in out]
    if args.out:
        with open(args.out, "w", newline="") as f:
            csv.writer(f).writerows([header, *rows])
    else:
        csv.writer(sys.stdout).writerows([header, *rows])
    return 0
