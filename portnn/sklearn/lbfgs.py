"""The ``lbfgs`` solver: ``scipy.optimize.minimize(method="L-BFGS-B")`` on the host, driving a loss
and gradient computed on the estimator's backend (one parameter vector down and one gradient
vector up per evaluation), as scikit-learn's ``_fit_lbfgs`` does with NumPy.

>>> import numpy as np
>>> layout = Layout([3, 2, 1])
>>> coefs, intercepts = layout.unpack(np.arange(11.0))
>>> [c.shape for c in coefs], [b.tolist() for b in intercepts]
([(3, 2), (2, 1)], [[8.0, 9.0], [10.0]])
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning

from .._xp import to_numpy
from .alerts import warn
from .model import Model


class Layout:
    """Where each layer's weights and biases sit in scikit-learn's packed vector (all the
    coefficients, then all the intercepts)."""

    def __init__(self, layer_units: list[int]) -> None:
        shapes = list(pairwise(layer_units))
        sizes = [a * b for a, b in shapes] + [b for _, b in shapes]
        ends = np.cumsum(sizes)
        self.shapes = shapes
        self.bounds = list(zip(ends - sizes, ends))

    def unpack(self, packed: np.ndarray) -> tuple[list, list]:
        """SciPy's flat vector back into weight matrices and bias vectors (host views)."""
        n = len(self.shapes)
        coefs = [np.reshape(packed[s:e], shape) for (s, e), shape in zip(self.bounds[:n], self.shapes)]
        intercepts = [packed[s:e] for s, e in self.bounds[n:]]
        return coefs, intercepts


def pack(xp: Any, arrays: list) -> Any:
    """The arrays flattened and concatenated, in order (``numpy.hstack`` of ravels)."""
    return xp.concat([xp.reshape(a, (-1,)) for a in arrays])


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

    def _fit_lbfgs(self: Any, model: Model, data: tuple, layer_units: list[int]) -> None:
        """Fit ``model`` (float64 where the backend has it: SciPy's parameters are) on ``data``."""
        bk = model.bk
        X, y, sw = (None if a is None else bk.asarray(a, model.net.dtype) for a in data)
        layout = Layout(layer_units)

        def loss_grad(packed: np.ndarray) -> tuple[Any, np.ndarray]:
            model.assign(*layout.unpack(packed))
            loss, grads = model.loss_and_grads(X, y, sw)
            return to_numpy(loss)[()], to_numpy(pack(bk.xp, grads))

        x0 = np.hstack([to_numpy(a).ravel() for a in model.params])
        options = {"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol}
        result = scipy.optimize.minimize(loss_grad, x0, method="L-BFGS-B", jac=True, options=options)
        self.n_iter_ = check_result(result, self.max_iter)
        self.loss_ = result.fun
        model.assign(*layout.unpack(result.x))
