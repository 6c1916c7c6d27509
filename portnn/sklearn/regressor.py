"""``MLPRegressor``: scikit-learn's multi-layer perceptron regressor on any portnn backend."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import StrOptions

from .base import PARAMETER_CONSTRAINTS, BaseMLP


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's ``MLPRegressor`` (same parameters,
    defaults, fitted attributes and numbers), trained on any portnn backend.

    Parameters
    ----------
    backend : str or None, default=None
        Where to train and predict: a portnn spec such as ``"torch:cuda"``. None trains on NumPy,
        or on X's own namespace and device when scikit-learn's ``array_api_dispatch`` is on.
        Every other parameter (``loss`` first) is ``sklearn.neural_network.MLPRegressor``'s.

    Examples
    --------
    >>> import numpy as np
    >>> from portnn.sklearn import MLPRegressor
    >>> X = np.linspace(-1, 1, 40).reshape(-1, 1)
    >>> reg = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0).fit(X, 2 * X.ravel())
    >>> reg.predict(X[:3]).shape, reg.n_outputs_, reg.out_activation_
    ((3,), 1, 'identity')
    """

    _parameter_constraints: ClassVar[dict] = {
        **PARAMETER_CONSTRAINTS,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(
        self,
        loss: str = "squared_error",
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

    def _score_predictions(self, output: np.ndarray, y: Any, sample_weight: Any) -> float:
        pred = output.ravel() if output.shape[1] == 1 else output
        if not np.isfinite(pred).all():
            return np.nan
        return float(r2_score(y, pred, sample_weight=sample_weight))

    # -- public methods ------------------------------------------------------------------------
    def predict(self, X: Any) -> Any:
        """Predict using the multi-layer perceptron: shape (n_samples,) or (n_samples, n_outputs)."""
        output, out = self._forward_pass_fast(X, "predict")
        return out.xp.reshape(output, (-1,)) if output.shape[1] == 1 else output
