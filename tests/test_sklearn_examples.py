"""What scikit-learn's example plot_mlp_training_curves does — SGD with constant and invscaling
rates, with and without (Nesterov's) momentum, and Adam on iris, digits, circles and moons, under
the example's filter ``warnings.filterwarnings("ignore", category=ConvergenceWarning,
module="sklearn")`` — with portnn's estimators beside scikit-learn's: the same n_iter_, weights,
scores, loss curves, and the same warnings reaching the user."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import neural_network as skn
from sklearn.datasets import load_digits, load_iris, make_circles, make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import MinMaxScaler

import portnn as pn
from portnn import sklearn as psk

SGD = dict(solver="sgd", learning_rate_init=0.2)
PARAMS = {
    "constant": dict(SGD, learning_rate="constant", momentum=0),
    "constant-momentum": dict(SGD, learning_rate="constant", momentum=0.9, nesterovs_momentum=False),
    "constant-nesterov": dict(SGD, learning_rate="constant", momentum=0.9, nesterovs_momentum=True),
    "invscaling": dict(SGD, learning_rate="invscaling", momentum=0),
    "invscaling-momentum": dict(SGD, learning_rate="invscaling", momentum=0.9, nesterovs_momentum=False),
    "invscaling-nesterov": dict(SGD, learning_rate="invscaling", momentum=0.9, nesterovs_momentum=True),
    "adam": dict(solver="adam", learning_rate_init=0.01),
}
DATA = {
    "iris": load_iris(return_X_y=True),
    "digits": load_digits(return_X_y=True),
    "circles": make_circles(noise=0.2, factor=0.5, random_state=1),
    "moons": make_moons(noise=0.3, random_state=0),
}


def silenced_fit(est, X, y, **filter_kwargs):
    """``est`` fitted under the example's filter (or ``filter_kwargs``'s); the warnings that still
    reach the user as (category, text, file)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", **(filter_kwargs or dict(category=ConvergenceWarning, module="sklearn")))
        est.fit(X, y)
    return [(w.category, str(w.message), w.filename) for w in caught]


def curves_case(data):
    X, y = DATA[data]
    return MinMaxScaler().fit_transform(X), y, 15 if data == "digits" else 400


def fit_curves(spec, data, params):
    X, y, max_iter = curves_case(data)
    ours = psk.MLPClassifier(random_state=0, max_iter=max_iter, backend=spec, **PARAMS[params])
    theirs = skn.MLPClassifier(random_state=0, max_iter=max_iter, **PARAMS[params])
    return (ours, silenced_fit(ours, X, y)), (theirs, silenced_fit(theirs, X, y)), X, y


def assert_same_curves(ours, theirs, X, y, rtol):
    assert ours.n_iter_ == theirs.n_iter_
    diff = max(float(np.max(np.abs(a - b)) / np.max(np.abs(b))) for a, b in zip(ours.coefs_, theirs.coefs_))
    assert diff <= rtol
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
    assert ours.score(X, y) == theirs.score(X, y)


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("data", DATA)
def test_training_curves_numpy(data, params):
    (ours, our_warnings), (theirs, their_warnings), X, y = fit_curves(None, data, params)
    assert_same_curves(ours, theirs, X, y, 1e-10)
    assert our_warnings == their_warnings == []


# The other backends on two of the data sets (time: array_api_strict is slow op by op).
@pytest.mark.parametrize("params", ["constant-nesterov", "invscaling-momentum", "adam"])
@pytest.mark.parametrize("data", ["iris", "moons"])
@pytest.mark.parametrize("spec", ["torch:cpu", "array_api_strict", "jax:cpu"])
def test_training_curves_other_backends(spec, data, params):
    if pn.testing.backend_skip_reason(spec):
        pytest.skip(pn.testing.backend_skip_reason(spec))
    (ours, our_warnings), (theirs, their_warnings), X, y = fit_curves(spec, data, params)
    assert_same_curves(ours, theirs, X, y, 1e-10)
    assert our_warnings == their_warnings == []


# -- the warnings that reach the user ----------------------------------------------------------
X_IRIS, Y_IRIS = curves_case("iris")[:2]
SHORT = dict(hidden_layer_sizes=(5,), random_state=0, max_iter=3)


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_unfiltered_warnings_are_sklearns_and_point_at_the_caller(solver):
    ours = silenced_fit(psk.MLPClassifier(solver=solver, **SHORT), X_IRIS, Y_IRIS, category=DeprecationWarning)
    theirs = silenced_fit(skn.MLPClassifier(solver=solver, **SHORT), X_IRIS, Y_IRIS, category=DeprecationWarning)
    assert [w[:2] for w in ours] == [w[:2] for w in theirs]
    assert ours and ours[0][0] is ConvergenceWarning
    assert all(w[2] == __file__ for w in ours)  # the user's line: the call to fit, in this file


@pytest.mark.parametrize("module", ["sklearn", "portnn", "portnn.sklearn"])
@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_module_filters_silence_them(solver, module):
    est = psk.MLPClassifier(solver=solver, **SHORT)
    assert silenced_fit(est, X_IRIS, Y_IRIS, category=ConvergenceWarning, module=module) == []


def test_batch_size_warning_is_sklearns_and_filtered_by_module():
    ours = silenced_fit(psk.MLPClassifier(batch_size=500, **SHORT), X_IRIS, Y_IRIS, category=ConvergenceWarning)
    theirs = silenced_fit(skn.MLPClassifier(batch_size=500, **SHORT), X_IRIS, Y_IRIS, category=ConvergenceWarning)
    assert [w[:2] for w in ours] == [w[:2] for w in theirs] != []
    for module in ("sklearn", "portnn"):
        assert silenced_fit(psk.MLPClassifier(batch_size=500, **SHORT), X_IRIS, Y_IRIS, module=module) == []


def test_the_filter_that_comes_first_decides():
    """An "error" filter added after an "ignore" one wins, whichever module each names."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning, module="sklearn")
        warnings.filterwarnings("error", category=ConvergenceWarning, module="portnn")
        with pytest.raises(ConvergenceWarning, match="Maximum iterations"):
            psk.MLPClassifier(solver="sgd", **SHORT).fit(X_IRIS, Y_IRIS)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning, module="portnn")
        warnings.filterwarnings("error", category=ConvergenceWarning, module="sklearn")
        with pytest.raises(ConvergenceWarning, match="Maximum iterations"):
            psk.MLPClassifier(solver="sgd", **SHORT).fit(X_IRIS, Y_IRIS)
