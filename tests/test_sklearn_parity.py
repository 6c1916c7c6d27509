"""portnn.sklearn against scikit-learn's own MLPs: the same n_iter_ and the same weights, on every
CPU backend (float64 within 1e-10 relative to each array's largest entry; lbfgs 1e-8; float32 1e-5)."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import neural_network as skn
from sklearn.datasets import load_iris, make_multilabel_classification, make_regression
from sklearn.preprocessing import StandardScaler

import portnn as pn
from portnn import sklearn as psk

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = StandardScaler().fit_transform(X_IRIS)
BINARY = Y_IRIS != 0
COMMON = dict(hidden_layer_sizes=(7, 5), random_state=0, max_iter=30)
SW = np.random.RandomState(1).uniform(0.1, 2.0, X_IRIS.shape[0])

CLASSIFIER_CASES = {
    "adam": {},
    "sgd-nesterov": dict(solver="sgd"),
    "sgd-momentum": dict(solver="sgd", nesterovs_momentum=False),
    "sgd-plain": dict(solver="sgd", momentum=0.0),
    "sgd-invscaling": dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.1),
    "sgd-adaptive": dict(solver="sgd", learning_rate="adaptive", tol=0.05, n_iter_no_change=2),
    "tanh": dict(activation="tanh"),
    "logistic": dict(activation="logistic"),
    "identity": dict(activation="identity"),
    "uneven-batches-alpha": dict(batch_size=32, alpha=0.1),
    "no-shuffle": dict(shuffle=False, batch_size=50),
    "early-stopping": dict(early_stopping=True, max_iter=200, validation_fraction=0.2),
}


# The bounds are for CPU backends; a GPU's matmuls sum in another order (TF32 is off).
GPU_RTOL = 1e-8


def rel_diff(ours, theirs):
    return max(float(np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b))) for a, b in zip(ours, theirs))


def assert_same_fit(ours, theirs, rtol):
    rtol = max(rtol, GPU_RTOL) if ours.backend and pn.get_backend(ours.backend).syncs_with_host else rtol
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == getattr(theirs, "t_", ours.t_)
    assert rel_diff(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_) <= rtol
    if hasattr(theirs, "loss_curve_"):
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)


def both(name, spec, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: short runs on purpose
        return getattr(psk, name)(backend=spec, **params), getattr(skn, name)(**params)


def fit_both(ours, theirs, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ours.fit(*args, **kwargs), theirs.fit(*args, **kwargs)


@pytest.mark.parametrize("case", CLASSIFIER_CASES)
def test_classifier_matches_sklearn(bk64, case):
    ours, theirs = fit_both(*both("MLPClassifier", bk64.spec, **{**COMMON, **CLASSIFIER_CASES[case]}), X_IRIS, Y_IRIS)
    assert_same_fit(ours, theirs, 1e-10)
    assert ours.predict(X_IRIS).tolist() == theirs.predict(X_IRIS).tolist()
    np.testing.assert_allclose(ours.predict_proba(X_IRIS), theirs.predict_proba(X_IRIS), rtol=1e-9, atol=1e-12)


def test_early_stopping_binary_keeps_best_weights(bk64):
    params = dict(COMMON, early_stopping=True, max_iter=200, n_iter_no_change=3)
    ours, theirs = fit_both(*both("MLPClassifier", bk64.spec, **params), X_IRIS, BINARY)
    assert_same_fit(ours, theirs, 1e-10)
    assert ours.validation_scores_ == theirs.validation_scores_
    assert ours.best_validation_score_ == theirs.best_validation_score_


def test_sample_weight(bk64):
    ours, theirs = fit_both(*both("MLPClassifier", bk64.spec, **COMMON, batch_size=40), X_IRIS, Y_IRIS, SW)
    assert_same_fit(ours, theirs, 1e-10)


def test_multilabel(bk64):
    X, Y = make_multilabel_classification(n_samples=120, n_features=6, n_classes=3, random_state=0)
    ours, theirs = fit_both(*both("MLPClassifier", bk64.spec, **COMMON), X, Y)
    assert_same_fit(ours, theirs, 1e-10)
    assert ours.out_activation_ == "logistic" and ours.predict(X).shape == Y.shape


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_two_output_regression(bk64, loss):
    X, Y = make_regression(n_samples=120, n_features=5, n_targets=2, random_state=0)
    Y = np.abs(Y) / 100 if loss == "poisson" else Y
    ours, theirs = fit_both(*both("MLPRegressor", bk64.spec, loss=loss, **COMMON), X, Y)
    assert_same_fit(ours, theirs, 1e-10)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9, atol=1e-9)


def test_partial_fit_five_times(bk64):
    ours, theirs = both("MLPClassifier", bk64.spec, **COMMON, solver="sgd")
    for _ in range(5):
        ours.partial_fit(X_IRIS, Y_IRIS, classes=[0, 1, 2])
        theirs.partial_fit(X_IRIS, Y_IRIS, classes=[0, 1, 2])
    assert_same_fit(ours, theirs, 1e-10)


def test_warm_start_three_times(bk64):
    ours, theirs = both("MLPRegressor", bk64.spec, **{**COMMON, "max_iter": 10}, warm_start=True)
    for _ in range(3):
        fit_both(ours, theirs, X_IRIS, Y_IRIS.astype(float))
    assert_same_fit(ours, theirs, 1e-10)
    assert len(ours.loss_curve_) == 30


def test_lbfgs(bk64):
    params = dict(COMMON, solver="lbfgs", max_iter=200)
    ours, theirs = fit_both(*both("MLPClassifier", bk64.spec, **params), X_IRIS, Y_IRIS)
    assert ours.n_iter_ == theirs.n_iter_
    assert rel_diff(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_) <= 1e-8
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-8)


def test_float32(bk):
    X = X_IRIS.astype(np.float32)
    ours, theirs = fit_both(*both("MLPClassifier", bk.spec, **COMMON), X, Y_IRIS)
    assert ours.coefs_[0].dtype == np.float32
    assert_same_fit(ours, theirs, 1e-5)
