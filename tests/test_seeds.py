"""The two seed notebooks, reproduced: the lecture's neuron, the people network, XOR."""

import numpy as np
import pytest

import portnn as pn
from portnn.cli import demos


def seed_xor_loop(epochs):
    """The XOR notebook's loop as written (column layout, np.random.seed(1), w1 then w2)."""
    np.random.seed(1)  # noqa: NPY002 (the notebook as written)
    X = np.array([[0, 0, 1, 1], [0, 1, 0, 1]])
    y = np.array([[0, 1, 1, 0]])
    w1 = 2 * np.random.random((3, 2)) - 1  # noqa: NPY002
    w2 = 2 * np.random.random((1, 3)) - 1  # noqa: NPY002

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    for _ in range(epochs):
        hide = sigmoid(w1 @ X)
        out = sigmoid(w2 @ hide)
        err = y - out
        e_out = err * out * (1 - out)
        e_hide = (w2.T @ e_out) * hide * (1 - hide)
        w2 += 1 * (e_out @ hide.T)
        w1 += 1 * (e_hide @ X.T)
    return w1, w2, sigmoid(w2 @ sigmoid(w1 @ X))


def test_neuron_prints_the_lecture_number(bk64):
    assert demos.neuron_output(bk64) == 0.9990889488055994


def test_sigmoid_of_minus_one(bk64):
    out = pn.Sequential(pn.Sigmoid(), backend=bk64, dtype="float64")([[-1.0]])
    assert float(out[0, 0]) == 0.2689414213699951


def test_xor_seed_initial_weights_are_the_notebooks():
    w1, w2, _ = seed_xor_loop(0)
    net = demos.xor_network()
    np.testing.assert_array_equal(net.state_dict()["0.weight"], w1.T)
    np.testing.assert_array_equal(net.state_dict()["2.weight"], w2.T)


def test_xor_80000_epochs_equal_the_seed_loop_to_1e9():
    """MSE (mean over 4 outputs) with SGD lr=2 is the seed's update on half the summed squared error."""
    w1, w2, out = seed_xor_loop(80_000)
    net = demos.xor_network("numpy", "float64")
    demos.train_xor(net, 80_000)
    sd = net.state_dict()
    assert np.abs(sd["0.weight"] - w1.T).max() < 1e-9
    assert np.abs(sd["2.weight"] - w2.T).max() < 1e-9
    X, _ = pn.datasets.xor()
    np.testing.assert_allclose(pn.to_numpy(net(X)).T, out, atol=1e-9)
    np.testing.assert_allclose(out.ravel(), [0.029, 0.977, 0.977, 0.032], atol=1e-3)  # the notebook's outputs


def test_xor_matches_the_seed_loop_on_every_float64_backend(bk64):
    w1, w2, _ = seed_xor_loop(500)
    net = demos.xor_network(bk64, "float64")
    demos.train_xor(net, 500)
    sd = net.state_dict()
    np.testing.assert_allclose(pn.to_numpy(sd["0.weight"]), w1.T, atol=1e-9)
    np.testing.assert_allclose(pn.to_numpy(sd["2.weight"]), w2.T, atol=1e-9)


def test_people_network_classifies_emily_and_frank(bk):
    X, y = pn.datasets.people()
    dtype = "float64" if bk.float64 else "float32"
    net = pn.Sequential(
        pn.Dense(2, 2, init="normal"),
        pn.Sigmoid(),
        pn.Dense(2, 1, init="normal"),
        pn.Sigmoid(),
        backend=bk,
        dtype=dtype,
        seed=0,
    )
    history = net.fit(
        X, y, loss="mse", optimizer=pn.optim.SGD(lr=0.1), epochs=1000, batch_size=1, shuffle=False, progress=False
    )
    assert history.history["loss"][-1] < 0.01
    assert float(pn.to_numpy(net(pn.datasets.EMILY))[0, 0]) > 0.9
    assert float(pn.to_numpy(net(pn.datasets.FRANK))[0, 0]) < 0.1


@pytest.mark.parametrize("name", ["xor", "people", "neuron"])
def test_demo_commands_print_the_notebook_results(capsys, name):
    from portnn.cli import main

    assert main(["demo", name, "--no-progress"]) == 0
    out = capsys.readouterr().out
    expected = {
        "xor": "For input: [0 1] expected [ True], the prediction is: [ True] with probability [0.9774]",
        "people": "Emily 0.9",
        "neuron": "0.9990889488055994\n0.2689414213699951",
    }[name]
    assert expected in out
