"""Metrics: parity with scikit-learn on every backend (batch by batch, weighted or not), what fit
logs and evaluate returns, History's logs, and no host read per step."""

import itertools

import numpy as np
import pytest

import portnn as pn
from portnn.metrics import R2, Accuracy, MeanAbsoluteError, MeanSquaredError, Metric, TopKAccuracy, get_metric
from portnn.testing import assert_close, assert_on_backend

N = 40
BOUNDS = (0, 5, 6, 19, 27, N)  # batches of 5, 1, 13, 8 and 13 rows


@pytest.fixture
def skm():
    return pytest.importorskip("sklearn.metrics")


def dtype_of(bk):
    return "float64" if pn.get_backend(bk).float64 else "float32"


def seen(x, dtype):
    """``x`` as the device holds it: float arrays cast to ``dtype``."""
    x = np.asarray(x)
    return x.astype(dtype).astype(np.float64) if x.dtype.kind == "f" else x


def feed(bk, metric, pred, target, weight=None):
    """``metric``'s result after updating it batch by batch on ``bk``."""
    d = bk.dtype(dtype_of(bk))
    metric.reset()
    for a, b in itertools.pairwise(BOUNDS):
        t = bk.asarray(target[a:b], d if np.asarray(target).dtype.kind == "f" else None)
        w = None if weight is None else bk.asarray(weight[a:b], d)
        metric.update(bk.xp, bk.asarray(pred[a:b], d), t, w)
    result = metric.result()
    assert_on_backend(result, bk)
    assert result.shape == ()
    return float(pn.to_numpy(result))


def weights_for(rng, weighted):
    if not weighted:
        return None
    w = rng.uniform(0.0, 3.0, N)
    w[19:27] = 0.0  # a whole batch that counts for nothing
    return w


def case(name, rng):
    """(metric, pred, target, sklearn function of (target, pred, sample_weight))."""
    labels, binary = rng.integers(0, 5, N), rng.integers(0, 2, (N, 1)).astype(float)
    scores, regression = rng.normal(size=(N, 5)), rng.normal(size=(N, 3))
    # A large mean in one column: R2 must not cancel sum(y^2) against n mean^2.
    target = regression * [1.0, 0.1, 3.0] + [100.0, 0.0, -2.0] + rng.normal(size=(N, 3))

    def probability_accuracy(t, p, w, sk):
        return sk.accuracy_score(t[:, 0], p[:, 0] > 0.5, sample_weight=w)

    cases = {
        "binary_probabilities": (Accuracy(), rng.uniform(size=(N, 1)), binary, probability_accuracy, "probability"),
        "binary_logits": (
            Accuracy(),
            rng.normal(size=(N, 1)),
            binary,
            lambda t, p, w, sk: sk.accuracy_score(t[:, 0], p[:, 0] > 0, sample_weight=w),
            "logits",
        ),
        "multiclass_labels": (
            Accuracy(),
            scores,
            labels,
            lambda t, p, w, sk: sk.accuracy_score(t, p.argmax(axis=1), sample_weight=w),
            "logits",
        ),
        "multiclass_one_hot": (
            Accuracy(),
            scores,
            np.eye(5)[labels],
            lambda t, p, w, sk: sk.accuracy_score(t.argmax(axis=1), p.argmax(axis=1), sample_weight=w),
            "distribution",
        ),
        "mae": (MeanAbsoluteError(), regression + target, target, lambda t, p, w, sk: sk.mean_absolute_error(t, p, sample_weight=w), None),
        "mse": (MeanSquaredError(), regression + target, target, lambda t, p, w, sk: sk.mean_squared_error(t, p, sample_weight=w), None),
        "r2": (R2(), regression + target, target, lambda t, p, w, sk: sk.r2_score(t, p, sample_weight=w), None),
    }  # fmt: skip
    for k in (1, 2, 3, 4):
        cases[f"top_{k}"] = (
            TopKAccuracy(k),
            scores,
            labels,
            lambda t, p, w, sk, k=k: sk.top_k_accuracy_score(t, p, k=k, labels=range(5), sample_weight=w),
            None,
        )
    return cases[name]


NAMES = [
    "binary_probabilities",
    "binary_logits",
    "multiclass_labels",
    "multiclass_one_hot",
    "top_1",
    "top_2",
    "top_3",
    "top_4",
    "mae",
    "mse",
    "r2",
]


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("name", NAMES)
def test_metrics_match_sklearn(bk, rng, skm, name, weighted):
    metric, pred, target, reference, kind = case(name, rng)
    metric.bind(kind)
    weight = weights_for(rng, weighted)
    dtype = dtype_of(bk)
    expected = reference(seen(target, dtype), seen(pred, dtype), weight, skm)
    assert_close(feed(bk, metric, pred, target, weight), expected, dtype, scale=100)


def test_r2_of_a_constant_target_is_sklearns(skm):
    target = np.ones((6, 2))
    target[:, 1] = np.arange(6.0)
    exact, off = target.copy(), target + 0.5
    for pred in (exact, off):
        assert_close(feed(pn.get_backend("numpy"), R2(), pred, target), skm.r2_score(target, pred))


def test_accuracy_threshold_follows_what_the_model_outputs(rng):
    X = rng.normal(size=(30, 2))
    y = (X[:, :1] > 0).astype(float)
    probabilities = pn.Sequential(pn.Dense(2, 1), pn.Sigmoid(), dtype="float64", seed=0)
    logits = pn.Sequential(pn.Dense(2, 1), dtype="float64", seed=0)
    p, z = pn.to_numpy(probabilities(X)), pn.to_numpy(logits(X))
    by_hand = {
        "p": np.mean((p > 0.5) == (y > 0.5)),
        "z": np.mean((z > 0) == (y > 0.5)),
        "z at 0.5": np.mean((z > 0.5) == (y > 0.5)),
    }
    assert probabilities.evaluate(X, y, loss="bce", metrics=["accuracy"])["accuracy"] == by_hand["p"]
    assert probabilities.evaluate(X, y, loss="mse", metrics=["accuracy"])["accuracy"] == by_hand["p"]
    bce_logits = pn.BinaryCrossEntropy(from_logits=True)
    assert logits.evaluate(X, y, loss=bce_logits, metrics=["accuracy"])["accuracy"] == by_hand["z"]
    chosen = logits.evaluate(X, y, loss=bce_logits, metrics=[Accuracy(threshold=0.5)])
    assert chosen["accuracy"] == by_hand["z at 0.5"]


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


def test_a_metric_of_your_own_is_found_by_name(rng):
    class MeanError(Metric):
        name = "mean_error"
        higher_is_better = False

        def statistics(self, xp, pred, target, weight):
            return pn.metrics.weighted_sum(xp, pred - target, weight), pn.metrics.total_weight(xp, pred, weight)

        def compute(self, xp, stats):
            return stats[0] / stats[1]

    X, y = rng.normal(size=(N, 3)), rng.normal(size=(N, 1))
    net = pn.Sequential(pn.Dense(3, 1), dtype="float64", seed=0)
    got = net.evaluate(X, y, metrics=["mean_error"], batch_size=9)
    assert got["mean_error"] == pytest.approx(np.mean(pn.to_numpy(net(X)) - y), rel=1e-12)
    history = net.fit(X, y, metrics=["mean_error"], epochs=2, batch_size=9, progress=False)
    assert len(history.history["mean_error"]) == 2


def test_metric_errors(rng):
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 1))
    net = pn.Sequential(pn.Dense(3, 1), seed=0)
    with pytest.raises(ValueError, match=r"metric: unknown name 'f1'; expected one of \[.*'accuracy'"):
        net.evaluate(X, y, metrics=["f1"])
    with pytest.raises(ValueError, match=r"metrics: 'mae' is not a usable name here"):
        net.fit(X, y, metrics=["mae", MeanAbsoluteError()], progress=False)
    with pytest.raises(ValueError, match=r"k: expected a positive int, got 0"):
        TopKAccuracy(0)
    with pytest.raises(ValueError, match=r"top_k_accuracy: expected .*classes"):
        net.evaluate(X, y, metrics=["top_k_accuracy"])
    with pytest.raises(ValueError, match="no batch was added"):
        Accuracy().result()
    assert isinstance(get_metric("acc"), Accuracy) and repr(TopKAccuracy(3)) == "TopKAccuracy(k=3)"


def test_early_stopping_maximizes_metrics_that_are_better_higher():
    class Model:
        stop_training = False

    for monitor, values, best in [
        ("val_accuracy", [0.5, 0.7, 0.6, 0.65, 0.6], 1),
        ("r2", [0.1, 0.3, 0.2, 0.1, 0.0], 1),
        ("val_mae", [0.5, 0.7, 0.4, 0.45, 0.6], 2),
    ]:
        stopper, model = pn.EarlyStopping(monitor=monitor, patience=1), Model()
        stopper.on_train_begin(model)
        for epoch, value in enumerate(values):
            stopper.on_epoch_end(model, epoch, {monitor: value})
            if model.stop_training:
                break
        assert stopper.best_epoch == best and stopper.stopped_epoch == best + 2, monitor
    with pytest.raises(ValueError, match="mode: expected"):
        pn.EarlyStopping(mode="up")
