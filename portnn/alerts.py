"""Warnings raised under whichever of several module names the warning filters in force single out.

A library that stands in for another (portnn's scikit-learn estimators for scikit-learn's) can
raise its warnings so that filters written for either library apply: ``warnings.filterwarnings(...,
module="sklearn")`` and ``module="portnn"`` both silence them. A filter's module is a pattern matched
at the start of one module name, and no name starts with both, so :func:`warn` asks the filters in
force which of the names the first filter that tells them apart would match, and raises the
warning under that one, pointing at the first line outside the library that led to it.

>>> import warnings
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     warnings.filterwarnings("ignore", module="other")
...     warn("silenced", UserWarning, modules=("portnn.mine", "other.theirs"))
>>> caught
[]
"""

from __future__ import annotations

import re
import sys
import warnings


def warn(message: str, category: type[Warning], modules: tuple[str, ...], inside: str = "portnn.") -> None:
    """``warnings.warn(message, category)`` from the first caller whose module does not start
    with ``inside``, under the one of ``modules`` that the filters in force single out."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(inside):
        frame = frame.f_back
    registry = frame.f_globals.setdefault("__warningregistry__", {})
    module = module_name(message, category, frame.f_lineno, modules)
    warnings.warn_explicit(message, category, frame.f_code.co_filename, frame.f_lineno, module, registry)


def module_name(message: str, category: type[Warning], lineno: int, modules: tuple[str, ...]) -> str:
    """The first of ``modules`` that the first filter applying to any of them matches (the first
    of ``modules`` where no filter applies).

    >>> with warnings.catch_warnings():
    ...     warnings.filterwarnings("error", module="b")
    ...     module_name("text", UserWarning, 1, ("a.x", "b.y"))
    'b.y'
    """
    for _action, text, kind, module, line in warnings.filters:
        if not (matches(text, message) and issubclass(category, kind) and line in (0, lineno)):
            continue
        for name in modules:
            if matches(module, name):
                return name
    return modules[0]


def matches(pattern: re.Pattern | None, text: str) -> bool:
    """Whether a filter's pattern (None: any) matches ``text`` as ``warnings`` matches it."""
    return pattern is None or pattern.match(text) is not None
