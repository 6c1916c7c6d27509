"""A network's parameters as views of one flat array, and their gradients of another, where the
backend updates arrays in place (NumPy, CuPy, torch, array-api-strict).

The network owns this storage, and everything that works on "all parameters" goes through it:
every update portnn's optimizers make is elementwise, so one call on the flat arrays does what one
call per parameter does, with the same numbers (a tiny network's step pays per call, not per
element); the divergence guard copies the flat array in one call too. Nobody checks per step
whether a copy is still in step: loading, restoring and ``to()`` write into the block or rebuild
it, a gradient hook that replaces arrays is followed by :meth:`ParameterBlock.gather_grads`, and a
replaced optimizer state is taken in at the next step (:attr:`FlatState.stale`). Where arrays are
not writeable (JAX), the owner is a :class:`~portnn.nn.paramlist.ParameterList` instead.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._xp import Backend
    from .parameter import Parameter

Array = Any


ALIGN_BYTES = 64


def _itemsize(backend: Backend, dtype: Any) -> int:
    return int(backend.xp.finfo(dtype).bits) // 8


class ParameterBlock:
    """``values`` and ``grads``: 1-D arrays whose parts, in order, are the parameters' arrays.

    >>> import portnn as pn
    >>> net = pn.Sequential(pn.Dense(2, 3), backend="numpy", dtype="float64", seed=0)
    >>> block = net.parameter_block
    >>> block.values.shape, block.intact()  # the weight's 6 values and the bias's 3, each padded to 64 bytes
    ((16,), True)
    >>> block.values[...] = 0.0  # every parameter with it
    >>> float(net.xp.sum(net.xp.abs(net.state_dict()["0.weight"])))
    0.0
    """

    def __init__(self, backend: Backend, parameters: list[Parameter], values: Array, grads: Array, align: int) -> None:
        self.backend, self.values, self.grads, self.align = backend, values, grads, align
        self.names = [p.name for p in parameters]
        self.shapes = [tuple(p.value.shape) for p in parameters]
        value_views, grad_views = self.views(values), self.views(grads)
        for p, value, grad in zip(parameters, value_views, grad_views):
            p.value, p.grad = backend.copy_into(value, p.value), backend.copy_into(grad, p.grad)
        self.value_slots = [(p.store, p.key, view) for p, view in zip(parameters, value_views)]
        self.index = {name: i for i, name in enumerate(self.names)}
        self.grad_slots = [(p.grads, p.key, view) for p, view in zip(parameters, grad_views)]

    @classmethod
    def build(cls, backend: Backend, parameters: list[Parameter]) -> ParameterBlock | None:
        """The block of ``parameters`` (all of one dtype), or None where the backend cannot keep
        them as views of one array (JAX: arrays are immutable)."""
        if not parameters or not backend.writeable or len({p.value.dtype for p in parameters}) != 1:
            return None
        xp, dtype = backend.xp, parameters[0].value.dtype
        # Each part starts on a 64-byte boundary (the gaps stay zero: zero gradients never move
        # them), so vectorised kernels (CuPy's float4 updates) take every part, not only the first.
        align = max(1, ALIGN_BYTES // _itemsize(backend, dtype))
        total = sum(-(-math.prod(tuple(p.value.shape)) // align) * align for p in parameters)
        values = xp.zeros((total,), dtype=dtype, device=backend.device)
        if backend.flat_views(values, [tuple(p.value.shape) for p in parameters], align) is None:
            return None
        return cls(backend, parameters, values, xp.zeros_like(values), align)

    def set_value(self, name: str, array: Array) -> None:
        """``array``'s values (any backend) into parameter ``name``'s view of the block, which
        stays the parameter's array (what assigning ``Parameter.value`` does)."""
        store, key, view = self.value_slots[self.index[name]]
        array = self.backend.asarray(array, view.dtype)
        if tuple(array.shape) != tuple(view.shape):
            raise ValueError(f"{name}: expected an array of shape {tuple(view.shape)}, got {tuple(array.shape)}")
        store[key] = self.backend.copy_into(view, array)

    def restore(self, values: Array) -> None:
        """Put ``values`` (a copy of :attr:`values`) back, and make every parameter its view of the
        block again, whatever array replaced it meanwhile (the divergence guard's restore)."""
        self.backend.copy_into(self.values, values)
        for store, key, view in self.value_slots:
            store[key] = view

    def gather_grads(self) -> None:
        """Copy gradients that were replaced by other arrays (a hook's) into ``grads``, which the
        update reads; the replacing arrays stay the parameters' ``grad``. The step calls this after
        a gradient hook."""
        copy = self.backend.copy_into
        for store, key, view in self.grad_slots:
            current = store[key]
            if current is not view:
                copy(view, current)

    def reattach_grads(self) -> None:
        """Make each gradient its view of ``grads`` again, with its current values, where it was
        replaced (not the parameters: a replaced parameter may be shared on purpose)."""
        for store, key, view in self.grad_slots:
            current = store[key]
            if current is not view and tuple(current.shape) == tuple(view.shape):
                store[key] = self.backend.copy_into(view, current)

    def views(self, flat: Array) -> list[Array]:
        """Views of another flat array (an optimizer's state) shaped like the parameters."""
        return self.backend.flat_views(flat, self.shapes, self.align) or []

    def intact(self) -> bool:
        """Whether every parameter and gradient is still its view of the block (a diagnostic:
        no step asks it)."""
        return all_in_place(self.value_slots) and all_in_place(self.grad_slots)


def all_in_place(slots: list[tuple[dict[str, Array], str, Array]]) -> bool:
    """Whether each ``(dict, key, array)`` of ``slots`` still has ``dict[key] is array``."""
    for store, key, array in slots:
        if store[key] is not array:
            return False
    return True


class FlatState:
    """An optimizer's state for a :class:`ParameterBlock`: one flat array per state name, whose
    parts are the per-parameter arrays in ``optimizer.state`` (kept there, with their values, for
    checkpoints and the per-parameter path). ``stale`` is set when the optimizer's state is
    replaced wholesale: the optimizer then builds a new one from it before its next update."""

    def __init__(self, block: ParameterBlock, optimizer: Any) -> None:
        bk, state = block.backend, optimizer.state
        self.block, self.stale = block, False
        self.state = {name: bk.xp.zeros_like(block.values) for name in optimizer.buffer_names}
        self.slots = [*block.value_slots, *block.grad_slots]  # what intact() looks at
        for name, flat in self.state.items():
            for key, view in zip(block.names, block.views(flat)):
                entries = state[key]
                entries[name] = bk.copy_into(view, entries[name]) if name in entries else view
                self.slots.append((entries, name, view))

    @classmethod
    def build(cls, block: ParameterBlock | None, optimizer: Any) -> FlatState | None:
        """The flat state where ``optimizer`` (bound: its ``parameters`` and ``state``) updates
        exactly ``block``'s parameters, else None. Gradients replaced since the block was made
        (a hook's, a data-parallel fit's) become its views again first."""
        if block is None or [p.name for p in optimizer.parameters] != block.names:
            return None
        block.reattach_grads()
        return cls(block, optimizer) if block.intact() else None

    def intact(self) -> bool:
        """Whether this is the optimizer's current state and every parameter, gradient and state
        array is still its view of the flat arrays (a diagnostic: no step asks it)."""
        return not self.stale and all_in_place(self.slots)
