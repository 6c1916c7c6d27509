"""Data larger than memory: arrays on disk (NumPy memmaps, h5py or zarr datasets) read a chunk of
rows at a time, never whole.

Which path an input takes (:func:`is_streamed`): a ``numpy.memmap`` (what
``np.load(path, mmap_mode="r")`` returns), or any object that is not an array of a backend
library, a list or a tuple, but has ``shape``, ``dtype`` and row indexing, is *streamed*: read
``chunk_bytes`` of rows at a time. Everything else (NumPy arrays, lists, torch/JAX/CuPy arrays)
is in memory and goes to the device whole, as before. ``np.asarray(memmap)`` is an ordinary array
and so takes the in-memory path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from .._xp import is_array, to_numpy
from .pagecache import rows_resident

Array = Any
T = TypeVar("T")
R = TypeVar("R")

CHUNK_BYTES = 2**20  # the in-memory path's gathers: a chunk stays in cache
STREAM_BYTES = 64 * 2**20  # the default budget of a streamed chunk


def is_streamed(x: Any) -> bool:
    """Whether ``x`` is read a chunk at a time (see the module's rule).

    >>> import numpy as np
    >>> is_streamed(np.zeros((3, 2))), is_streamed([[1.0, 2.0]])
    (False, False)
    """
    if isinstance(x, np.memmap):
        return True
    if isinstance(x, (np.ndarray, list, tuple, str, bytes, dict)) or is_array(x):
        return False
    if hasattr(x, "iloc"):  # pandas: `x[rows]` looks rows up by index label, not position
        return False
    return all(hasattr(x, name) for name in ("shape", "dtype", "__getitem__"))


def is_batches(X: Any, y: Any) -> bool:
    """Whether ``X`` with ``y`` left out is an iterable of ``(X, y[, sample_weight])`` batches
    (a list of them, a PyTorch ``DataLoader``, a generator): anything iterable without ``shape``."""
    return y is None and not isinstance(X, (str, bytes, dict)) and not hasattr(X, "shape") and hasattr(X, "__iter__")


class Batches:
    """An iterable of ``(X, y)`` or ``(X, y, sample_weight)`` batches, each one step: all of it
    each epoch, or ``steps_per_epoch`` batches, one iterator going on across epochs (and starting
    over when it ends, where the iterable can).

    >>> batches = Batches([(1, 2), (3, 4, 5)], steps_per_epoch=3)
    >>> list(batches.epoch())
    [(1, 2, None), (3, 4, 5), (1, 2, None)]
    """

    def __init__(self, data: Any, steps_per_epoch: int | None = None, name: str = "X") -> None:
        self.data, self.steps, self.name = data, steps_per_epoch, name
        self.one_shot = isinstance(data, Iterator)  # a generator: iter() does not start it over
        self._it: Iterator | None = None

    def check_epochs(self, epochs: int) -> None:
        """``ValueError`` before any step when a one-shot iterator is asked for several epochs."""
        if self.one_shot and self.steps is None and epochs > 1:
            raise ValueError(
                f"{self.name}: a one-shot iterator (a generator) gives one epoch, but epochs={epochs}; pass a "
                "re-iterable (a list, a DataLoader, an object whose __iter__ starts over) or steps_per_epoch"
            )

    def epoch(self) -> Iterator[tuple[Any, Any, Any]]:
        """One epoch's batches as ``(X, y, sample_weight or None)``."""
        if self.steps is None:
            yield from (self._unpack(batch) for batch in self.data)
            return
        for _ in range(self.steps):
            yield self._unpack(self._next())

    def _next(self) -> Any:
        for fresh in (False, True):
            if self._it is None or fresh:
                if fresh and self.one_shot:
                    break
                self._it = iter(self.data)
            try:
                return next(self._it)
            except StopIteration:
                continue
        raise ValueError(f"{self.name}: the iterator ran out of batches before steps_per_epoch={self.steps} of them")

    def _unpack(self, batch: Any) -> tuple[Any, Any, Any]:
        if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
            raise TypeError(
                f"{self.name}: expected batches (X, y) or (X, y, sample_weight), got {type(batch).__name__}"
            )
        return batch[0], batch[1], batch[2] if len(batch) == 3 else None


def host_rows(x: Any) -> Any:
    """``x`` as something :class:`Rows` reads from: streamed inputs and NumPy arrays as they
    are, other arrays and lists as host NumPy arrays."""
    if is_streamed(x) or isinstance(x, np.ndarray):
        return x
    return to_numpy(x) if is_array(x) else np.asarray(x)


class Rows:
    """Rows ``start:stop`` of an array-like, read on the host a chunk at a time.

    >>> import numpy as np
    >>> rows = Rows(np.arange(10.0).reshape(5, 2), 1)
    >>> rows.read(np.array([0, 2])).tolist(), rows.read(None, 0, 1).tolist()
    ([[2.0, 3.0], [6.0, 7.0]], [[2.0, 3.0]])
    """

    def __init__(self, array: Any, start: int = 0, stop: int | None = None, budget: int = STREAM_BYTES) -> None:
        self.array, self.start, self.budget = array, start, budget  # budget: bytes read at once
        self.stop = int(array.shape[0]) if stop is None else stop
        self.n = self.stop - self.start
        self.shape = (self.n, *tuple(array.shape[1:]))
        self.dtype = array.dtype
        self._ring: list[np.ndarray | None] = [None, None]
        self._turn = 0

    def split(self, k: int) -> tuple[Rows, Rows]:
        """The first ``k`` rows and the rest."""
        return self.part(0, k), self.part(k, self.n)

    def part(self, a: int, b: int) -> Rows:
        """Rows ``a:b`` of these (nothing read)."""
        return Rows(self.array, self.start + a, self.start + b, self.budget)

    def read(self, rows: np.ndarray | None, a: int = 0, b: int = 0, reuse: bool = False) -> np.ndarray:
        """Rows ``a:b`` (``rows`` is None), or the given rows: ascending (for locality on disk;
        h5py requires it), except from a NumPy array whose pages were read ahead (:meth:`touch`):
        then in any order. Rows ``a:b`` of a NumPy array are a view of it. With ``reuse``, into one of two host buffers taken in turn: a read
        overwrites the rows read two reads before (see :func:`prefetched`), and memory already
        paged in is written instead of a fresh array (a 64 MB one is 16 000 page faults)."""
        index = slice(self.start + a, self.start + b) if rows is None else rows + self.start
        if not reuse:
            return np.asarray(self.array[index])
        out = self._buffer(b - a if rows is None else rows.shape[0])
        if isinstance(self.array, np.ndarray) and rows is not None:
            return np.take(self.array, rows + self.start, axis=0, out=out)  # a memmap: no temporary
        out[...] = self.array[index]
        return out

    def touch(self, rows: np.ndarray | None, a: int = 0, b: int = 0) -> None:
        """Read one value of each of rows ``a:b`` (or of ``rows``, in any order; skipped where a
        sample of their pages is in memory already) of a NumPy array (a memmap): the operating
        system reads their pages from disk in ascending order, ahead of a gather in another order
        (:meth:`read`) that then finds them in memory."""
        flat = self.array.reshape(self.array.shape[0], -1)
        page_rows = max(1, 4096 // max(1, flat.strides[0]))  # a row's first value on every page
        if rows is None:
            flat[self.start + a : self.start + b : page_rows, 0].sum()
        elif not rows_resident(flat, rows + self.start):
            flat[np.sort(rows) + self.start, 0].sum()  # ascending: the pages in the file's order

    def _buffer(self, n: int) -> np.ndarray:
        turn, self._turn = self._turn, 1 - self._turn
        buffer = self._ring[turn]
        if buffer is None or buffer.shape[0] < n:
            buffer = self._ring[turn] = np.empty((n, *self.shape[1:]), self.dtype)
        return buffer[:n]


def ascending(picked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct row indices ``picked`` in ascending order, and where each of ``picked`` lies
    among them: ``rows[where] == picked``.

    >>> rows, where = ascending(np.array([7, 2, 5]))
    >>> rows.tolist(), where.tolist()
    ([2, 5, 7], [2, 0, 1])
    """
    order = np.argsort(picked)
    where = np.empty_like(order)
    where[order] = np.arange(order.shape[0])
    return picked[order], where


def rows_of(X: Any, y: Any, x_name: str, y_name: str, budget: int = STREAM_BYTES) -> tuple[Rows, Rows]:
    """``X`` and ``y`` as :class:`Rows` read ``budget`` bytes at a time, checked for what can be
    checked before reading them."""
    Xr, yr = Rows(host_rows(X), budget=budget), Rows(host_rows(y), budget=budget)
    if len(Xr.shape) != 2:
        raise ValueError(f"{x_name}: expected a 2-D array (samples, features), got shape {Xr.shape}")
    if Xr.n == 0:
        raise ValueError(f"{x_name}: has zero rows (shape {Xr.shape})")
    if len(yr.shape) == 0 or yr.n != Xr.n:
        raise ValueError(f"{y_name}: expected {Xr.n} rows to match X, got shape {yr.shape}")
    return Xr, yr


def read_chunk(X: Rows, y: Rows, w: Any, rows: np.ndarray | None, a: int, b: int, reuse: bool = False) -> tuple:
    """Rows ``a:b`` (or ``rows``, ascending) of ``X``, ``y`` and the host weights ``w`` (or None),
    on the host; ``reuse``: see :meth:`Rows.read`."""
    wc = None if w is None else (w[a:b] if rows is None else w[rows])
    return X.read(rows, a, b, reuse), y.read(rows, a, b, reuse), wc


def row_values(X: Any, y: Any = None) -> int:
    """The values one row of ``X`` (and ``y``) holds: what a chunk's budget counts."""
    values = max(1, math.prod(X.shape[1:]))
    return values if y is None else values + max(1, math.prod(y.shape[1:]))


def chunks(
    batches: list[tuple[int, int]], values: int, budget: int = CHUNK_BYTES
) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """Consecutive batches grouped into chunks of about ``budget`` bytes (rows of ``values``
    values, counted as float64), at least one batch each: each chunk's row range and its batches'
    ranges within it.

    >>> chunks([(0, 2), (2, 4), (4, 5)], 1, 32)
    [(0, 4, [(0, 2), (2, 4)]), (4, 5, [(0, 1)])]
    """
    per_chunk = max(1, budget // (values * 8 * (batches[0][1] - batches[0][0])))
    grouped = []
    for i in range(0, len(batches), per_chunk):
        group = batches[i : i + per_chunk]
        start = group[0][0]
        grouped.append((start, group[-1][1], [(a - start, b - start) for a, b in group]))
    return grouped


def prefetched(read: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
    """``read(item)`` for each item in turn, the next one read by a background thread while the
    caller works on the current one (disk reads and copies release the GIL). The read of item
    ``i + 1`` starts when the caller asks for item ``i``: it is done with item ``i - 1`` by then,
    so two buffers taken in turn suffice (:meth:`Rows.read`)."""
    if len(items) == 1:
        yield read(items[0])
        return
    with ThreadPoolExecutor(1, thread_name_prefix="portnn-read") as pool:
        ahead = pool.submit(read, items[0])
        for i in range(len(items)):
            current = ahead.result()
            if i + 1 < len(items):
                ahead = pool.submit(read, items[i + 1])
            yield current
            del current
