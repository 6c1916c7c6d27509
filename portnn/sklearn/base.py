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
from sklearn.neural_network._multilayer_perceptron import BaseMultilayerPerceptron as SkBase
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils._array_api import check_same_namespace
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .._xp import Backend, backend_of, get_backend, is_array, is_non_numpy_array, namespace_of, to_numpy
from ..initializers import glorot_uniform_layers
from ..train.linkmodel import LinkModel
from .solvers import LbfgsMixin, StochasticMixin

STOCHASTIC_SOLVERS = ("sgd", "adam")
#: scikit-learn's constraints on the shared parameters, plus ``backend``.
PARAMETER_CONSTRAINTS: dict = {**SkBase._parameter_constraints, "backend": [None, str]}
#: For ``available_if``: ``partial_fit`` exists for the stochastic solvers only (scikit-learn's check).
stochastic_only = SkBase._check_solver
NO_Y = "no_validation"  # scikit-learn's marker for "validate X alone"


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
    # scikit-learn's own: the fitted attributes a first fit sets up, and partial_fit's availability
    _initialize, _check_solver = SkBase._initialize, stochastic_only

    def _init_params(self, params: dict) -> None:
        for name, value in params.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    # -- where arrays live -----------------------------------------------------------------
    def _backends(self, X: Any) -> tuple[Backend, Backend]:
        """(compute backend, output backend) for input ``X``."""
        out = backend_of(X) if dispatch_on() and is_array(X) else get_backend("numpy")
        return (get_backend(self.backend) if self.backend else out), out

    @property
    def _first_coef(self) -> Any:  # what scikit-learn's check_same_namespace compares X with
        return self.coefs_[0]

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        for key in ("coefs_", "intercepts_", "_best_coefs", "_best_intercepts"):
            if key in state:
                state[key] = [to_numpy(a) for a in state[key]]
        return state

    # -- fit ---------------------------------------------------------------------------------
    def _init_coef(self, fan_in: int, fan_out: int, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
        """One layer's weights and biases for ``_initialize``, drawn as scikit-learn draws them."""
        gain = 2.0 if self.activation == "logistic" else 6.0
        (coef,), (intercept,) = glorot_uniform_layers(self._random_state, [fan_in, fan_out], gain)
        return coef.astype(dtype, copy=False), intercept.astype(dtype, copy=False)

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
        self.coefs_, self.intercepts_ = model.arrays()
        for name in ("coefs_", "intercepts_", "_best_coefs", "_best_intercepts"):  # _best_*: absent if set by hand
            if hasattr(self, name):
                setattr(self, name, [out.asarray(a) for a in getattr(self, name)])
        if getattr(self, "_core_optimizer", None) is not None:  # its state kept where the weights are
            self._core_optimizer.move(out, out.dtype(dtype))
        if not model.all_finite():
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain large values and need to"
                " be preprocessed."
            )
        return self

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> BaseMLP:
        """Fit the model to X (dense or sparse, n_samples x n_features) and target(s) y, each row
        weighing ``sample_weight`` (default 1), as scikit-learn's ``fit`` does; returns self."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(stochastic_only)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> BaseMLP:
        """One epoch of the stochastic solver over X, y."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    # -- validation hooks (the regressor's; the classifier's own) ---------------------------------
    def _validate(self, X: Any, y: Any = NO_Y, reset: bool = False, y_numeric: bool = False) -> Any:
        """X as scikit-learn validates it, dense, of its float dtype (X's namespace's under dispatch);
        given y (None too: refused), (X, y) with y on the host and a single column as 1-D."""
        xp = namespace_of(X) if dispatch_on() and is_non_numpy_array(X) else np
        check = {"accept_sparse": ["csr", "csc"], "dtype": (xp.float64, xp.float32), "reset": reset}
        if y is NO_Y:
            X = validate_data(self, X, **check)
            return X.toarray() if hasattr(X, "toarray") else X
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=y_numeric, **check)
        y = on_host(y)
        if y.shape[1:] == (1,):
            y = column_or_1d(y, warn=True)
        return (X.toarray() if hasattr(X, "toarray") else X), y

    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple[Any, np.ndarray]:
        return self._validate(X, y, reset, y_numeric=True)

    # -- predict -----------------------------------------------------------------------------
    def _forward_pass_fast(self, X: Any, method: str) -> tuple[Any, Backend]:
        """The network's output for X, on the output backend (and that backend)."""
        check_is_fitted(self)
        check_same_namespace(X, self, attribute="_first_coef", method=method)
        X = self._validate(X)
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
