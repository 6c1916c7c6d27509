"""``Backend.serial()``: a loop of small operations on one thread, with the same numbers, and the
library's thread setting put back afterwards (also when the loop raises)."""

import numpy as np
import pytest

import portnn as pn


def test_serial_is_a_context_on_every_backend(bk):
    with bk.serial():
        a = bk.asarray([1.0, 2.0], bk.dtype("float32"))
    np.testing.assert_array_equal(pn.to_numpy(a), [1.0, 2.0])
    with bk.variant(fast_paths=False).serial():
        pass


@pytest.fixture
def two_threads():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # conftest runs tests on one thread: serial would have nothing to do
    yield torch
    torch.set_num_threads(before)


def test_torch_serial_runs_on_one_thread_and_puts_the_setting_back(two_threads):
    bk = pn.get_backend("torch:cpu")
    with bk.serial():
        assert two_threads.get_num_threads() == 1
    assert two_threads.get_num_threads() == 2
    with pytest.raises(KeyError), bk.serial():
        raise KeyError("x")
    assert two_threads.get_num_threads() == 2
    with bk.variant(fast_paths=False).serial():
        assert two_threads.get_num_threads() == 2


def test_torch_serial_changes_no_number(two_threads, rng):
    """A Dense layer's products and Adam's and the losses' exp, log and sqrt, large enough for torch
    to split them over threads, on one thread and on two: the same bits."""
    bk = pn.get_backend("torch:cpu")
    f64 = bk.dtype("float64")
    a, b, c = (bk.asarray(rng.normal(size=shape), f64) for shape in [(200, 64), (64, 100), (600, 1000)])

    def compute():
        out = bk.xp.zeros((64, 100), dtype=f64)
        y = bk.matmul(a, b)
        return [y, bk.matmul_into(a.T, y, out), bk.matmul(c, c.T), bk.xp.exp(c), bk.xp.log(bk.xp.abs(c)), c**0.5]

    two = compute()
    with bk.serial():
        one = compute()
    for x, z in zip(two, one):
        np.testing.assert_array_equal(pn.to_numpy(x), pn.to_numpy(z))
