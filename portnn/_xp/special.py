"""SciPy's special functions that scikit-learn computes with, on any backend: SciPy's own where
the backend offers them (:attr:`Backend.scipy_special`, NumPy: the same numbers to the bit), the
standard's forms elsewhere (equal up to rounding).

NumPy's vectorised ``exp`` and ``log`` differ from the C library's, which SciPy's ``expit`` and
``xlogy`` call, in the last digit for some inputs; a long L-BFGS run amplifies such a digit until it
stops at another iteration, so a port of scikit-learn has to call the same functions.

>>> from portnn import get_backend
>>> bk = get_backend("numpy")
>>> float(expit(bk, bk.asarray(0.0))), float(xlogy(bk, bk.asarray(0.0), bk.asarray(0.0)))
(0.5, 0.0)
"""

from __future__ import annotations

from typing import Any

from .arrays import Array


def expit(bk: Any, z: Array) -> Array:
    """The logistic function ``1 / (1 + exp(-z))``, without overflow for any input."""
    special = bk.scipy_special
    if special is not None:
        return special.expit(z)
    xp = bk.xp
    e = xp.exp(-xp.abs(z))  # in (0, 1]: no overflow where z is very negative
    return xp.where(z >= 0, 1 / (1 + e), e / (1 + e))


def xlogy(bk: Any, x: Array, y: Array) -> Array:
    """``x * log(y)``, and 0 where ``x`` is 0 (unless ``y`` is NaN), as ``scipy.special.xlogy``."""
    special = bk.scipy_special
    if special is not None:
        return special.xlogy(x, y)
    xp = bk.xp
    zero = (x == 0) & ~xp.isnan(y)
    safe = xp.where(zero, xp.ones_like(y), y)
    product = x * xp.log(safe)
    return xp.where(zero, xp.zeros_like(product), product)
