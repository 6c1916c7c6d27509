"""What a Keras user types first: validation_split, Dense(activation=), evaluate after fit, a 1-D
target for one output, fit's real signature."""

import inspect

import numpy as np
import pytest

import portnn as pn
from portnn.testing import assert_close


def regression(rng, n=20):
    X = rng.normal(size=(n, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + 0.1


def test_validation_split_holds_out_the_last_rows_before_shuffling(bk, rng):
    """The same run as validation_data=(the last 25% of the rows): the same losses, both curves."""
    X, y = regression(rng)
    dtype = "float64" if bk.float64 else "float32"
    histories = []
    for kwargs in (dict(validation_split=0.25), dict(validation_data=(X[15:], y[15:, None]))):
        net = pn.Sequential(pn.Dense(3, 4), pn.Tanh(), pn.Dense(4, 1), backend=bk, dtype=dtype, seed=1)
        data = (X, y[:, None]) if "validation_split" in kwargs else (X[:15], y[:15, None])
        histories.append(net.fit(*data, epochs=3, batch_size=4, progress=False, **kwargs).history)
    assert set(histories[0]) == {"loss", "val_loss"}
    for key in histories[0]:
        assert_close(np.array(histories[0][key]), np.array(histories[1][key]), dtype)


def test_validation_split_splits_the_sample_weights_too(rng):
    X, y = regression(rng)
    w = rng.uniform(0.5, 2.0, size=20)
    net = pn.Sequential(pn.Dense(3, 1), dtype="float64", seed=0)
    h = net.fit(X, y[:, None], sample_weight=w, validation_split=0.5, epochs=2, progress=False)
    other = pn.Sequential(pn.Dense(3, 1), dtype="float64", seed=0)
    held_out = (X[10:], y[10:, None], w[10:])
    h2 = other.fit(X[:10], y[:10, None], sample_weight=w[:10], validation_data=held_out, epochs=2, progress=False)
    assert h.history == h2.history


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (1.0, ValueError, r"validation_split: expected a fraction in \[0, 1\), got 1.0"),
        (-0.1, ValueError, "validation_split: expected a fraction"),
        ("0.2", ValueError, "validation_split: expected a fraction"),
        (True, ValueError, "validation_split: expected a fraction"),
        (0.99, ValueError, "validation_split: 0.99 of 20 rows leaves no rows to train on"),
    ],
)
def test_a_bad_validation_split_is_refused(rng, value, error, match):
    X, y = regression(rng)
    with pytest.raises(error, match=match):
        pn.Sequential(pn.Dense(3, 1)).fit(X, y[:, None], validation_split=value, progress=False)


def test_validation_split_with_validation_data_is_refused(rng):
    X, y = regression(rng)
    with pytest.raises(TypeError, match="validation_split: give validation_split or validation_data, not both"):
        pn.Sequential(pn.Dense(3, 1)).fit(X, y[:, None], validation_split=0.2, validation_data=(X, y[:, None]))


def test_dense_with_an_activation_is_dense_then_the_activation(bk, rng):
    """The same outputs and gradients as the two layers, after the same training, on every backend."""
    X, y = regression(rng)
    dtype = "float64" if bk.float64 else "float32"
    one = pn.Sequential(pn.Dense(3, 5, activation="relu"), pn.Dense(5, 1, activation=pn.LeakyReLU(0.2)),
                        backend=bk, dtype=dtype, seed=2)  # fmt: skip
    two = pn.Sequential(pn.Dense(3, 5), pn.ReLU(), pn.Dense(5, 1), pn.LeakyReLU(0.2), backend=bk, dtype=dtype, seed=2)
    for net in (one, two):
        net.fit(X, y[:, None], optimizer=pn.optim.SGD(lr=0.05), epochs=3, batch_size=8, progress=False)
    assert_close(pn.to_numpy(one(X)), pn.to_numpy(two(X)), dtype)
    assert one.layers[0].auto_init == "he_normal"  # as before a ReLU layer


def test_dense_with_an_activation_saves_loads_and_summarizes(tmp_path, capsys):
    net = pn.Sequential(pn.Dense(4, 8, activation="relu"), pn.Dense(8, 3, activation=pn.LeakyReLU(0.3)), seed=0)
    net.save(tmp_path / "m.safetensors")
    loaded = pn.load(tmp_path / "m.safetensors")
    X = np.random.default_rng(0).normal(size=(6, 4))
    np.testing.assert_array_equal(pn.to_numpy(loaded(X)), pn.to_numpy(net(X)))
    assert loaded.layers[1].activation.alpha == 0.3
    lines = net.summary().splitlines()
    assert lines[1].split()[1:4] == ["Dense(4", "->", "8,"] and "ReLU)" in lines[1]
    assert "LeakyReLU(alpha=0.3))" in lines[2]
    with pytest.raises(ValueError, match="activation: unknown name 'rleu'"):
        pn.Dense(4, 8, activation="rleu")
    with pytest.raises(ValueError, match="activation: expected an activation name or layer, got Dense"):
        pn.Dense(4, 8, activation=pn.Dense(8, 8))


def test_dense_with_a_sigmoid_declares_probabilities():
    """The loss check sees what the layer outputs: bce on Dense(..., activation="sigmoid") trains."""
    X, y = pn.datasets.xor()
    net = pn.Sequential(pn.Dense(2, 4, activation="tanh"), pn.Dense(4, 1, activation="sigmoid"), seed=0)
    assert net.layers[-1].output_kind == "probability"
    h = net.fit(X, y, loss="bce", metrics=["accuracy"], epochs=2, progress=False)
    assert len(h.history["accuracy"]) == 2


def test_evaluate_measures_with_the_fit_s_loss_and_metrics(rng):
    X = rng.normal(size=(30, 4))
    labels = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    net = pn.Sequential(pn.Dense(4, 3), dtype="float64", seed=0)
    assert set(net.evaluate(X, rng.normal(size=(30, 3)))) == {"loss"}  # before any fit: mse
    net.fit(X, labels, loss="cross_entropy", metrics=["accuracy"], epochs=2, progress=False)
    got = net.evaluate(X, labels)
    assert got == net.evaluate(X, labels, loss="cross_entropy", metrics=["accuracy"])
    assert set(net.evaluate(X, labels, metrics=[])) == {"loss"}  # given: used


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_a_1d_target_for_one_output_is_a_column(bk, rng, loss):
    X = rng.normal(size=(12, 3))
    y = (X[:, 0] > 0).astype(float)
    dtype = "float64" if bk.float64 else "float32"
    nets = [pn.Sequential(pn.Dense(3, 1), pn.Sigmoid(), backend=bk, dtype=dtype, seed=0) for _ in range(2)]
    flat = nets[0].fit(X, y, loss=loss, epochs=2, progress=False).history
    column = nets[1].fit(X, y[:, None], loss=loss, epochs=2, progress=False).history
    assert flat == column
    assert nets[0].evaluate(X, y) == nets[1].evaluate(X, y[:, None])


def test_a_1d_target_for_several_outputs_is_still_refused(rng):
    with pytest.raises(ValueError, match="y: mse"):
        pn.Sequential(pn.Dense(3, 2)).fit(rng.normal(size=(5, 3)), rng.normal(size=5), progress=False)


def test_fit_and_evaluate_show_their_real_parameters():
    net = pn.Sequential(pn.Dense(2, 1))
    fit = inspect.signature(net.fit).parameters
    assert list(fit)[:3] == ["X", "y", "loss"] and fit["epochs"].default == 1 and fit["batch_size"].default is None
    assert "validation_split" in fit and "kwargs" not in fit
    evaluate = inspect.signature(net.evaluate).parameters
    assert list(evaluate) == ["X", "y", "loss", "metrics", "batch_size", "sample_weight", "chunk_bytes"]
    assert "batch_size=None" in net.fit.__doc__ and "Keras" in net.fit.__doc__


def test_the_readme_s_keras_table_names_what_a_keras_user_looks_for():
    from pathlib import Path

    readme = Path(__file__).resolve().parents[1].joinpath("README.md").read_text()
    section = readme.split("## Coming from Keras, PyTorch or scikit-learn")[1].split("\n## ")[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|"))
    for needed in (
        "validation_split",
        'activation="relu"',
        "pn.Standardize(n).adapt(X)",
        "batch_size=None",
        "epochs=1",
    ):
        assert needed in table, needed


def test_a_dense_activation_from_a_file_is_only_ever_an_activation():
    """A file's architecture names the activation: anything but an activation layer is refused."""
    for bad in ({"class": "Dense", "config": {"n_in": 2, "n_out": 2}}, {"class": "Nope"}, {"config": {}}):
        with pytest.raises(ValueError, match="activation: expected an activation layer, got"):
            pn.Dense(2, 2, activation=bad)
    assert pn.Dense(2, 2, activation={"class": "ELU", "config": {"alpha": 0.5}}).activation.alpha == 0.5
