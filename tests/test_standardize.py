"""Standardize (Keras's Normalization): statistics from adapt, held as buffers that are saved,
moved and never trained; gradients and values against float64 references on every backend."""

import numpy as np
import pytest

import portnn as pn
from portnn.testing import assert_close, numeric_grad


def data(rng, n=50):
    X = rng.normal([1.0, -200.0, 5e3], [0.5, 30.0, 1e3], size=(n, 3))
    X[:, 0] = np.round(X[:, 0], 1)
    return X


@pytest.mark.parametrize("batch_size", [None, 7])
def test_adapt_computes_each_feature_s_mean_and_variance_in_float64(bk, rng, batch_size):
    X = data(rng)
    dtype = "float64" if bk.float64 else "float32"
    layer = pn.Standardize(3)
    net = pn.Sequential(layer, pn.Dense(3, 1), backend=bk, dtype=dtype, seed=0)
    layer.adapt(X, batch_size=batch_size)  # bound: on the model's device
    tol = dict(rtol=1e-12) if bk.float64 else dict(rtol=1e-5)
    np.testing.assert_allclose(pn.to_numpy(net.state_dict()["0.mean"]), X.mean(axis=0), **tol)
    np.testing.assert_allclose(pn.to_numpy(net.state_dict()["0.var"]), X.var(axis=0), **tol)
    expected = (X - X.mean(axis=0)) / X.std(axis=0)  # the float64 NumPy reference
    assert_close(pn.to_numpy(layer.forward(bk.asarray(X, net.dtype), False)[0]), expected, dtype, scale=10)


def test_adapt_before_the_model_and_after_give_the_same_layer(rng):
    X = data(rng)
    before = pn.Sequential(pn.Standardize(3).adapt(X), dtype="float64")
    after = pn.Sequential(pn.Standardize(3), dtype="float64")
    after.layers[0].adapt(X)
    np.testing.assert_array_equal(pn.to_numpy(before(X)), pn.to_numpy(after(X)))


def test_float64_gradient_matches_central_differences(bk64, rng):
    X, R = data(rng, 6), rng.normal(size=(6, 3))
    net = pn.Sequential(pn.Standardize(3).adapt(data(rng)), backend=bk64, dtype="float64")
    backprops = net.forward(bk64.asarray(X, net.dtype), True)[1]
    dX = pn.to_numpy(backprops[0](bk64.asarray(R, net.dtype)))

    def value(x):
        return float(np.sum(pn.to_numpy(net(x)) * R))

    np.testing.assert_allclose(dX, numeric_grad(value, X), rtol=1e-6, atol=1e-8)
    assert net.parameters() == []  # nothing to train


def test_a_constant_feature_is_only_centred(rng):
    X = data(rng)
    X[:, 1] = 4.0
    net = pn.Sequential(pn.Standardize(3).adapt(X), dtype="float64")
    with np.errstate(all="raise"):
        out = pn.to_numpy(net(X + 1.0))
    np.testing.assert_allclose(out[:, 1], 1.0)


def test_the_statistics_are_saved_moved_and_never_trained(bk, rng, tmp_path):
    X = data(rng)
    y = X @ np.array([[1.0], [0.01], [1e-3]])
    dtype = "float64" if bk.float64 else "float32"
    net = pn.Sequential(pn.Standardize(3).adapt(X), pn.Dense(3, 1), dtype=dtype, seed=0)
    net.to(bk)
    stats = {k: pn.to_numpy(v) for k, v in net.state_dict().items() if k.startswith("0.")}
    history = net.fit(X, y, optimizer="adam", epochs=5, batch_size=16, progress=False)
    assert np.isfinite(history.history["loss"]).all()
    for key, value in stats.items():
        np.testing.assert_array_equal(pn.to_numpy(net.state_dict()[key]), value)
    net.save(tmp_path / "m.safetensors")
    loaded = pn.load(tmp_path / "m.safetensors", backend="numpy")
    assert isinstance(loaded.layers[0], pn.Standardize)
    assert_close(pn.to_numpy(loaded(X)), pn.to_numpy(net(X)), dtype)


def test_adapt_refuses_bad_data_naming_it(rng):
    layer = pn.Standardize(3)
    with pytest.raises(
        ValueError, match=r"X: expected a 2-D array of 3 features and at least one row, got shape \(5, 2\)"
    ):
        layer.adapt(np.ones((5, 2)))
    with pytest.raises(ValueError, match="X: contains NaN; first offending row is 4"):
        layer.adapt(np.where(np.arange(18).reshape(6, 3) == 13, np.nan, 1.0), batch_size=2)
    with pytest.raises(TypeError, match="X: expected numbers"):
        layer.adapt([["a", "b", "c"]])
    with pytest.raises(ValueError, match="n: expected a positive int"):
        pn.Standardize(0)
    with pytest.raises(ValueError, match="Standardize: expected 3 input features, the layer before gives 2"):
        pn.Sequential(pn.Dense(4, 2), pn.Standardize(3))
