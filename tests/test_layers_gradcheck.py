"""Every layer and activation: finite-difference gradients in float64 on every backend with
float64, and forward values against a float64 NumPy reference in float32 and float64."""

import numpy as np
import pytest
from reference import ACTIVATIONS

import portnn as pn
from portnn.testing import assert_close, assert_on_backend, numeric_grad

KINKED = {"ReLU", "LeakyReLU", "ELU"}  # keep inputs away from 0, where the derivative jumps


def make_input(rng, name, shape=(4, 5)):
    x = rng.normal(0.0, 1.5, shape)
    if name in KINKED:
        x = np.sign(x) * (0.2 + np.abs(x))
    return x


def layer_grads(net, X, R):
    """Analytic gradients of sum(net(X) * R) w.r.t. X and every parameter, on the host."""
    bk, dtype = net.backend, net.dtype
    Y, backprops = net.forward(bk.asarray(X, dtype), True)
    assert_on_backend(Y, bk)
    grad = bk.asarray(R, dtype)
    for backprop in reversed(backprops):
        grad = backprop(grad)
    params = {k: pn.to_numpy(v) for k, v in net.layers[0].grads.items()}
    return pn.to_numpy(grad), params


def check_gradients(net, X, R):
    bk, dtype, layer = net.backend, net.dtype, net.layers[0]

    def value(x=X):
        return float(np.sum(pn.to_numpy(net.forward(bk.asarray(x, dtype), True)[0]) * R))

    dX, dparams = layer_grads(net, X, R)
    np.testing.assert_allclose(dX, numeric_grad(value, X), rtol=1e-6, atol=1e-8, err_msg="input gradient")
    for name, p in list(layer.params.items()):
        host = pn.to_numpy(p)

        def value_of_param(q, name=name):
            layer.params[name] = bk.asarray(q, dtype)
            return value()

        numeric = numeric_grad(value_of_param, host)
        layer.params[name] = bk.asarray(host, dtype)
        np.testing.assert_allclose(dparams[name], numeric, rtol=1e-6, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradient_float64(bk64, rng, name):
    net = pn.Sequential(getattr(pn, name)(), backend=bk64, dtype="float64")
    X = make_input(rng, name)
    check_gradients(net, X, rng.normal(size=X.shape))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_forward_matches_numpy(bk, rng, name, dtype):
    if dtype == "float64" and not bk.float64:
        pytest.skip(f"{bk.spec} has no float64")
    X = make_input(rng, name)
    out = pn.Sequential(getattr(pn, name)(), backend=bk, dtype=dtype)(X)
    assert_on_backend(out, bk)
    X_seen = X.astype(dtype).astype(np.float64)  # the reference sees the same rounded inputs
    assert_close(out, ACTIVATIONS[name](X_seen), dtype)


@pytest.mark.parametrize("bias", [True, False])
def test_dense_gradient_float64(bk64, rng, bias):
    net = pn.Sequential(pn.Dense(5, 3, bias=bias), backend=bk64, dtype="float64", seed=3)
    if bias:  # a zero bias would hide a gradient wired to the wrong place
        net.layers[0].params["bias"] = bk64.asarray(rng.normal(size=3), net.dtype)
    check_gradients(net, rng.normal(size=(4, 5)), rng.normal(size=(4, 3)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dense_forward_matches_numpy(bk, rng, dtype):
    if dtype == "float64" and not bk.float64:
        pytest.skip(f"{bk.spec} has no float64")
    net = pn.Sequential(pn.Dense(5, 3), backend=bk, dtype=dtype, seed=3)
    W, b = rng.normal(size=(5, 3)), rng.normal(size=3)
    net.load_state_dict({"0.weight": W, "0.bias": b})
    X = rng.normal(size=(4, 5))
    r = lambda a: a.astype(dtype).astype(np.float64)  # noqa: E731
    assert_close(net(X), r(X) @ r(W) + r(b), dtype, scale=10)


def test_dropout_gradient_float64(bk64, rng):
    net = pn.Sequential(pn.Dropout(0.3), backend=bk64, dtype="float64")
    layer = net.layers[0]
    forward = layer.forward

    def seeded_forward(X, training):  # the same mask for every evaluation
        layer.rng = np.random.default_rng(7)
        return forward(X, training)

    layer.forward = seeded_forward
    check_gradients(net, rng.normal(size=(6, 4)), rng.normal(size=(6, 4)))


def test_dropout_mask_scale_and_inference(bk, rng):
    net = pn.Sequential(pn.Dropout(0.25), backend=bk, dtype="float32", seed=0)
    X = np.ones((400, 50))
    Y = pn.to_numpy(net.forward(bk.asarray(X, net.dtype), True)[0])
    values = np.unique(Y)
    np.testing.assert_allclose(values, [0.0, 1 / 0.75], rtol=1e-6)
    assert 0.2 < np.mean(Y == 0) < 0.3
    assert_close(net(X), X, "float32")  # inference passes through


def test_dropout_masks_equal_across_backends(bk):
    X = np.ones((8, 6))
    masks = []
    for backend in ("numpy", bk):
        net = pn.Sequential(pn.Dropout(0.5), backend=backend, dtype="float32", seed=11)
        masks.append(pn.to_numpy(net.forward(net.backend.asarray(X, net.dtype), True)[0]))
    np.testing.assert_array_equal(masks[0], masks[1])
