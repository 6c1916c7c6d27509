"""portnn.sklearn inside scikit-learn's machinery: pipelines, cross-validation, grid search with
worker processes, clone, pickle and joblib, array-API dispatch, labels and data frames."""

import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

import joblib
import sklearn
from sklearn import datasets
from sklearn import neural_network as skn
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags

import portnn as pn
from portnn import testing
from portnn.sklearn import MLPClassifier, MLPRegressor

X_IRIS, Y_IRIS = datasets.load_iris(return_X_y=True)
SMALL = dict(hidden_layer_sizes=(6,), max_iter=20, random_state=0)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=sklearn.exceptions.ConvergenceWarning)
        yield


@pytest.mark.parametrize("loader", ["load_iris", "load_wine", "load_breast_cancer", "load_digits"])
def test_cross_val_score_equals_sklearn_per_fold(loader):
    X, y = getattr(datasets, loader)(return_X_y=True)
    ours = cross_val_score(make_pipeline(StandardScaler(), MLPClassifier(random_state=0, max_iter=300)), X, y, cv=5)
    theirs = cross_val_score(
        make_pipeline(StandardScaler(), skn.MLPClassifier(random_state=0, max_iter=300)), X, y, cv=5
    )
    assert ours.tolist() == theirs.tolist()


# JAX is left out here only for time (40 s: eager JAX in fresh worker processes); it is pickled,
# fitted and compared in the other tests.
@pytest.mark.parametrize("spec", [None, "array_api_strict", "array_api_strict:no_float64", "torch:cpu"])
def test_grid_search_in_worker_processes(spec):
    if spec and testing.backend_skip_reason(spec):
        pytest.skip(testing.backend_skip_reason(spec))
    search = GridSearchCV(MLPClassifier(**SMALL, backend=spec), {"alpha": [1e-4, 1e-1]}, cv=3, n_jobs=2)
    search.fit(X_IRIS, Y_IRIS)
    reference = GridSearchCV(skn.MLPClassifier(**SMALL), {"alpha": [1e-4, 1e-1]}, cv=3).fit(X_IRIS, Y_IRIS)
    assert search.cv_results_["mean_test_score"].tolist() == reference.cv_results_["mean_test_score"].tolist()


def test_clone_pickle_joblib_round_trips(spec, tmp_path):
    est = MLPClassifier(**SMALL, backend=spec).fit(X_IRIS, Y_IRIS)
    assert clone(est).get_params() == est.get_params()
    copies = [pickle.loads(pickle.dumps(est))]
    joblib.dump(est, tmp_path / "mlp.joblib")
    copies.append(joblib.load(tmp_path / "mlp.joblib"))
    for copy in copies:
        assert all(type(c) is np.ndarray for c in copy.coefs_ + copy.intercepts_)
        np.testing.assert_array_equal(copy.predict_proba(X_IRIS), est.predict_proba(X_IRIS))
        copy.partial_fit(X_IRIS, Y_IRIS)  # the optimizer state came along
    est.partial_fit(X_IRIS, Y_IRIS)
    np.testing.assert_array_equal(copies[0].coefs_[0], est.coefs_[0])


def test_array_api_dispatch_follows_X(spec):
    bk = pn.get_backend(spec)
    if bk.library == "numpy" or not bk.float64:
        pytest.skip(f"{spec}: dispatch to a non-NumPy float64 namespace is what is tested")
    reference = MLPClassifier(**SMALL).fit(X_IRIS, Y_IRIS)
    X, y = bk.asarray(X_IRIS), bk.asarray(Y_IRIS)
    with sklearn.config_context(array_api_dispatch=True):
        est = MLPClassifier(**SMALL).fit(X, y)
        proba, labels = est.predict_proba(X), est.predict(X)
        with pytest.raises(
            ValueError,
            match=r"must use the same namespace.*MLPClassifier\.predict\(\)|MLPClassifier\.predict\(\) must use",
        ):
            est.predict(X_IRIS)
    for array in [*est.coefs_, *est.intercepts_, proba, labels]:
        testing.assert_on_backend(array, bk)
    np.testing.assert_allclose(pn.to_numpy(proba), reference.predict_proba(X_IRIS), rtol=1e-9, atol=1e-12)
    restored = pickle.loads(pickle.dumps(est))  # pickles hold NumPy arrays: loadable without the device
    assert type(restored.coefs_[0]) is np.ndarray


def test_string_labels_and_data_frames():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X_IRIS, columns=["a", "b", "c", "d"])
    names = np.array(["setosa", "versicolor", "virginica"])[Y_IRIS]
    est = MLPClassifier(**SMALL).fit(frame, names)
    reference = skn.MLPClassifier(**SMALL).fit(frame, names)
    assert est.feature_names_in_.tolist() == ["a", "b", "c", "d"] and est.n_features_in_ == 4
    assert est.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert est.predict(frame).tolist() == reference.predict(frame).tolist()
    assert est.score(frame, names) == reference.score(frame, names)


def test_divergence_raises_as_sklearn():
    params = dict(SMALL, solver="sgd", learning_rate_init=1e12, activation="identity")
    X, y = datasets.make_regression(n_samples=50, n_features=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="non-finite parameter weights"):
            skn.MLPRegressor(**params).fit(X, y)
        with pytest.raises(ValueError, match="non-finite parameter weights"):
            MLPRegressor(**params).fit(X, y)


def test_tags_and_solver_specific_methods():
    assert get_tags(MLPClassifier()).array_api_support and get_tags(MLPClassifier()).classifier_tags.multi_label
    assert get_tags(MLPRegressor()).array_api_support
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert hasattr(MLPRegressor(), "partial_fit")
    fitted = MLPClassifier(**SMALL).fit(X_IRIS, Y_IRIS)
    assert (fitted.n_layers_, fitted.n_outputs_, fitted.out_activation_) == (3, 3, "softmax")
    assert fitted.loss_ == fitted.loss_curve_[-1] and fitted.t_ == 20 * X_IRIS.shape[0]


def test_readme_swap_example_runs(capsys):
    from readme_blocks import python_block

    block = python_block("## Use it from scikit-learn")
    assert "from portnn.sklearn import MLPClassifier" in block
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    reference = skn.MLPClassifier(hidden_layer_sizes=(20,), max_iter=300, random_state=0).fit(scope["X"], scope["y"])
    assert scope["clf"].n_iter_ == reference.n_iter_
    assert capsys.readouterr().out.split() == [str(reference.score(scope["X"], scope["y"])), str(reference.n_iter_)]
