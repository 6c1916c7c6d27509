"""scikit-learn estimators: :class:`MLPClassifier` and :class:`MLPRegressor`, drop-in replacements
for ``sklearn.neural_network``'s (same parameters, attributes and numbers) that train on any portnn
backend, GPUs included. Needs the ``sklearn`` extra: ``pip install portnn[sklearn]``.

Swapping is one import:

>>> from portnn.sklearn import MLPClassifier  # instead of: from sklearn.neural_network import ...
>>> MLPClassifier(backend="numpy").get_params()["hidden_layer_sizes"]
(100,)

Modules: ``base`` (what the estimators share), ``solvers`` (sgd, adam and lbfgs around the core's
:class:`~portnn.train.linkmodel.LinkModel`), ``classifier``, ``regressor``.
"""

from .classifier import MLPClassifier
from .regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
