"""Whether a memory-mapped file's rows are in memory already (Linux's ``mincore``): the reading
thread of a streamed fit then skips reading them ahead (:meth:`~portnn.train.sources.Rows.touch`),
a pass over every row that, with the file in the page cache, only takes a core from the steps."""

from __future__ import annotations

import ctypes
import mmap
import sys
from functools import cache
from typing import Any

import numpy as np

SAMPLE = 64  # pages asked about per chunk: a few microseconds each


@cache
def _mincore() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        mincore = ctypes.CDLL(None, use_errno=True).mincore
    except (OSError, AttributeError):
        return None
    mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
    mincore.restype = ctypes.c_int
    return mincore


def rows_resident(array: np.ndarray, rows: np.ndarray) -> bool:
    """Whether the page of the first value of each of a sample of ``rows`` of ``array`` (a NumPy
    array whose rows are ``strides[0]`` apart) is in memory; False where this cannot be told.

    >>> rows_resident(np.zeros((1000, 8)), np.arange(0, 1000, 7)) in (True, False)
    True
    """
    mincore = _mincore()
    if mincore is None or rows.shape[0] == 0:
        return False
    sample = rows[:: max(1, rows.shape[0] // SAMPLE)]
    base = int(array.__array_interface__["data"][0])
    pages = np.unique((base + sample.astype(np.int64) * array.strides[0]) // mmap.PAGESIZE)
    answer = np.zeros(1, np.uint8)
    for page in pages.tolist():
        if mincore(page * mmap.PAGESIZE, 1, answer.ctypes.data) != 0 or not answer[0] & 1:
            return False
    return True
