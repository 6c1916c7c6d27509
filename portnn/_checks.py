"""Input checks done once at the public entry points (fit, predict, value_and_grad, losses):
clear errors that name the argument, what was expected and what was received."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._xp import Backend, is_array, is_non_numpy_array, to_numpy

Array = Any


def kind_check(name: str, x: Any) -> Any:
    """Reject strings, objects and complex numbers; return ``x`` (as NumPy if it was a list)."""
    if isinstance(x, (str, bytes, dict, set)) or x is None:
        raise TypeError(f"{name}: expected an array of numbers, got {type(x).__name__}")
    if not is_array(x):
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"{name}: cannot be read as an array of numbers ({exc})") from exc
    kind = getattr(x.dtype, "kind", None) if isinstance(x, np.ndarray) else None
    if kind in ("O", "U", "S", "V", "M", "m"):
        raise TypeError(f"{name}: expected numbers, got an array of dtype {x.dtype}")
    if kind == "c" or "complex" in str(x.dtype):
        raise TypeError(f"{name}: complex data is not supported (dtype {x.dtype}); pass the real part")
    return x


def _first_bad_row(host: np.ndarray) -> tuple[int, str]:
    flat = host.reshape(host.shape[0], -1) if host.ndim > 1 else host.reshape(-1, 1)
    bad_rows = ~np.isfinite(flat).all(axis=1)
    row = int(bad_rows.argmax())
    what = "NaN" if np.isnan(flat[row]).any() else "infinity"
    return row, what


def check_finite(name: str, arr: Array, backend: Backend) -> None:
    """Raise ``ValueError`` naming the first row with NaN or infinity (one device read)."""
    xp = backend.xp
    if not xp.isdtype(arr.dtype, "real floating"):
        return
    # One pass, no temporary: a NaN or infinity anywhere makes the sum non-finite. A finite sum
    # proves every element finite; a non-finite one (perhaps a mere overflow) gets the exact check.
    with backend.floating_point_errors_ignored():  # the sum may overflow; that is not an error
        if bool(xp.isfinite(xp.sum(arr))):
            return
    if not bool(xp.all(xp.isfinite(arr))):
        row, what = _first_bad_row(to_numpy(arr, copy=False))
        raise ValueError(f"{name}: contains {what}; first offending row is {row}")


def features(name: str, X: Any, backend: Backend, dtype: Any, n_features: int | None) -> Array:
    """``X`` as a 2-D finite array of the model's backend and dtype, with ``n_features`` columns."""
    X = kind_check(name, X)
    if len(X.shape) != 2:
        raise ValueError(f"{name}: expected a 2-D array (samples, features), got shape {tuple(X.shape)}")
    if X.shape[0] == 0:
        raise ValueError(f"{name}: has zero rows (shape {tuple(X.shape)})")
    if X.shape[1] == 0:
        raise ValueError(f"{name}: has zero features (shape {tuple(X.shape)})")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name}: the model takes {n_features} features, got {X.shape[1]} (shape {tuple(X.shape)})")
    arr = backend.asarray(X, dtype)
    check_finite(name, arr, backend)
    return arr


def reject_string_labels(name: str, y: Any) -> Any:
    """``TypeError`` naming the fix when ``y`` holds strings (class names); else ``y``, as NumPy if it
    was a list."""
    if y is None or isinstance(y, (str, bytes, dict, set)) or is_non_numpy_array(y):
        return y  # kind_check refuses these types; other libraries have no string arrays
    try:
        y = np.asarray(y)
    except (ValueError, TypeError):
        return y  # kind_check says why
    if y.dtype.kind in ("U", "S") or (y.dtype.kind == "O" and any(isinstance(v, (str, bytes)) for v in y.flat)):
        raise TypeError(
            f"{name}: class labels are strings (dtype {y.dtype}); encode them as integers first: "
            f"classes, y_int = np.unique(y, return_inverse=True)"
        )
    return y


def targets(name: str, y: Any, backend: Backend, dtype: Any, n_rows: int) -> Array:
    """``y`` on the model's backend: integers stay integers (class labels), floats take ``dtype``.
    Strings (class names) are refused with how to encode them."""
    y = kind_check(name, reject_string_labels(name, y))
    if len(y.shape) == 0 or y.shape[0] != n_rows:
        raise ValueError(f"{name}: expected {n_rows} rows to match X, got shape {tuple(y.shape)}")
    is_integer = "int" in str(y.dtype)  # integer class labels stay integers; the loss decides
    arr = backend.asarray(y, None if is_integer else dtype)
    check_finite(name, arr, backend)
    return arr


def number_in_range(name: str, value: Any, low: float, high: float = math.inf, low_open: bool = False) -> float:
    """``value`` as a float when it is a finite number in ``[low, high)`` (``(low, high)`` with
    ``low_open``); else ``TypeError`` or ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"{name}: expected a finite number, got {value!r}")
    if value < low or value >= high or (low_open and value == low):
        bound = "(" if low_open else "["
        raise ValueError(f"{name}: expected a value in {bound}{low}, {high}), got {value}")
    return float(value)


def same_shape(name: str, value: Array, like: Array) -> Array:
    """``value``, when its shape is ``like``'s; else ``ValueError`` naming ``name`` (an in-place
    copy would broadcast a smaller array silently)."""
    if tuple(value.shape) != tuple(like.shape):
        raise ValueError(f"{name}: expected shape {tuple(like.shape)}, got {tuple(value.shape)}")
    return value


def positive_int(name: str, value: Any, allow_none: bool = False) -> int | None:
    """``value`` as a positive int (or None where allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected a positive int, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{name}: expected a positive int, got {value}")
    return int(value)


def by_name(what: str, value: Any, cls: type, registry: dict[str, Any]) -> Any:
    """``value`` itself when it is a ``cls``, else a new instance of the class registered under the
    name ``value`` (case-insensitive); ``ValueError`` listing the valid names otherwise."""
    if isinstance(value, cls):
        return value
    if not isinstance(value, str) or value.lower() not in registry:
        raise ValueError(f"{what}: unknown name {value!r}; expected one of {sorted(registry)}")
    return registry[value.lower()]()
