"""Sequential: the API contract, placement on backends, parity across backends."""

import numpy as np
import pytest

import portnn as pn
from portnn.testing import assert_close, assert_on_backend


def seed_net(backend="numpy", dtype="float32", seed=0):
    return pn.Sequential(
        pn.Dense(2, 3), pn.Sigmoid(), pn.Dense(3, 1), pn.Sigmoid(), backend=backend, dtype=dtype, seed=seed
    )


def test_state_dict_contract():
    sd = seed_net().state_dict()
    assert {k: tuple(v.shape) for k, v in sd.items()} == {
        "0.weight": (2, 3),
        "0.bias": (3,),
        "2.weight": (3, 1),
        "2.bias": (1,),
    }


def test_same_seed_same_initial_weights_on_every_backend(bk):
    dtype = "float64" if bk.float64 else "float32"
    reference = seed_net("numpy", dtype, seed=5).state_dict()
    state = seed_net(bk, dtype, seed=5).state_dict()
    for key, value in state.items():
        assert_on_backend(value, bk)
        np.testing.assert_array_equal(pn.to_numpy(value), reference[key])


def test_different_seeds_differ():
    a, b = seed_net(seed=1).state_dict(), seed_net(seed=2).state_dict()
    assert not np.array_equal(a["0.weight"], b["0.weight"])


def test_three_training_steps_agree_with_numpy(bk, rng):
    dtype = "float64" if bk.float64 else "float32"
    X, y = rng.normal(size=(16, 2)), rng.uniform(size=(16, 1))
    results = []
    for backend in ("numpy", bk):
        net = pn.Sequential(
            pn.Dense(2, 8), pn.Tanh(), pn.Dense(8, 1), pn.Sigmoid(), backend=backend, dtype=dtype, seed=3
        )
        history = net.fit(X, y, loss="mse", optimizer=pn.optim.Adam(lr=0.05), epochs=3, batch_size=4, progress=False)
        results.append((net.state_dict(), history.history["loss"]))
    for key, value in results[1][0].items():
        assert_on_backend(value, bk)
        assert_close(value, results[0][0][key], dtype, scale=100, err_msg=key)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-4 if dtype == "float32" else 1e-10)


def test_prediction_lives_on_the_model_backend(bk, rng):
    net = seed_net(bk)
    out = net(rng.normal(size=(5, 2)))
    assert_on_backend(out, bk)
    assert out.dtype == net.dtype
    assert net.xp is bk.xp and net.device == bk.device


def test_to_moves_parameters_and_optimizer_state(bk, rng):
    X, y = rng.normal(size=(8, 2)), rng.uniform(size=(8, 1))
    net = seed_net("numpy")
    net.fit(X, y, optimizer=pn.optim.Adam(lr=0.01), epochs=2, progress=False)
    before = {k: pn.to_numpy(v) for k, v in net.state_dict().items()}
    assert net.to(bk) is net
    for key, value in net.state_dict().items():
        assert_on_backend(value, bk)
        np.testing.assert_array_equal(pn.to_numpy(value), before[key])
    for state in net.optimizer.state.values():
        for value in state.values():
            assert_on_backend(value, bk)
    net.fit(X, y, optimizer=net.optimizer, epochs=1, progress=False)  # training continues there


def test_to_changes_dtype(rng):
    net = seed_net("numpy", "float32").to(dtype="float64")
    assert net.dtype == np.float64 and net(rng.normal(size=(2, 2))).dtype == np.float64


def test_load_state_dict_from_another_backend(bk):
    source = seed_net("numpy", seed=9)
    target = seed_net(bk, seed=1)
    target.load_state_dict({k: source.backend.asarray(v) for k, v in source.state_dict().items()})
    for key, value in target.state_dict().items():
        assert_on_backend(value, bk)
        np.testing.assert_array_equal(pn.to_numpy(value), pn.to_numpy(source.state_dict()[key]))


def test_state_dict_is_a_copy():
    net = seed_net()
    sd = net.state_dict()
    sd["0.weight"][...] = 0.0
    assert not np.all(pn.to_numpy(net.state_dict()["0.weight"]) == 0.0)


def test_value_and_grad_matches_numeric(bk64, rng):
    net = seed_net(bk64, "float64", seed=4)
    X, y = rng.normal(size=(6, 2)), rng.uniform(size=(6, 1))
    value, grads = pn.value_and_grad(net, "mse", X, y)
    assert_on_backend(value, bk64)
    assert sorted(grads) == sorted(net.state_dict())
    w = pn.to_numpy(net.state_dict()["2.weight"])

    def loss_at(w_new):
        sd = net.state_dict()
        sd["2.weight"] = w_new
        net.load_state_dict(sd)
        return float(pn.value_and_grad(net, "mse", X, y)[0])

    numeric = pn.testing.numeric_grad(loss_at, w)
    np.testing.assert_allclose(pn.to_numpy(grads["2.weight"]), numeric, rtol=1e-6, atol=1e-9)


def test_jax_updates_by_rebinding(rng):
    if pn.testing.backend_skip_reason("jax:cpu"):
        pytest.skip(pn.testing.backend_skip_reason("jax:cpu"))
    net = seed_net("jax:cpu", "float64", seed=2)
    assert not net.backend.writeable
    first = net.layers[0].params["weight"]
    X, y = rng.normal(size=(8, 2)), rng.uniform(size=(8, 1))
    net.fit(X, y, optimizer=pn.optim.SGD(lr=0.5, momentum=0.9), epochs=3, batch_size=4, progress=False)
    assert net.layers[0].params["weight"] is not first  # a new array, the old one untouched
    reference = seed_net("numpy", "float64", seed=2)
    reference.fit(X, y, optimizer=pn.optim.SGD(lr=0.5, momentum=0.9), epochs=3, batch_size=4, progress=False)
    for key, value in net.state_dict().items():
        assert_close(value, reference.state_dict()[key], "float64", scale=100)


def test_read_only_input_is_never_written(bk, rng):
    X, y = rng.normal(size=(8, 2)), rng.uniform(size=(8, 1))
    X.flags.writeable = False
    y.flags.writeable = False
    X_copy, y_copy = X.copy(), y.copy()
    net = seed_net(bk)
    net.fit(X, y, optimizer=pn.optim.SGD(lr=0.1, momentum=0.9), epochs=2, batch_size=3, progress=False)
    net.predict(X)
    pn.value_and_grad(net, "mse", X, y)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)


def test_fast_paths_match_generic_paths(bk, rng):
    dtype = "float64" if bk.float64 else "float32"
    X, y = rng.normal(size=(12, 3)), rng.uniform(size=(12, 2))
    results = []
    for backend in (bk, bk.variant(fast_paths=False)):
        net = pn.Sequential(pn.Dense(3, 4), pn.ReLU(), pn.Dense(4, 2), backend=backend, dtype=dtype, seed=1)
        net.fit(X, y, optimizer=pn.optim.SGD(lr=0.1), epochs=2, batch_size=5, progress=False)
        results.append(net.state_dict())
    for key in results[0]:
        assert_close(results[0][key], results[1][key], dtype, err_msg=key)


def test_relu_layers_get_he_initialisation():
    net = pn.Sequential(pn.Dense(400, 300), pn.ReLU(), pn.Dense(300, 2), pn.Sigmoid(), dtype="float64")
    w0, w2 = net.state_dict()["0.weight"], net.state_dict()["2.weight"]
    assert abs(np.std(w0) - np.sqrt(2 / 400)) < 0.005  # He normal
    assert abs(np.std(w2) - np.sqrt(6 / 302) / np.sqrt(3)) < 0.005  # Glorot uniform


def test_activation_names_are_accepted():
    net = pn.Sequential(pn.Dense(2, 2), "relu", pn.Dense(2, 1), "sigmoid")
    assert isinstance(net.layers[1], pn.ReLU) and isinstance(net.layers[3], pn.Sigmoid)


def test_layer_sizes_must_chain():
    with pytest.raises(ValueError, match="Dense: expected 4 input features, the layer before gives 3"):
        pn.Sequential(pn.Dense(2, 3), pn.Dense(4, 1))


def test_repr_names_backend():
    assert "backend='numpy'" in repr(seed_net())
