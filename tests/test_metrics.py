"""Metrics: parity with scikit-learn on every backend (batch by batch, weighted or not), custom
metrics found by name, metric errors, and EarlyStopping on metrics. What fit logs and evaluate
returns is in test_metrics_fit.py."""

import itertools

import numpy as np
import pytest

import portnn as pn
from portnn.objectives.metrics import (
    R2,
    Accuracy,
    MeanAbsoluteError,
    MeanSquaredError,
    Metric,
    TopKAccuracy,
    get_metric,
)
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
