"""The ``lbfgs`` solver: ``scipy.optimize.minimize(method="L-BFGS-B")`` on the host, driving the
loss and gradient of a :class:`~portnn.train.linkmodel.LinkModel` on the estimator's backend (one
parameter vector down and one gradient vector up per evaluation, laid out as scikit-learn packs
them), as scikit-learn's ``_fit_lbfgs`` does with NumPy."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning

from .._xp import to_numpy
from ..train.linkmodel import LinkModel
from .alerts import warn


def check_result(result: Any, max_iter: int) -> int:
    """scikit-learn's ``_check_optimize_result`` for lbfgs: the iteration count, and a
    ``ConvergenceWarning`` where L-BFGS-B did not converge."""
    n_iter = min(result.nit, max_iter)
    if result.status != 0:
        msg = f"lbfgs failed to converge after {n_iter} iteration(s) (status={result.status}):\n{result.message}\n"
        if n_iter == max_iter:
            msg += f"\nIncrease the number of iterations to improve the convergence (max_iter={max_iter})."
        msg += "\nYou might also want to scale the data as shown in:\n    https://scikit-learn.org/stable/modules/preprocessing.html"
        warn(msg, ConvergenceWarning)
    return n_iter


class LbfgsMixin:
    """The ``lbfgs`` solver's fit, for :class:`~portnn.sklearn.base.BaseMLP`."""

    def _fit_lbfgs(self: Any, model: LinkModel, data: tuple) -> None:
        """Fit ``model`` (float64 where the backend has it: SciPy's parameters are) on ``data``."""

        def loss_grad(packed: np.ndarray) -> tuple[Any, np.ndarray]:
            model.assign_flat(packed)
            loss, grad = model.loss_and_flat_grad(*data)
            return to_numpy(loss)[()], to_numpy(grad)

        options = {"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol}
        x0 = to_numpy(model.flat())
        result = scipy.optimize.minimize(loss_grad, x0, method="L-BFGS-B", jac=True, options=options)
        self.n_iter_ = check_result(result, self.max_iter)
        self.loss_ = result.fun
        model.assign_flat(result.x)
