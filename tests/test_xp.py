"""The backend module: specs, availability, moving arrays, capabilities."""

import numpy as np
import pytest

import portnn as pn
from portnn.testing import assert_on_backend


def test_available_backends_lists_the_cpu_ones():
    found = pn.available_backends()
    assert found[0] == "numpy"
    assert "array_api_strict" in found


def test_unknown_spec_is_named_with_the_available_ones():
    with pytest.raises(ValueError, match=r"unknown spec 'tensorflow'.*available here: \['numpy'"):
        pn.get_backend("tensorflow")


def test_unavailable_device_is_a_clear_error():
    with pytest.raises(ValueError, match=r"'array_api_strict:device9' cannot be used here.*available"):
        pn.get_backend("array_api_strict:device9")


def test_spec_must_be_a_string():
    with pytest.raises(TypeError, match="backend: expected a spec string"):
        pn.get_backend(3)


@pytest.mark.parametrize("spec", ["cupy", "cupy:0"])
def test_cupy_counts_only_where_a_device_answers(spec):
    if "cupy:0" in pn.available_backends():
        assert pn.get_backend(spec).spec == "cupy:0"
    else:
        with pytest.raises(ValueError, match="cannot be used here"):
            pn.get_backend(spec)


def test_round_trip_through_every_backend(bk):
    host = np.arange(6, dtype=np.float32).reshape(2, 3)
    moved = bk.asarray(host)
    assert_on_backend(moved, bk)
    back = pn.to_numpy(moved)
    assert isinstance(back, np.ndarray)
    np.testing.assert_array_equal(back, host)


def test_moving_between_backends(bk):
    for other in pn.available_backends():
        source = pn.get_backend(other).asarray(np.ones((2, 2), dtype=np.float32))
        moved = bk.asarray(source)
        assert_on_backend(moved, bk)
        np.testing.assert_array_equal(pn.to_numpy(moved), np.ones((2, 2)))


def test_to_numpy_is_a_copy():
    a = np.zeros(3)
    pn.to_numpy(a)[0] = 1.0
    assert a[0] == 0.0


def test_capabilities(bk):
    assert bk.writeable == (bk.library != "jax")
    if bk.spec == "array_api_strict:no_float64":
        assert not bk.float64
        with pytest.raises(ValueError, match="does not support float64"):
            bk.dtype("float64")
    assert bk.dtype("float32") == bk.xp.float32


def test_unknown_dtype():
    with pytest.raises(ValueError, match=r"dtype: expected one of \('float32', 'float64'\), got 'float16'"):
        pn.Sequential(pn.Dense(2, 1), dtype="float16")


def test_backend_of_and_namespace_of(bk):
    from portnn._xp import backend_of, namespace_of

    arr = bk.asarray(np.zeros(2, dtype=np.float32))
    assert backend_of(arr) == bk
    assert namespace_of(arr) is not None


def test_pytest_params_skip_with_reasons(monkeypatch):
    monkeypatch.setenv("PORTNN_BACKENDS", "numpy")
    reason = pn.testing.backend_skip_reason("array_api_strict")
    assert reason and "PORTNN_BACKENDS" in reason
    assert pn.testing.backend_skip_reason("numpy") is None


def test_torch_fast_namespace_matches_array_api_compat(rng):
    if pn.testing.backend_skip_reason("torch:cpu"):
        pytest.skip(pn.testing.backend_skip_reason("torch:cpu"))
    import array_api_compat.torch as compat

    fast = pn.get_backend("torch:cpu").xp
    assert fast is not compat
    x = compat.asarray(rng.normal(size=(5, 4)))
    z = compat.asarray(rng.normal(size=(5, 4)))
    for name, args in [("maximum", (x, 0.25)), ("minimum", (x, -0.5)), ("maximum", (x, z)), ("minimum", (x, z))]:
        np.testing.assert_array_equal(
            pn.to_numpy(getattr(fast, name)(*args)), pn.to_numpy(getattr(compat, name)(*args))
        )
    for axis in (0, -1):  # the same sums, perhaps in another order: equal to the last bit or so
        np.testing.assert_allclose(
            pn.to_numpy(fast.vecdot(x, z, axis=axis)), pn.to_numpy(compat.vecdot(x, z, axis=axis)), rtol=1e-14
        )


@pytest.mark.parametrize("shape", [(4, 1), (3, 5), (7,)])
def test_sum_of_squares_fast_and_generic_paths_agree(bk, rng, shape):
    from portnn._xp import sum_of_squares

    dtype = "float64" if bk.float64 else "float32"
    host = rng.normal(size=shape)
    x = bk.asarray(host, bk.dtype(dtype))
    expected = float(np.sum(host.astype(dtype).astype(np.float64) ** 2))
    rtol = 1e-12 if dtype == "float64" else 1e-5
    for fast in (True, False):
        value = sum_of_squares(bk.xp, x, fast=fast)
        assert_on_backend(bk.xp.asarray(value), bk)
        np.testing.assert_allclose(float(value), expected, rtol=rtol, err_msg=f"fast={fast}")


def test_sub_scaled_in_place_and_rebinding_agree(bk, rng):
    dtype = bk.dtype("float64" if bk.float64 else "float32")
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    for backend in (bk, bk.variant(writeable=False)):
        scale = backend.asarray(0.5, dtype)  # copies: sub_scaled overwrites both its arrays
        out = backend.sub_scaled(backend.asarray(a.copy(), dtype), backend.asarray(b.copy(), dtype), scale)
        assert_on_backend(out, bk)
        np.testing.assert_allclose(pn.to_numpy(out), a - 0.5 * b, rtol=1e-6, err_msg=backend.spec)


def test_sum0_into_fast_and_generic_paths_agree(bk, rng):
    dtype = bk.dtype("float64" if bk.float64 else "float32")
    generic = bk.variant(fast_paths=False)
    for rows, cols in [(5, 3), (1, 4), (130, 7), (130, 8), (0, 8), (5, 3)]:  # a repeated shape reuses cached state
        a = bk.asarray(rng.normal(size=(rows, cols)), dtype)
        fast = bk.sum0_into(a, bk.xp.zeros(cols, dtype=dtype, device=bk.device))
        assert_on_backend(fast, bk)
        slow = generic.sum0_into(a, bk.xp.zeros(cols, dtype=dtype, device=bk.device))
        np.testing.assert_allclose(pn.to_numpy(fast), pn.to_numpy(slow), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(pn.to_numpy(fast), pn.to_numpy(a).sum(axis=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shapes", [((4, 2), (2, 3)), ((128, 30), (30, 1)), ((1, 5), (5, 7)), ((0, 3), (3, 2))])
def test_products_fast_and_generic_paths_agree(bk, rng, shapes):
    """Dense's products (NumPy takes np.dot for them), transposed operands and ``out=`` included."""
    dtype = bk.dtype("float64" if bk.float64 else "float32")
    generic = bk.variant(fast_paths=False)
    a, b = (bk.asarray(rng.normal(size=shape), dtype) for shape in shapes)
    expected = pn.to_numpy(a).astype(np.float64) @ pn.to_numpy(b).astype(np.float64)
    for backend in (bk, generic):
        product = backend.matmul(a, b)
        assert_on_backend(product, bk)
        np.testing.assert_allclose(pn.to_numpy(product), expected, rtol=1e-5, atol=1e-6, err_msg=backend.spec)
        out = bk.xp.zeros((shapes[0][1], shapes[1][1]), dtype=dtype, device=bk.device)
        strided = bk.xp.zeros((shapes[1][1], shapes[0][1]), dtype=dtype, device=bk.device).T  # np.dot refuses it
        for target in (out, strided):
            into = backend.matmul_into(a.T, bk.matmul(a, b), target)
            assert_on_backend(into, bk)
            np.testing.assert_allclose(pn.to_numpy(into), pn.to_numpy(a).T @ expected, rtol=1e-5, atol=1e-5)


def test_backends_pickle_and_deep_copy_to_the_cached_one(bk):
    import copy
    import pickle

    assert pickle.loads(pickle.dumps(bk)) is bk
    assert copy.deepcopy(bk) is bk
    assert copy.deepcopy([bk, bk]) == [bk, bk]
    assert pickle.loads(pickle.dumps(bk.variant(fast_paths=False))) is bk  # a variant comes back as its spec


def test_unpickling_where_the_backend_is_missing_is_a_clear_error():
    import pickle

    class Gone:  # pickles as a backend that this machine lacks
        def __reduce__(self):
            return (pn.get_backend, ("array_api_strict:device9",))

    with pytest.raises(ValueError, match="'array_api_strict:device9' cannot be used here"):
        pickle.loads(pickle.dumps(Gone()))


def test_generic_variant_uses_no_fast_path(bk):
    from portnn._xp import Backend
    from portnn._xp.base import FAST_PATHS

    generic = bk.variant(fast_paths=False)
    assert generic == bk and generic.writeable == bk.writeable and generic.float64 == bk.float64
    assert isinstance(generic, type(bk)) and not generic.fast_paths and not generic.compiles
    for name in FAST_PATHS:
        assert getattr(type(generic), name) is getattr(Backend, name), name
    assert generic.compile(lambda x: x) is None
    assert bk.variant(writeable=False).fast_paths and not bk.variant(writeable=False).writeable


# Shapes that CuPy's vector kernels take (whole vectors, aligned) and ones they leave to the
# elementwise path: odd widths, and views starting one element in (off the 16-byte boundary).
UPDATE_SHAPES = [(4, 8), (3, 5), (2, 2), (1, 1)]


@pytest.mark.parametrize("offset", [0, 1])
@pytest.mark.parametrize("shape", UPDATE_SHAPES)
def test_elementwise_update_fast_paths_agree_with_generic(bk, rng, shape, offset):
    dtype = bk.dtype("float64" if bk.float64 else "float32")
    generic = bk.variant(fast_paths=False)
    y_host, dy_host, bias_host = (rng.normal(size=(shape[0], shape[1] + offset)) for _ in range(3))
    y_host[0, -1] = 0.0  # ReLU's boundary

    def place(host):  # a fresh array each time (the updates write in place), maybe a view into it
        full = bk.asarray(host, dtype)
        return full[:, offset:] if offset else full

    cases = {
        "relu_grad": lambda b: b.relu_grad(place(y_host), place(dy_host)),
        "add_bias": lambda b: b.add_bias(place(dy_host), place(bias_host)[0, ...]),
        "maximum": lambda b: b.maximum(place(dy_host), 0.0, in_place=True),
        "sub_scaled": lambda b: b.sub_scaled(place(dy_host), place(y_host), bk.asarray(0.25, dtype)),
    }
    for name, op in cases.items():
        fast, slow = op(bk), op(generic)
        assert_on_backend(fast, bk)
        np.testing.assert_allclose(pn.to_numpy(fast), pn.to_numpy(slow), rtol=1e-6, atol=1e-7, err_msg=name)


def test_sigmoid_kernels_agree_with_the_tanh_form(bk, rng):
    """Where the library has its own sigmoid (torch), the layer takes it; both ways must agree,
    saturated inputs included."""
    dtype = bk.dtype("float64" if bk.float64 else "float32")
    X_host = np.concatenate([rng.normal(size=(6, 3)) * 4, [[-60.0, 0.0, 60.0]]])
    dY_host = rng.normal(size=X_host.shape)
    results = []
    for backend in (bk, bk.variant(fast_paths=False)):
        layer = pn.Sigmoid()
        layer.bind(backend, dtype)
        Y, backprop = layer.forward(backend.asarray(X_host, dtype), True)
        results.append((pn.to_numpy(Y), pn.to_numpy(backprop(backend.asarray(dY_host, dtype)))))
    (fast_y, fast_g), (slow_y, slow_g) = results
    tol = 1e-12 if bk.float64 else 1e-6
    np.testing.assert_allclose(fast_y, slow_y, rtol=tol, atol=tol)
    np.testing.assert_allclose(fast_g, slow_g, rtol=tol, atol=tol)
    np.testing.assert_allclose(slow_y, 1 / (1 + np.exp(-X_host)), rtol=tol, atol=tol)
