"""Numerical extremes: no NumPy warning under np.errstate(all="raise") and no NaN for finite
inputs, in float32 and float64; property-based checks against a float64 NumPy reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from reference import ACTIVATIONS, LOSSES

import portnn as pn

DTYPES = ["float32", "float64"]
# The NumPy-computing backends: the ones np.errstate governs.
RAISING = ["numpy", "array_api_strict"]


def run(spec, dtype, fn, underflow="raise"):
    """``fn(backend, dtype)`` with NumPy raising on any floating-point error; returns it on the host.

    The property tests pass ``underflow="ignore"``: an input like 1e-30 in float32 must be allowed
    to underflow gradually to a subnormal or zero (NumPy's default), which is no loss of accuracy
    that matters and which no implementation of x**3 or exp avoids.
    """
    bk = pn.get_backend(spec)
    with np.errstate(all="raise", under=underflow):
        out = pn.to_numpy(fn(bk, bk.dtype(dtype)))
    assert np.all(np.isfinite(out)), out
    return out


def activation(spec, dtype, name, x, underflow="raise"):
    return run(
        spec,
        dtype,
        lambda bk, d: pn.Sequential(getattr(pn, name)(), backend=bk, dtype=dtype).forward(
            bk.asarray(np.asarray(x, dtype=float), d), False
        )[0],
        underflow,
    )


def activation_grad(spec, dtype, name, x, underflow="raise"):
    def fn(bk, d):
        X = bk.asarray(np.asarray(x, dtype=float), d)
        Y, backprops = pn.Sequential(getattr(pn, name)(), backend=bk, dtype=dtype).forward(X, True)
        return backprops[0](bk.xp.ones_like(Y))

    return run(spec, dtype, fn, underflow)


@pytest.mark.parametrize("spec", RAISING)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_at_plus_minus_1000(spec, dtype, name):
    x = [[-1000.0, -100.0, -1.0, 0.0, 1.0, 100.0, 1000.0]]
    y = activation(spec, dtype, name, x)
    activation_grad(spec, dtype, name, x)
    if name == "Sigmoid":
        assert 0 <= y[0, 0] < 1e-30 and y[0, -1] == 1.0
    if name == "Softplus":
        assert y[0, -1] == 1000.0 and 0 <= y[0, 0] < 1e-30


@pytest.mark.parametrize("spec", RAISING)
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_of_1000_and_0(spec, dtype):
    y = activation(spec, dtype, "Softmax", [[1000.0, 0.0]])
    assert y[0, 0] == 1.0 and 0 <= y[0, 1] < 1e-30


def loss_value_and_grad(spec, dtype, loss, pred, target):
    def fn(bk, d):
        p, t = bk.asarray(np.asarray(pred, dtype=float), d), bk.asarray(np.asarray(target, dtype=float), d)
        value, grad = loss._checked_forward(p, t)
        return bk.xp.concat([bk.xp.reshape(value, (1,)), bk.xp.reshape(grad, (-1,))])

    return run(spec, dtype, fn)


@pytest.mark.parametrize("spec", RAISING)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("loss", "pred", "target"),
    [
        (pn.CrossEntropy(), [[100.0, -100.0], [-100.0, 100.0]], [[0.0, 1.0], [0.0, 1.0]]),
        (pn.BinaryCrossEntropy(), [[0.0], [1.0], [0.0], [1.0]], [[0.0], [1.0], [1.0], [0.0]]),
        (pn.BinaryCrossEntropy(from_logits=True), [[1000.0], [-1000.0]], [[0.0], [1.0]]),
        (pn.KLDivergence(), [[0.5, 0.5], [1.0, 0.0]], [[0.0, 1.0], [1.0, 0.0]]),
        (pn.KLDivergence(), [[0.0, 1.0]], [[1.0, 0.0]]),
        (pn.Exponential(), [[1000.0], [-1000.0], [1e6]], [[0.0], [0.0], [1.0]]),
        (pn.MSE(), [[1e15]], [[-1e15]]),
    ],
    ids=[
        "ce-logits-100",
        "bce-exact-0-1",
        "bce-logits-1000",
        "kl-zero-targets",
        "kl-zero-pred",
        "exp-large-margins",
        "mse-large",
    ],
)
def test_losses_at_extremes(spec, dtype, loss, pred, target):
    if dtype == "float32" and isinstance(loss, pn.MSE):
        pytest.skip("(2e15)^2 overflows float32 by definition")
    loss_value_and_grad(spec, dtype, loss, pred, target)


def test_cross_entropy_from_logits_is_exact_where_it_matters():
    value = float(pn.CrossEntropy()(np.array([[100.0, -100.0]]), np.array([[0.0, 1.0]])))
    assert value == 200.0


finite = st.floats(-50, 50, allow_nan=False, width=64)


@settings(max_examples=60, deadline=None)
@given(
    x=arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 5)), elements=finite),
    name=st.sampled_from(sorted(ACTIVATIONS)),
)
def test_activations_match_reference_property(x, name):
    got = activation("numpy", "float64", name, x, underflow="ignore")
    np.testing.assert_allclose(got, ACTIVATIONS[name](x), rtol=1e-9, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    x=arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 5)), elements=st.floats(-1e4, 1e4, width=64)),
    name=st.sampled_from(sorted(ACTIVATIONS)),
)
def test_activations_finite_for_any_finite_input_float32(x, name):
    activation("array_api_strict", "float32", name, x, underflow="ignore")
    activation_grad("array_api_strict", "float32", name, x, underflow="ignore")


@settings(max_examples=60, deadline=None)
@given(
    z=arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(2, 4)), elements=st.floats(-30, 30, width=64)),
    seed=st.integers(0, 2**16),
)
def test_class_losses_match_reference_property(z, seed):
    rng = np.random.default_rng(seed)
    n, k = z.shape
    target = rng.dirichlet(np.ones(k), n)
    probs = np.exp(z - z.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    probs = np.clip(probs, 1e-12, 1)
    got_ce = float(pn.CrossEntropy()(z, target))
    np.testing.assert_allclose(got_ce, LOSSES["cross_entropy"](z, target), rtol=1e-9, atol=1e-12)
    got_kl = float(pn.KLDivergence()(probs, target))
    np.testing.assert_allclose(got_kl, LOSSES["kl_div"](probs, target), rtol=1e-9, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    f=arrays(np.float64, st.tuples(st.integers(1, 6), st.just(1)), elements=st.floats(-20, 20, width=64)),
    seed=st.integers(0, 2**16),
)
def test_binary_losses_match_reference_property(f, seed):
    y = np.random.default_rng(seed).integers(0, 2, f.shape).astype(float)
    np.testing.assert_allclose(
        float(pn.BinaryCrossEntropy(from_logits=True)(f, y)), LOSSES["bce_logits"](f, y), rtol=1e-8, atol=1e-12
    )
    np.testing.assert_allclose(float(pn.Exponential()(f, y)), LOSSES["exponential"](f, y), rtol=1e-12)
    p = 1 / (1 + np.exp(-f / 4))
    np.testing.assert_allclose(float(pn.BinaryCrossEntropy()(p, y)), LOSSES["bce"](p, y), rtol=1e-9)
    np.testing.assert_allclose(float(pn.MSE()(f, y)), LOSSES["mse"](f, y), rtol=1e-12)
