"""The layer contract: every registered layer — portnn's and the README's user layer — goes
through the same checks on every backend, built from its ``example()``:

- float64 gradients of the input and of every parameter against central differences;
- the forward pass against the same layer on NumPy in float64;
- the output and the gradients are arrays of the backend's namespace on its device;
- a model holding the layer saves and loads to the same outputs.

A new layer is one class: subclassing ``pn.Layer`` registers it and these tests pick it up.
"""

import numpy as np
import pytest
from readme_blocks import python_block

import portnn as pn
from portnn.nn.layers import LAYERS
from portnn.testing import assert_close, assert_on_backend, numeric_grad

exec(compile(python_block("## Write your own layer").split("\nX, y =")[0], "README.md", "exec"), {})
NAMES = sorted(LAYERS)


def build(name, spec, dtype):
    layer = LAYERS[name].example()
    net = pn.Sequential(layer, backend=spec, dtype=dtype, seed=0)
    n_features = getattr(layer, "n_in", None) or getattr(layer, "n", None) or 4
    X = np.random.default_rng(1).normal(size=(5, n_features))
    return net, layer, X


def run(layer, bk, X, R=None, training=True):
    """Output (and, with R, the gradients of sum(Y * R)) with a fixed random state."""
    if hasattr(layer, "rng"):
        layer.rng = np.random.default_rng(7)  # the same Dropout mask every evaluation
    Y, backprop = layer.forward(bk.asarray(X, layer.dtype), training)
    return Y if R is None else (Y, backprop(bk.asarray(R, layer.dtype)))


def test_every_layer_of_portnn_and_the_readme_is_registered():
    assert {"Dense", "Dropout", "ReLU", "Softmax", "FeatureScale"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_float64_gradients_match_central_differences(bk64, name):
    layer, X = build(name, bk64, "float64")[1:]
    R = np.random.default_rng(2).normal(size=pn.to_numpy(run(layer, bk64, X)).shape)
    Y, dX = run(layer, bk64, X, R)
    assert_on_backend(Y, bk64) and assert_on_backend(dX, bk64)

    def objective(x):
        return float(np.sum(pn.to_numpy(run(layer, bk64, x)) * R))

    assert_close(dX, numeric_grad(objective, X), scale=1e3, err_msg=f"{name}: input gradient")
    for key, value in list(layer.params.items()):
        assert_on_backend(layer.grads[key], bk64)
        analytic = pn.to_numpy(layer.grads[key])

        def of_param(p, key=key):
            layer.params[key] = bk64.asarray(p, layer.dtype)
            return objective(X)

        numeric = numeric_grad(of_param, pn.to_numpy(value))
        layer.params[key] = value
        assert_close(analytic, numeric, scale=1e3, err_msg=f"{name}: gradient of {key}")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_matches_numpy_float64(bk, name, dtype):
    if dtype == "float64" and not bk.float64:
        pytest.skip(f"{bk.spec} has no float64")
    layer, X = build(name, bk, dtype)[1:]
    ref_net, ref_layer, _ = build(name, "numpy", "float64")
    for training in (False, True):
        Y = run(layer, bk, X, training=training)
        assert_on_backend(Y, bk)
        assert_close(Y, run(ref_layer, ref_net.backend, X, training=training), dtype, scale=10, err_msg=name)


@pytest.mark.parametrize("name", NAMES)
def test_save_and_load_round_trip(bk, name, tmp_path):
    net, layer, X = build(name, bk, "float32")
    path = tmp_path / f"{name}.safetensors"
    net.save(path)
    again = pn.load(path, backend=bk.spec)
    assert type(again.layers[0]) is type(layer) and again.layers[0].get_config() == layer.get_config()
    out = again(X)
    assert_on_backend(out, bk)
    np.testing.assert_array_equal(pn.to_numpy(out), pn.to_numpy(net(X)))
