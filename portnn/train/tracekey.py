"""What a traced training step depends on, as a hashable value: the key under which compiled steps
are shared between networks (see :mod:`portnn.train.compiled`).

:func:`describe` turns the objects a step traces (layers, loss, optimizer, gradient hook) into
nested tuples of their types and settings, by value, so that two networks built alike describe
alike. It errs towards not sharing: an array, a function or anything it cannot read by value is
described by identity (the object itself is kept in the key, so its id is not reused while the
key lives). Run state that a trace writes and never reads is left out (:data:`RUN_STATE`).

>>> import portnn as pn
>>> describe(pn.Dense(2, 3, activation="relu")) == describe(pn.Dense(2, 3, activation="relu"))
True
>>> describe(pn.LeakyReLU(0.1)) == describe(pn.LeakyReLU(0.2))
False
"""

from __future__ import annotations

import types
from typing import Any

from .._xp import Backend, is_array
from ..nn.layers import Layer
from ..nn.parameter import Buffer

# Attributes that hold a run's state, not a setting: the random generators (a step with Dropout
# never compiles), the arrays a layer is placed with, and what L2Penalty records during a step
# (the batch's row count, which the trace sets before it reads it).
RUN_STATE = frozenset({"rng", "params", "grads", "buffers", "divisor"})
_PLAIN = (type(None), bool, int, float, complex, str, bytes)
_BY_IDENTITY = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType, type)


class Same:
    """``value`` compared by identity (hashable whatever it is): a part of a key that cannot be
    read by value. The key holds it, so no other object takes its id while the key is cached."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Same) and other.value is self.value

    def __hash__(self) -> int:
        return id(self.value)


def describe(value: Any, depth: int = 0) -> Any:
    """``value`` as a hashable description, equal for objects that trace alike (see the module)."""
    if isinstance(value, _PLAIN):
        return (type(value).__name__, value)
    if depth > 8 or isinstance(value, _BY_IDENTITY) or is_array(value):
        return Same(value)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(describe(v, depth + 1) for v in value))
    if isinstance(value, dict):
        items = sorted(((repr(k), describe(v, depth + 1)) for k, v in value.items()), key=lambda kv: kv[0])
        return ("dict", tuple(items))
    if isinstance(value, Backend):
        return ("backend", type(value), value.spec)
    if isinstance(value, Buffer):  # a parameter a hook or loss watches: the network's, by name
        return (type(value).__name__, value.name)
    if type(value).__eq__ is not object.__eq__ and type(value).__hash__ is not None:
        return (type(value), value)  # compared as its class says (a MetricSet: by its metrics' settings)
    fields = getattr(value, "__dict__", None)
    if fields is None:
        return Same(value)
    bound = value.bound_attributes if isinstance(value, Layer) else ()
    settings = {k: v for k, v in fields.items() if k not in RUN_STATE and k not in bound}
    return (type(value), describe(settings, depth + 1))
