"""The backend helpers the update rules are written with: ``mul_into`` (a fast path where the
library takes ``out=``) against its generic form, ``sub_scaled`` with a scratch buffer leaving its
input alone, and ``idiv``, on every backend, in place and rebinding."""

import numpy as np
import pytest

import portnn as pn
from portnn.testing import assert_on_backend


def _variants(bk):
    return [bk, bk.variant(fast_paths=False), bk.variant(writeable=False)]


@pytest.mark.parametrize("aliased", [False, True])
def test_mul_into_is_the_product_and_leaves_its_inputs(bk, rng, aliased):
    dtype = bk.dtype("float64" if bk.float64 else "float32")
    a_host, b_host = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    results = []
    for backend in _variants(bk):
        a, b = backend.asarray(a_host.copy(), dtype), backend.asarray(b_host.copy(), dtype)
        out = a if aliased else backend.xp.zeros_like(a)
        result = backend.mul_into(out, a, b)
        assert_on_backend(result, bk)
        if backend.writeable:
            assert result is out
        if not aliased:
            np.testing.assert_array_equal(pn.to_numpy(a), a_host.astype(pn.to_numpy(a).dtype))
        np.testing.assert_array_equal(pn.to_numpy(b), b_host.astype(pn.to_numpy(b).dtype))
        results.append(pn.to_numpy(result))
    expected = (a_host.astype(results[0].dtype) * b_host.astype(results[0].dtype)).astype(results[0].dtype)
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_sub_scaled_with_scratch_leaves_b_alone(bk, rng):
    dtype = bk.dtype("float64" if bk.float64 else "float32")
    a_host, b_host = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    results = []
    for backend in _variants(bk):
        a, b = backend.asarray(a_host.copy(), dtype), backend.asarray(b_host.copy(), dtype)
        scratch = backend.xp.zeros_like(a)
        result = backend.sub_scaled(a, b, backend.asarray(0.25, dtype), scratch)
        np.testing.assert_array_equal(pn.to_numpy(b), b_host.astype(pn.to_numpy(b).dtype))
        if backend.writeable:
            assert result is a
        results.append(pn.to_numpy(result))
    for result in results:
        np.testing.assert_allclose(result, a_host - 0.25 * b_host, rtol=1e-6)


def test_idiv_divides_in_place_where_writeable(bk, rng):
    dtype = bk.dtype("float64" if bk.float64 else "float32")
    a_host, b_host = rng.normal(size=(2, 3)), rng.uniform(1.0, 2.0, size=(2, 3))
    for backend in _variants(bk):
        a, b = backend.asarray(a_host.copy(), dtype), backend.asarray(b_host.copy(), dtype)
        result = backend.idiv(a, b)
        assert (result is a) == backend.writeable
        host = pn.to_numpy(result)
        np.testing.assert_array_equal(host, a_host.astype(host.dtype) / b_host.astype(host.dtype))
