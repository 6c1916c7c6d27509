"""Fixes from the read-through of the redesign, each failing before its fix."""

import json

import numpy as np
import pytest

import portnn as pn


def test_a_layer_reused_first_in_another_network_leaves_the_callers_input_alone():
    relu = pn.ReLU()
    pn.Sequential(pn.Dense(2, 2), relu, seed=0)  # after a Dense: it may overwrite its input
    second = pn.Sequential(relu, pn.Dense(2, 1), seed=0)  # first: its input is the caller's X
    X = np.array([[-1.0, 2.0], [3.0, -4.0]], dtype=np.float32)
    before = X.copy()
    second.predict(X)
    np.testing.assert_array_equal(X, before)


def test_a_pandas_series_target_is_taken_by_position_not_by_label():
    pd = pytest.importorskip("pandas", reason="the case is a pandas Series")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 2))
    y = (X[:, :1] > 0).astype(np.float64)
    series = pd.Series(y[:, 0], index=np.arange(8)[::-1])  # labels reversed against positions

    def weights(target):
        net = pn.Sequential(pn.Dense(2, 1), dtype="float64", seed=0)
        net.fit(X, target, loss="mse", optimizer=pn.optim.SGD(lr=0.1), epochs=3, batch_size=2, progress=False)
        return net.state_dict()["0.weight"]

    np.testing.assert_array_equal(weights(series), weights(y[:, 0]))


def test_a_one_shot_validation_generator_for_several_epochs_is_refused_before_any_step():
    X = np.ones((4, 2))
    y = np.ones((4, 1))
    net = pn.Sequential(pn.Dense(2, 1), dtype="float64", seed=0)
    start = net.state_dict()["0.weight"].copy()
    generator = ((X, y) for _ in range(1))
    with pytest.raises(ValueError, match="one-shot"):
        net.fit(X, y, epochs=2, validation_data=generator, progress=False)
    np.testing.assert_array_equal(net.state_dict()["0.weight"], start)


def test_evaluate_on_an_empty_iterable_of_batches_says_so():
    net = pn.Sequential(pn.Dense(2, 1), dtype="float64", seed=0)
    with pytest.raises(ValueError, match="no batches"):
        net.evaluate(iter([]))


def test_a_checkpoint_refused_after_its_weights_were_read_leaves_the_network_as_it_was(tmp_path):
    from portnn.train import checkpoint

    saved = pn.Sequential(pn.Dense(2, 3), pn.Dropout(0.5), pn.Dense(3, 1), dtype="float64", seed=1)
    path = str(tmp_path / "m.safetensors")
    saved.save(path)
    tensors, meta = pn.io.read(path)
    rng = json.loads(meta["rng"])
    meta["rng"] = json.dumps({key: {"not": "a generator state"} for key in rng})  # refused after the weights

    net = pn.Sequential(pn.Dense(2, 3), pn.Dropout(0.5), pn.Dense(3, 1), dtype="float64", seed=2)
    weights = {k: np.array(pn.to_numpy(v)) for k, v in net.state_dict().items()}
    generators = net.rng_state()
    with pytest.raises(ValueError, match="random generators"):
        checkpoint.restore(net, tensors, meta, path, optimizer=None)
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(pn.to_numpy(value), weights[name])
    assert net.rng_state() == generators
