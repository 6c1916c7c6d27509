"""Defects a review found, each pinned by a test: optimizer state shared across networks, the
accuracy threshold of a plain-output model, value_and_grad leaving the model as it was, the
optimizer after a divergence, and a backup refused when the optimizer's settings differ."""

import numpy as np
import pytest

import portnn as pn


def data(rng, n=32):
    X = rng.normal(size=(n, 3))
    return X, (X[:, :1] > 0).astype(float)


def net(seed=0, *extra):
    return pn.Sequential(pn.Dense(3, 8), pn.Tanh(), *extra, pn.Dense(8, 1), dtype="float64", seed=seed)


def test_an_optimizer_used_on_a_second_network_starts_afresh(rng):
    X, y = data(rng)
    shared = pn.optim.Adam(lr=0.01)
    net(1).fit(X, y, optimizer=shared, epochs=20, progress=False)
    second, fresh = net(2), net(2)
    second.fit(X, y, optimizer=shared, epochs=5, progress=False)
    fresh.fit(X, y, optimizer=pn.optim.Adam(lr=0.01), epochs=5, progress=False)
    assert shared.steps == 5
    for key, value in fresh.state_dict().items():
        np.testing.assert_array_equal(pn.to_numpy(second.state_dict()[key]), pn.to_numpy(value))


def test_accuracy_of_a_plain_output_model_thresholds_at_one_half(rng):
    X, y = data(rng)
    model = net(0)
    out = pn.to_numpy(model(X))
    by_hand = np.mean((out > 0.5) == (y > 0.5))
    assert by_hand != np.mean((out > 0) == (y > 0.5))  # the two thresholds differ on this data
    assert model.evaluate(X, y, loss="mse", metrics=["accuracy"])["accuracy"] == by_hand


def test_value_and_grad_leaves_buffers_and_random_state_as_they_were(rng):
    X, y = data(rng)
    model = pn.Sequential(pn.Dense(3, 8), pn.BatchNorm(8), pn.Dropout(0.5), pn.Dense(8, 1), dtype="float64", seed=0)
    before, rng_state = pn.to_numpy(model(X)), model.rng_state()
    pn.value_and_grad(model, "mse", X, y)
    np.testing.assert_array_equal(pn.to_numpy(model(X)), before)
    assert model.rng_state() == rng_state


def test_after_a_divergence_the_optimizer_starts_afresh(rng):
    X, y = data(rng)
    model = net(0)
    with pytest.raises(pn.DivergenceError, match="optimizer's state was reset"):
        model.fit(X, 1e200 * y, loss="mse", optimizer=pn.optim.Adam(lr=1.0), epochs=5, progress=False)
    assert model.optimizer.steps == 0
    for entries in model.optimizer.state.values():
        for value in entries.values():
            assert np.all(pn.to_numpy(value) == 0)


def test_a_backup_with_another_schedule_optimizer_is_refused(tmp_path, rng):
    X, y = data(rng)
    path = tmp_path / "run.backup"
    schedule = pn.optim.exponential_decay(0.1, 0.9)

    class Stop(pn.Callback):
        def on_epoch_end(self, model, epoch, logs):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        net(0).fit(
            X,
            y,
            optimizer=pn.optim.SGD(lr=schedule, momentum=0.9),
            epochs=3,
            callbacks=[pn.BackupAndRestore(path), Stop()],
            progress=False,
        )
    with pytest.raises(ValueError, match="was made with SGD"):
        net(0).fit(
            X, y, optimizer=pn.optim.SGD(lr=schedule), epochs=3, callbacks=[pn.BackupAndRestore(path)], progress=False
        )


def test_a_batch_too_small_for_batchnorm_is_refused_before_any_step(rng):
    X, y = data(rng, n=65)
    model = pn.Sequential(pn.Dense(3, 8), pn.BatchNorm(8), pn.Dense(8, 1), dtype="float64", seed=0)
    before = pn.to_numpy(model.state_dict()["0.weight"])
    with pytest.raises(ValueError, match=r"batch_size: BatchNorm needs at least 2 rows .* last batch of 1"):
        model.fit(X, y, batch_size=64, progress=False)
    np.testing.assert_array_equal(pn.to_numpy(model.state_dict()["0.weight"]), before)  # no step was taken
