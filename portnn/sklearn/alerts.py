"""scikit-learn's warnings, raised (:func:`portnn.alerts.warn`) so that filters on scikit-learn's MLP
module or on portnn's apply to them."""

from __future__ import annotations

from .. import alerts

#: portnn's module name, and the one scikit-learn raises its MLP's warnings from.
MODULES = ("portnn.sklearn", "sklearn.neural_network._multilayer_perceptron")


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    alerts.warn(message, category, MODULES)
