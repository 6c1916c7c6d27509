"""What :class:`~portnn.sklearn.MLPClassifier` and :class:`~portnn.sklearn.MLPRegressor` share:
scikit-learn's parameters plus ``backend``, input validation, where arrays live, the fit driver and
the forward pass used by the predict methods.

Where arrays live: training and prediction run on the *compute* backend — ``backend`` when given,
else X's own namespace and device when scikit-learn's ``array_api_dispatch`` is on, else NumPy.
Fitted arrays and outputs are in the *output* namespace — X's under ``array_api_dispatch``, NumPy
otherwise. Pickles always hold NumPy arrays, so a model fitted on a GPU loads on a machine
without one.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import sklearn
from sklearn.base import BaseEstimator
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .._xp import Backend, backend_of, get_backend, is_array, is_non_numpy_array, namespace_of, to_numpy
from ..initializers import glorot_uniform_layers
from ..train.linkmodel import LinkModel
from .lbfgs import LbfgsMixin
from .stochastic import StochasticMixin

STOCHASTIC_SOLVERS = ("sgd", "adam")
#: scikit-learn's constraints on the shared parameters, plus ``backend``.
PARAMETER_CONSTRAINTS: dict = {**SkMLPClassifier._parameter_constraints, "backend": [None, str]}


def stochastic_only(est: Any) -> bool:
    """For ``available_if``: ``partial_fit`` exists only for the ``sgd`` and ``adam`` solvers."""
    if est.solver not in STOCHASTIC_SOLVERS:
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. {est.solver} is not stochastic."
        )
    return True


def on_host(a: Any) -> Any:
    """``a`` as NumPy where it is an array of another library; anything else unchanged."""
    return to_numpy(a) if is_non_numpy_array(a) else a


def device_dtype(bk: Backend, *arrays: Any) -> str:
    """NumPy's promotion of the arrays' float dtypes (its name); float32 where the device has no
    float64."""
    name = np.result_type(*(to_numpy(a[:1, ...] if a.ndim else a).dtype for a in arrays)).name
    return name if name == "float32" or bk.float64 else "float32"


def dispatch_on() -> bool:
    """Whether scikit-learn's ``array_api_dispatch`` is on (then arrays follow X's namespace)."""
    return bool(sklearn.get_config()["array_api_dispatch"])


class BaseMLP(StochasticMixin, LbfgsMixin, BaseEstimator):
    """scikit-learn's ``BaseMultilayerPerceptron``, computing on any portnn backend."""

    _parameter_constraints: ClassVar[dict] = PARAMETER_CONSTRAINTS

    def _init_params(self, params: dict) -> None:
        for name, value in params.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    # -- where arrays live -----------------------------------------------------------------
    def _backends(self, X: Any) -> tuple[Backend, Backend]:
        """(compute backend, output backend) for input ``X``."""
        out = backend_of(X) if dispatch_on() and is_array(X) else get_backend("numpy")
        return (get_backend(self.backend) if self.backend else out), out

    def _check_same_namespace(self, X: Any, method: str) -> None:
        """scikit-learn's ``check_same_namespace``: under ``array_api_dispatch``, X must be of the
        namespace and device that fit saw."""
        if not dispatch_on():
            return
        fitted = self.coefs_[0]
        x_bk, fit_bk = backend_of(X) if is_array(X) else get_backend("numpy"), backend_of(fitted)
        if x_bk.same_library(fit_bk) and (fit_bk.arrays_are_numpy or X.device == fitted.device):
            return
        if not x_bk.same_library(fit_bk):
            what = f"Array namespaces used during fit ({namespace_of(fitted).__name__}) and {method} ({x_bk.library}) differ."
        else:
            what = f"Devices used during fit ({fitted.device}) and {method} ({X.device}) differ."
        raise ValueError(
            f"Inputs passed to {type(self).__name__}.{method}() must use the same namespace and the same device "
            f"as those passed to fit(). {what}"
        )

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        for key in ("coefs_", "intercepts_", "_best_coefs", "_best_intercepts"):
            if key in state:
                state[key] = [to_numpy(a) for a in state[key]]
        return state

    # -- fit ---------------------------------------------------------------------------------
    def _initialize(self, y: np.ndarray, layer_units: list[int], dtype: Any) -> None:
        self.n_iter_, self.t_ = 0, 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        gain = 2.0 if self.activation == "logistic" else 6.0
        coefs, intercepts = glorot_uniform_layers(self._random_state, layer_units, gain)
        self.coefs_ = [c.astype(dtype, copy=False) for c in coefs]
        self.intercepts_ = [b.astype(dtype, copy=False) for b in intercepts]
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [b.copy() for b in self.intercepts_]
        self._optimizer = None
        if self.solver in STOCHASTIC_SOLVERS:
            self.loss_curve_: list = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_: list | None = []
                self.best_validation_score_, self.best_loss_ = -np.inf, None
            else:
                self.best_loss_, self.validation_scores_, self.best_validation_score_ = np.inf, None, None

    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if np.any(np.array(sizes) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return sizes

    def _fit(self, X: Any, y: Any, sample_weight: Any = None, incremental: bool = False) -> BaseMLP:
        self._validate_params()
        hidden = self._hidden_sizes()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, on_host(y), incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = on_host(_check_sample_weight(on_host(sample_weight), X))
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        self.n_outputs_ = y.shape[1]
        layer_units = [X.shape[1], *hidden, self.n_outputs_]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, to_numpy(X[:1, ...]).dtype)
        bk, out = self._backends(X)
        dtype = device_dtype(bk, X)
        if self.solver not in STOCHASTIC_SOLVERS and bk.float64:
            dtype = "float64"  # SciPy's parameters are float64: compute in float64, as NumPy would
        model = self._model(bk, dtype)
        dev = [None if a is None else bk.asarray(a, bk.dtype(dtype)) for a in (X, y, sample_weight)]
        if self.solver in STOCHASTIC_SOLVERS:
            self._fit_stochastic(model, dev, (y, sample_weight), incremental)
        else:
            self._fit_lbfgs(model, dev)
        for name, arrays in zip(("coefs_", "intercepts_"), model.arrays()):
            setattr(self, name, [out.asarray(a) for a in arrays])
        for name in ("_best_coefs", "_best_intercepts"):  # absent where coefs_ were set by hand
            if hasattr(self, name):
                setattr(self, name, [out.asarray(a) for a in getattr(self, name)])
        solver = getattr(self, "_optimizer", None)
        if solver is not None:  # its state kept where the weights are
            solver.optimizer.move(out, out.dtype(dtype))
        if not model.all_finite():
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain large values and need to"
                " be preprocessed."
            )
        return self

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> BaseMLP:
        """Fit the model to data matrix X and target(s) y (see scikit-learn's ``fit``).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(stochastic_only)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> BaseMLP:
        """One epoch of the stochastic solver over X, y."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    # -- predict -----------------------------------------------------------------------------
    def _validate_X(self, X: Any, reset: bool) -> Any:
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=self._float_dtypes(X), reset=reset)
        return X.toarray() if hasattr(X, "toarray") else X

    @staticmethod
    def _float_dtypes(X: Any) -> tuple:
        """The float dtypes X may keep (others become the first): X's namespace's under dispatch."""
        if dispatch_on() and is_non_numpy_array(X):
            xp = namespace_of(X)
            return (xp.float64, xp.float32)
        return (np.float64, np.float32)

    def _validate_Xy(self, X: Any, y: Any, reset: bool, y_numeric: bool = False) -> tuple[Any, np.ndarray]:
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=y_numeric,
            dtype=self._float_dtypes(X),
            reset=reset,
        )
        y = on_host(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return (X.toarray() if hasattr(X, "toarray") else X), y

    def _forward_pass_fast(self, X: Any, method: str) -> tuple[Any, Backend]:
        """The network's output for X, on the output backend (and that backend)."""
        check_is_fitted(self)
        self._check_same_namespace(X, method)
        X = self._validate_X(X, reset=False)
        bk, out = self._backends(X)
        dtype = device_dtype(bk, X, self.coefs_[0])  # NumPy's promotion, on every backend
        return out.asarray(self._model(bk, dtype).predict(X)), out

    def _model(self, bk: Backend, dtype: str) -> LinkModel:
        """The core network with the fitted (or initial) weights, on ``bk`` in ``dtype``."""
        arrays = (self.coefs_, self.intercepts_, self.activation, self.out_activation_)
        return LinkModel(bk, dtype, *arrays, self.loss, float(self.alpha))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = True
        return tags
