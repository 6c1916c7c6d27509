"""Metrics in training: what fit logs and evaluate returns, History's logs, compiled against op by
op, and no host read per step. Metric values against scikit-learn are in test_metrics.py."""

import numpy as np
import pytest
from test_metrics import N, dtype_of, weights_for

import portnn as pn
from portnn.objectives.metrics import TopKAccuracy
from portnn.testing import assert_close


def classifier(bk, seed=0):
    layers = [pn.Dense(2, 16), pn.ReLU(), pn.Dense(16, 3)]
    return pn.Sequential(*layers, backend=bk, dtype=dtype_of(bk), seed=seed)


def test_fit_logs_metrics_and_validation_metrics(bk):
    X, labels = pn.datasets.spirals(n_per_class=30)
    net = classifier(bk)
    history = net.fit(
        X, labels, loss="cross_entropy", optimizer=pn.optim.Adam(lr=0.02), epochs=25, batch_size=16,
        metrics=["accuracy", TopKAccuracy(2)], validation_data=(X[::3], labels[::3]), progress=False,
    )  # fmt: skip
    keys = ["loss", "accuracy", "top_k_accuracy", "val_loss", "val_accuracy", "val_top_k_accuracy"]
    assert list(history.history) == keys
    assert all(len(v) == 25 and all(isinstance(x, float) for x in v) for v in history.history.values())
    acc = history.history["accuracy"]
    assert acc[-1] > acc[0] and all(0.0 <= a <= t <= 1.0 for a, t in zip(acc, history.history["top_k_accuracy"]))
    after = net.evaluate(X[::3], labels[::3], loss="cross_entropy", metrics=["accuracy", TopKAccuracy(2)])
    assert_close(history.history["val_loss"][-1], after["loss"], dtype_of(bk))
    assert history.history["val_accuracy"][-1] == after["accuracy"]
    assert history.history["val_top_k_accuracy"][-1] == after["top_k_accuracy"]


def test_full_batch_metrics_are_those_of_the_predictions_trained_on(bk, rng):
    """Like Keras: from the step's own predictions, before its update."""
    X, labels = rng.normal(size=(24, 2)), rng.integers(0, 3, 24)
    net = classifier(bk)
    before = net.evaluate(X, labels, loss="cross_entropy", metrics=["accuracy", "top_k"])
    history = net.fit(X, labels, loss="cross_entropy", metrics=["accuracy", "top_k"], progress=False)
    assert history.history["accuracy"] == [before["accuracy"]] and history.history["top_k"] == [1.0]
    assert_close(history.history["loss"][0], before["loss"], dtype_of(bk))


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
def test_mini_batch_metrics_are_means_over_all_rows(bk, rng, weighted):
    """With an update too small to matter, the epoch's metrics are those of the whole data set."""
    X = rng.normal(size=(N, 3))
    y = X @ rng.normal(size=(3, 2)) + rng.normal(size=(N, 2)) + [50.0, -1.0]
    weight = weights_for(rng, weighted)
    net = pn.Sequential(pn.Dense(3, 2), backend=bk, dtype=dtype_of(bk), seed=0)
    names = ["mae", "mse", "r2"]
    before = net.evaluate(X, y, metrics=names, sample_weight=weight)
    history = net.fit(
        X, y, optimizer=pn.optim.SGD(lr=1e-12), batch_size=7, metrics=names, sample_weight=weight, progress=False
    )
    for name in ["loss", *names]:
        assert_close(history.history[name][0], before[name], dtype_of(bk), scale=100, err_msg=name)


def test_evaluate_equals_the_loss_and_metrics_by_hand(bk, rng):
    X, labels = rng.normal(size=(N, 2)), rng.integers(0, 3, N)
    net = classifier(bk)
    z = pn.to_numpy(net.predict(X)).astype(np.float64)
    log_p = z - z.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    rank = (z > z[np.arange(N), labels][:, None]).sum(axis=1)
    got = net.evaluate(X, labels, loss="cross_entropy", metrics=["accuracy", TopKAccuracy(2)], batch_size=7)
    assert list(got) == ["loss", "accuracy", "top_k_accuracy"]
    assert_close(got["loss"], -log_p[np.arange(N), labels].mean(), dtype_of(bk), scale=10)
    assert got["accuracy"] == pytest.approx(np.mean(z.argmax(axis=1) == labels))
    assert got["top_k_accuracy"] == pytest.approx(np.mean(rank < 2))
    y = rng.normal(size=(N, 3))
    reg = pn.Sequential(pn.Dense(2, 3), backend=bk, dtype=dtype_of(bk), seed=0)
    p = pn.to_numpy(reg.predict(X)).astype(np.float64)
    got = reg.evaluate(X, y, metrics=["mae", "mse", "r2"], batch_size=6)
    r2 = np.mean(1 - ((y - p) ** 2).sum(axis=0) / ((y - y.mean(axis=0)) ** 2).sum(axis=0))
    expected = {"loss": np.mean((p - y) ** 2), "mae": np.mean(abs(p - y)), "mse": np.mean((p - y) ** 2), "r2": r2}
    for name, value in expected.items():
        assert_close(got[name], value, dtype_of(bk), scale=10, err_msg=name)


def test_evaluate_is_in_inference_mode(rng):
    X, y = rng.normal(size=(N, 3)), rng.normal(size=(N, 1))
    net = pn.Sequential(pn.Dense(3, 8), pn.Dropout(0.5), pn.Dense(8, 1), dtype="float64", seed=0)
    first, second = net.evaluate(X, y, batch_size=9), net.evaluate(X, y)
    assert first["loss"] == pytest.approx(second["loss"], rel=1e-12)
    assert second["loss"] == pytest.approx(np.mean((pn.to_numpy(net.predict(X)) - y) ** 2), rel=1e-12)


def test_reads_per_epoch_do_not_depend_on_the_number_of_steps(bk, rng, monkeypatch):
    """The epoch's loss, metrics and validation values come back in one host read."""
    X, labels = rng.normal(size=(32, 2)), rng.integers(0, 3, 32)
    reads = []
    original = type(pn.get_backend(bk)).read
    monkeypatch.setattr(
        type(pn.get_backend(bk)), "read", lambda self, *a, **k: reads.append(1) or original(self, *a, **k)
    )

    def count(epochs, batch_size):
        reads.clear()
        classifier(bk).fit(
            X, labels, loss="cross_entropy", epochs=epochs, batch_size=batch_size, metrics=["accuracy", "top_k"],
            validation_data=(X[:8], labels[:8]), progress=False,
        )  # fmt: skip
        return len(reads)

    assert count(2, 4) == count(2, 16) == count(2, None)  # 8, 2 and 1 steps per epoch
    assert count(3, 4) - count(2, 4) == 1
    reads.clear()
    classifier(bk).evaluate(X, labels, loss="cross_entropy", metrics=["accuracy", "r2"], batch_size=5)
    assert len(reads) == 1


def test_history_keeps_what_callbacks_add_to_the_logs(rng):
    class AddsAccuracy(pn.Callback):
        def on_epoch_end(self, model, epoch, logs):
            assert model.history.epoch[-1] == epoch  # History, first, has already recorded the epoch
            logs["val_acc"] = 0.5 + epoch
            logs["loss"] = -1.0  # a change replaces the recorded value

    class SeesIt(pn.Callback):
        def on_epoch_end(self, model, epoch, logs):
            assert logs["val_acc"] == 0.5 + epoch
            logs[f"late_{epoch}"] = 1.0  # a key that appears in one epoch only

    X, y = rng.normal(size=(8, 2)), rng.normal(size=(8, 1))
    net = pn.Sequential(pn.Dense(2, 1), seed=0)
    history = net.fit(X, y, epochs=3, callbacks=[AddsAccuracy(), SeesIt()], progress=False)
    assert history.history["val_acc"] == [0.5, 1.5, 2.5]
    assert history.history["loss"] == [-1.0, -1.0, -1.0]
    assert history.history["late_1"] == [1.0] and history.epoch == [0, 1, 2]


def test_compiled_metrics_agree_with_op_by_op():
    if pn.testing.backend_skip_reason("jax:cpu"):
        pytest.skip("jax:cpu unavailable")
    X, labels = pn.datasets.spirals(n_per_class=10)
    histories, steps = [], []
    for compile in (True, False, True):
        net = classifier("jax:cpu")
        kwargs = {"metrics": ["accuracy", "r2"], "batch_size": 7, "compile": compile, "progress": False}
        histories.append(net.fit(X, labels, loss="cross_entropy", epochs=3, **kwargs).history)
        compiled = net.train_step.compiled
        assert (compiled is not None) == compile
        net.fit(X, labels, loss="cross_entropy", **kwargs)  # the same metrics again: the same compiled code
        assert net.train_step.compiled is compiled
        steps.append(compiled)
    for name, values in histories[0].items():
        assert_close(values, histories[1][name], dtype_of("jax:cpu"), scale=10, err_msg=name)
        assert values == histories[2][name]
