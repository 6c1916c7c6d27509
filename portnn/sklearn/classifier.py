"""``MLPClassifier``: scikit-learn's multi-layer perceptron classifier on any portnn backend."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels

from .._xp import Backend, to_numpy
from .base import BaseMLP, on_host, stochastic_only


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's ``MLPClassifier`` (same parameters,
    defaults, fitted attributes and numbers), trained on any portnn backend.

    Parameters
    ----------
    backend : str or None, default=None
        Where to train and predict: a portnn spec such as ``"torch:cuda"`` or ``"cupy:0"``. None
        trains on NumPy, or on X's own namespace and device when scikit-learn's
        ``array_api_dispatch`` is on. Every other parameter is ``sklearn.neural_network.MLPClassifier``'s.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from portnn.sklearn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(solver="lbfgs", hidden_layer_sizes=(10,), random_state=0).fit(X, y)
    >>> clf.predict(X[:2]).tolist(), clf.classes_.tolist()
    ([0, 0], [0, 1, 2])
    """

    loss = "log_loss"

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: Any = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: Any = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: Any = 10,
        max_fun: int = 15000,
        backend: str | None = None,
    ) -> None:
        self._init_params(locals())

    # -- the hooks BaseMLP calls ---------------------------------------------------------------
    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple[Any, np.ndarray]:
        X, y = self._validate(X, y, reset)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the previous call to fit."
                        f" Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        return X, self._label_binarizer.transform(y).astype(bool)

    def _labels(self, output: np.ndarray) -> Any:
        return self._label_binarizer.inverse_transform(output.ravel() if self.n_outputs_ == 1 else output)

    def _score_predictions(self, output: np.ndarray, y: Any, sample_weight: Any) -> float:
        labels = self._labels(output)
        if np.issubdtype(labels.dtype, np.floating) and not np.isfinite(labels).all():
            return np.nan
        return float(accuracy_score(y, labels, sample_weight=sample_weight))

    # -- public methods ------------------------------------------------------------------------
    def predict(self, X: Any) -> Any:
        """Predict using the multi-layer perceptron classifier: class labels of shape
        (n_samples,), or (n_samples, n_classes) for multi-label targets."""
        output, out = self._forward_pass_fast(X, "predict")
        labels = self._labels(to_numpy(output))
        return labels if out.arrays_are_numpy or labels.dtype.kind not in "biuf" else out.asarray(labels)

    def _proba(self, X: Any, method: str) -> tuple[Any, Backend]:
        output, out = self._forward_pass_fast(X, method)
        if self.n_outputs_ == 1:
            p = out.xp.reshape(output, (-1,))
            output = out.xp.stack([1 - p, p], axis=1)
        return output, out

    def predict_proba(self, X: Any) -> Any:
        """Probability estimates, of shape (n_samples, n_classes), in the order of ``classes_``."""
        return self._proba(X, "predict_proba")[0]

    def predict_log_proba(self, X: Any) -> Any:
        """The logarithm of :meth:`predict_proba`."""
        proba, out = self._proba(X, "predict_log_proba")
        return out.xp.log(proba)

    @available_if(stochastic_only)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None) -> MLPClassifier:
        """One epoch of the stochastic solver over X, y (``classes`` required on the first call)."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(on_host(y)).startswith("multilabel"):
                self._label_binarizer.fit(on_host(y))
            else:
                self._label_binarizer.fit(classes)
        self._fit(X, y, sample_weight=sample_weight, incremental=True)
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
