"""The reading thread's page-cache question (portnn.train.pagecache): rows in memory are told as
such, so that a streamed fit over a file in the page cache skips reading it ahead."""

import sys

import numpy as np
import pytest

from portnn.train.pagecache import rows_resident

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mincore is asked on Linux only")


@linux
def test_rows_of_an_array_in_memory_are_resident():
    X = np.ones((4096, 16), np.float32)  # written: every page is in memory
    assert rows_resident(X, np.arange(0, 4096, 3))


@linux
def test_rows_of_a_file_just_written_are_resident(tmp_path):
    path = tmp_path / "X.npy"
    np.save(path, np.ones((4096, 64), np.float32))
    X = np.load(path, mmap_mode="r")
    assert rows_resident(X, np.arange(4096))


@linux
def test_a_mapped_page_never_read_is_not_resident():
    import mmap

    size = 64 * mmap.PAGESIZE
    region = mmap.mmap(-1, size)  # anonymous and never touched: no page is in memory yet
    X = np.frombuffer(region, np.uint8).reshape(64, mmap.PAGESIZE)
    assert not rows_resident(X, np.arange(64))
    X[:] = 1  # written: now in memory
    assert rows_resident(X, np.arange(64))
    del X
    region.close()


def test_no_rows_are_not_resident():
    assert not rows_resident(np.ones((4, 4)), np.arange(0))
