"""Reading a user's data for the command line: CSV with a header row, or NPZ with arrays ``X`` and
``y``. Class labels of any type (strings, whole numbers) are encoded as integers; the classes are
kept so predictions can be written back as the user's labels.

A bad cell is refused with its place as the user sees it: the CSV file's line (the header is line
1, so data row 5 is line 6), or the NPZ array's row counted from 0. Choices made while reading (an
index column left out, whole numbers read as values) are kept in ``Table.notes`` to be told."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field

import numpy as np

# --task auto: whole numbers with more distinct values than this are values (a regression), not classes
MAX_AUTO_CLASSES = 20


@dataclass
class Table:
    """Features ``X`` (float64), targets ``y`` (int64 class indices, or float64 values), the
    feature names, ``classes`` (the label of each class index; None for regression), ``lines``
    (the file line of each row of a CSV; None for NPZ) and ``notes`` (choices made, to tell)."""

    X: np.ndarray
    y: np.ndarray | None
    features: list[str]
    classes: list[str] | None
    lines: list[int] | None = None
    notes: list[str] = field(default_factory=list)


def read_table(path: str, target: str | None, task: str = "auto", labelled: bool = True) -> Table:
    """The data in ``path`` (``.csv`` or ``.npz``); ``target`` names the CSV column to predict
    (None: no target, for prediction). ``task`` is ``"classify"``, ``"regress"`` or ``"auto"``
    (classes when the target holds text or a few whole numbers), or ``"raw"`` (the target as text).
    ``labelled=False`` reads the target column, if any, without requiring its cells (prediction).

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "d.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("a,b,label\\n1,2,x\\n3,,y\\n")
    >>> read_table(path, "label")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: --data: '...d.csv' line 3 (the header is line 1), column 'b': the value is missing (an empty cell)
    """
    if not os.path.isfile(path):
        raise ValueError(f"--data: {path!r} is not a file")
    if path.endswith(".npz"):
        return _npz(path, target is not None, task)
    return _csv(path, target, task, labelled)


def has_column(path: str, name: str) -> bool:
    """Whether the CSV file at ``path`` has a column ``name`` (False for NPZ files)."""
    if not path.endswith(".csv") or not os.path.isfile(path):
        return False
    with open(path, newline="") as f:
        return name in next(csv.reader(f), [])


def _place(path: str, lines: list[int] | None, i: int) -> str:
    """Where row ``i`` is, as the user finds it: the CSV line, or the NPZ row counted from 0."""
    if lines is None:
        return f"{path!r} row {i} (counting from 0)"
    return f"{path!r} line {lines[i]} (the header is line 1)"


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
    bad = np.argwhere(~np.isfinite(X))
    if bad.size:
        i, j = bad[0]
        raise ValueError(f"--data: X in {_place(path, None, i)}, column {j}: {X[i, j]} is not a finite number")
    table = Table(X, None, [f"x{i}" for i in range(X.shape[1])], None)
    if y is not None:
        table.y, table.classes = _targets(np.asarray(y).astype(str), task, "y", path, table)
    return table


def _csv(path: str, target: str | None, task: str, labelled: bool) -> Table:
    with open(path, newline="") as f:
        reader = csv.reader(f)
        numbered = [(reader.line_num, row) for row in reader if row]  # blank lines skipped
    if len(numbered) < 2:
        raise ValueError(f"--data: {path!r} needs a header row and at least one row of data")
    header, body = numbered[0][1], [row for _, row in numbered[1:]]
    lines = [n for n, _ in numbered[1:]]
    if target is not None and target not in header:
        raise ValueError(f"--target: no column {target!r} in {path!r}; columns: {header}")
    bad = next(((n, row) for n, row in numbered[1:] if len(row) != len(header)), None)
    if bad is not None:
        raise ValueError(f"--data: {path!r} line {bad[0]} has {len(bad[1])} fields, the header {len(header)}")
    columns = {name: [row[i] for row in body] for i, name in enumerate(header)}
    notes = []
    if header[0] == "" and target != "" and columns[""] == [str(i) for i in range(len(body))]:
        header = header[1:]  # pandas' to_csv writes the index first, under no name
        notes.append(f"{path}: the first column has no name and holds 0 … {len(body) - 1}: an index, left out")
    features = [name for name in header if name != target]
    X = np.empty((len(body), len(features)))
    for j, name in enumerate(features):
        X[:, j] = _numbers(columns[name], name, path, lines, "only the target column may hold text")
    table = Table(X, None, features, None, lines, notes)
    if target is not None:
        raw = np.array(columns[target])
        empty = np.flatnonzero(np.char.strip(raw) == "")
        if labelled and empty.size:
            where = _place(path, lines, int(empty[0]))
            raise ValueError(f"--data: {where}: the target {target!r} is empty; every labelled row needs one")
        table.y, table.classes = _targets(raw, task, target, path, table)
    return table


def _numbers(cells: list[str], name: str, path: str, lines: list[int] | None, hint: str) -> np.ndarray:
    """The cells of column ``name`` as finite float64, or a ValueError naming the first bad cell's place."""
    try:
        values = np.array(cells, dtype=np.float64)
    except ValueError:
        values = None
    suspects = range(len(cells)) if values is None else np.flatnonzero(~np.isfinite(values))
    for i in map(int, suspects):
        cell = cells[i]
        where = f"--data: {_place(path, lines, i)}, column {name!r}"
        if cell.strip() == "":
            raise ValueError(f"{where}: the value is missing (an empty cell)")
        try:
            number = float(cell)
        except ValueError:
            raise ValueError(f"{where}: {cell!r} is not a number; {hint}") from None
        if not np.isfinite(number):
            raise ValueError(f"{where}: {cell!r} is not a finite number (fill or drop the rows of missing values)")
    assert values is not None
    return values


def _targets(raw: np.ndarray, task: str, name: str, path: str, table: Table) -> tuple[np.ndarray, list[str] | None]:
    if task == "raw":  # as read (text): the caller maps them to a model's classes
        return raw.astype(str), None
    try:
        numbers = raw.astype(np.float64)
    except ValueError:
        numbers = None
    if numbers is not None and not np.all(np.isfinite(numbers)):  # NaN would become a class, or a value
        if raw.ndim != 1:
            raise ValueError(f"--data: y in {path!r} holds values that are not finite numbers")
        _numbers([str(v) for v in raw], name, path, table.lines, "")
    if task == "regress":
        if numbers is None:
            raise ValueError(f"--task regress: the target {name!r} is not numeric")
        return numbers, None
    whole = numbers is not None and bool(np.all(numbers == np.round(numbers)))
    if task == "auto" and numbers is not None and not whole:
        return numbers, None
    keys = numbers if whole and numbers is not None else raw
    classes, codes = np.unique(keys, return_inverse=True)
    if task == "auto" and numbers is not None and len(classes) > MAX_AUTO_CLASSES:
        table.notes.append(
            f"--task auto: the target {name!r} holds {len(classes)} distinct whole numbers (more than "
            f"{MAX_AUTO_CLASSES}): trained as values, a regression; --task classify makes them classes"
        )
        return numbers, None
    names = [str(int(c)) if whole else str(c) for c in classes]
    return codes.astype(np.int64), names
