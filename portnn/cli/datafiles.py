"""Reading a user's data for the command line: CSV with a header row, or NPZ with arrays ``X`` and
``y``. Class labels of any type (strings, whole numbers) are encoded as integers; the classes are
kept so predictions can be written back as the user's labels."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass

import numpy as np


@dataclass
class Table:
    """Features ``X`` (float64), targets ``y`` (int64 class indices, or float64 values), the
    feature names, and ``classes`` (the label of each class index; None for regression)."""

    X: np.ndarray
    y: np.ndarray | None
    features: list[str]
    classes: list[str] | None


def read_table(path: str, target: str | None, task: str = "auto") -> Table:
    """The data in ``path`` (``.csv`` or ``.npz``); ``target`` names the CSV column to predict
    (None: no target, for prediction). ``task`` is ``"classify"``, ``"regress"`` or ``"auto"``
    (classes when the target holds text or only whole numbers), or ``"raw"`` (the target as text)."""
    if not os.path.isfile(path):
        raise ValueError(f"--data: {path!r} is not a file")
    if path.endswith(".npz"):
        return _npz(path, target is not None, task)
    return _csv(path, target, task)


def has_column(path: str, name: str) -> bool:
    """Whether the CSV file at ``path`` has a column ``name`` (False for NPZ files)."""
    if not path.endswith(".csv") or not os.path.isfile(path):
        return False
    with open(path, newline="") as f:
        return name in next(csv.reader(f), [])


def _npz(path: str, wants_target: bool, task: str) -> Table:
    with np.load(path, allow_pickle=False) as f:
        if "X" not in f.files:
            raise ValueError(f"--data: {path!r} has no array 'X' (it has {f.files})")
        X = np.asarray(f["X"], dtype=np.float64)
        y = f["y"] if wants_target and "y" in f.files else None
    if wants_target and y is None:
        raise ValueError(f"--data: {path!r} has no array 'y' to train on")
    if X.ndim != 2:
        raise ValueError(f"--data: X in {path!r} must be 2-D (samples, features), got shape {X.shape}")
    labels, classes = (None, None) if y is None else _targets(np.asarray(y).astype(str), task, "y")
    return Table(X, labels, [f"x{i}" for i in range(X.shape[1])], classes)


def _csv(path: str, target: str | None, task: str) -> Table:
    with open(path, newline="") as f:
        numbered = [(n, row) for n, row in enumerate(csv.reader(f), start=1) if row]  # blank lines skipped
    if len(numbered) < 2:
        raise ValueError(f"--data: {path!r} needs a header row and at least one row of data")
    header, body = numbered[0][1], [row for _, row in numbered[1:]]
    if target is not None and target not in header:
        raise ValueError(f"--target: no column {target!r} in {path!r}; columns: {header}")
    bad = next(((n, row) for n, row in numbered[1:] if len(row) != len(header)), None)
    if bad is not None:
        raise ValueError(f"--data: {path!r} line {bad[0]} has {len(bad[1])} fields, the header {len(header)}")
    columns = {name: [row[i] for row in body] for i, name in enumerate(header)}
    features = [name for name in header if name != target]
    X = np.empty((len(body), len(features)))
    for j, name in enumerate(features):
        try:
            X[:, j] = np.array(columns[name], dtype=np.float64)
        except ValueError:
            raise ValueError(
                f"--data: column {name!r} of {path!r} is not numeric; only the target may hold text"
            ) from None
    labels, classes = (None, None) if target is None else _targets(np.array(columns[target]), task, target)
    return Table(X, labels, features, classes)


def _targets(raw: np.ndarray, task: str, name: str) -> tuple[np.ndarray, list[str] | None]:
    if task == "raw":  # as read (text): the caller maps them to a model's classes
        return raw.astype(str), None
    try:
        numbers = raw.astype(np.float64)
    except ValueError:
        numbers = None
    if task == "regress":
        if numbers is None:
            raise ValueError(f"--task regress: the target {name!r} is not numeric")
        return numbers, None
    whole = numbers is not None and bool(np.all(numbers == np.round(numbers)))
    if task == "auto" and numbers is not None and not whole:
        return numbers, None
    keys = numbers if whole and numbers is not None else raw
    classes, codes = np.unique(keys, return_inverse=True)
    names = [str(int(c)) if whole else str(c) for c in classes]
    return codes.astype(np.int64), names
