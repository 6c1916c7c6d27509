"""The properties scikit-learn's estimator checks assert."""

import numpy as np

import portnn as pn
from portnn.testing import assert_close


def model(backend, dtype="float32", seed=0):
    return pn.Sequential(
        pn.Dense(4, 16),
        pn.ReLU(),
        pn.Dropout(0.2),
        pn.Dense(16, 3),
        pn.Softmax(),
        backend=backend,
        dtype=dtype,
        seed=seed,
    )


def data(rng):
    return rng.normal(size=(20, 4)), rng.integers(0, 3, 20)


def test_batch_prediction_equals_row_by_row(bk, rng):
    net = model(bk)
    X, _ = data(rng)
    whole = pn.to_numpy(net(X))
    rows = np.concatenate([pn.to_numpy(net(X[i : i + 1])) for i in range(X.shape[0])])
    assert_close(whole, rows, "float32")
    assert_close(net.predict(X, batch_size=7), whole, "float32")


def test_predictions_follow_a_permutation_of_rows(bk, rng):
    net = model(bk)
    X, _ = data(rng)
    order = rng.permutation(X.shape[0])
    assert_close(pn.to_numpy(net(X))[order], net(X[order]), "float32")


def test_two_fits_with_the_same_seed_are_identical(bk, rng):
    X, y = data(rng)
    states = []
    for _ in range(2):
        net = model(bk, seed=7)
        net.fit(
            X,
            y,
            loss=pn.CrossEntropy(from_logits=False),
            optimizer=pn.optim.Adam(lr=0.01),
            epochs=3,
            batch_size=6,
            progress=False,
        )
        states.append({k: pn.to_numpy(v) for k, v in net.state_dict().items()})
    for key in states[0]:
        np.testing.assert_array_equal(states[0][key], states[1][key])


def test_predict_does_not_change_the_model(bk, rng):
    net = model(bk)
    X, _ = data(rng)
    before = {k: pn.to_numpy(v) for k, v in net.state_dict().items()}
    first = pn.to_numpy(net(X))
    net.predict(X, batch_size=3)
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(pn.to_numpy(value), before[key])
    np.testing.assert_array_equal(pn.to_numpy(net(X)), first)
