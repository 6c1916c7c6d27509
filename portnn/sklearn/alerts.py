"""scikit-learn's warnings, raised so that the filters users set for scikit-learn apply to them.

scikit-learn raises its MLP's warnings from ``sklearn.neural_network._multilayer_perceptron``, and
users silence them with ``warnings.filterwarnings(..., module="sklearn")``; a filter on
``module="portnn"`` should reach them too. A filter's module is a pattern matched at the start of
one module name, and no name starts with both, so :func:`warn` asks the filters in force which of
the two names the first filter that tells them apart would match, and raises the warning under
that one, pointing at the line that called the estimator.

>>> import warnings
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     warnings.filterwarnings("ignore", module="sklearn")
...     warn("silenced", UserWarning)
>>> caught
[]
"""

from __future__ import annotations

import re
import sys
import warnings

#: Where scikit-learn raises the MLP's warnings, and the name portnn's own filters match.
SKLEARN_MODULE = "sklearn.neural_network._multilayer_perceptron"
PORTNN_MODULE = "portnn.sklearn"


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn(message, category)`` from the first caller outside portnn, under the
    module name (scikit-learn's or portnn's) that the filters in force single out."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("portnn."):
        frame = frame.f_back
    registry = frame.f_globals.setdefault("__warningregistry__", {})
    module = module_name(message, category, frame.f_lineno)
    warnings.warn_explicit(message, category, frame.f_code.co_filename, frame.f_lineno, module, registry)


def module_name(message: str, category: type[Warning], lineno: int) -> str:
    """scikit-learn's module name or portnn's: one that the first filter applying to either of them
    matches (portnn's where that filter matches both, or none applies)."""
    for _action, text, kind, module, line in warnings.filters:
        if not (matches(text, message) and issubclass(category, kind) and line in (0, lineno)):
            continue
        if matches(module, PORTNN_MODULE):
            return PORTNN_MODULE  # the filter that applies, under either name
        if matches(module, SKLEARN_MODULE):
            return SKLEARN_MODULE
    return PORTNN_MODULE


def matches(pattern: re.Pattern | None, text: str) -> bool:
    """Whether a filter's pattern (None: any) matches ``text`` as ``warnings`` matches it."""
    return pattern is None or pattern.match(text) is not None
