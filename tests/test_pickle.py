"""Models and optimizers pickle and deep-copy on every backend (joblib, multiprocessing and
scikit-learn's clone need it): the backend travels as its spec, arrays as NumPy."""

import copy
import pickle

import numpy as np
import pytest

import portnn as pn


def trained(spec, optimizer):
    X, y = pn.datasets.xor()
    net = pn.Sequential(pn.Dense(2, 4), pn.Tanh(), pn.Dropout(0.1), pn.Dense(4, 1), pn.Sigmoid(), backend=spec, seed=1)
    net.fit(X, y, loss="mse", optimizer=optimizer, epochs=3, batch_size=2, progress=False)
    return net, X, y


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_a_trained_model_and_its_optimizer_survive(spec, how):
    net, X, y = trained(spec, pn.optim.Adam(lr=0.01))
    other = pickle.loads(pickle.dumps(net)) if how == "pickle" else copy.deepcopy(net)
    assert other.backend == net.backend and other.dtype_name == net.dtype_name
    pn.testing.assert_on_backend(other(X), spec)
    np.testing.assert_array_equal(pn.to_numpy(other(X)), pn.to_numpy(net(X)))
    assert other.optimizer is not net.optimizer and other.optimizer.steps == net.optimizer.steps == 6
    for key, entries in net.optimizer.state.items():
        for name, value in entries.items():
            np.testing.assert_array_equal(pn.to_numpy(other.optimizer.state[key][name]), pn.to_numpy(value))
    # both go on training to the same numbers: parameters, optimizer state and RNGs all came along
    for model in (net, other):
        model.fit(X, y, loss="mse", optimizer=model.optimizer, epochs=2, batch_size=2, progress=False)
    np.testing.assert_array_equal(pn.to_numpy(other(X)), pn.to_numpy(net(X)))


def test_the_copy_shares_no_array_with_the_original():
    net = trained("numpy", pn.optim.SGD(lr=0.5))[0]
    other = copy.deepcopy(net)
    other.layers[0].params["weight"][...] = 0.0
    assert np.abs(net.layers[0].params["weight"]).sum() > 0


def test_unpickling_where_the_backend_is_missing_says_what_to_do(monkeypatch):
    net, _, _ = trained("numpy", pn.optim.SGD(lr=0.5))
    data = pickle.dumps(net)
    import portnn.nn.network

    def unavailable(spec):
        raise ValueError(f"backend: {spec!r} cannot be used here (not installed)")

    monkeypatch.setattr(portnn.nn.network, "get_backend", unavailable)
    with pytest.raises(ValueError, match=r"saved on 'numpy'.*net\.to\('numpy'\).*pn\.load"):
        pickle.loads(data)


def test_an_optimizer_pickles_on_its_own():
    net, _, _ = trained("numpy", pn.optim.SGD(lr=0.5, momentum=0.9))
    opt = pickle.loads(pickle.dumps(net.optimizer))
    assert opt.get_config() == net.optimizer.get_config() and opt.steps == net.optimizer.steps
    assert opt.parameters == []  # bound again by whoever uses it
