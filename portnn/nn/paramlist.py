"""A network's parameters, their gradients and its buffers as flat lists, where the backend's
arrays cannot be updated in place (JAX): the counterpart of :mod:`portnn.nn.paramblock`.

There every update makes new arrays, and the entries of the layers' dicts (``layer.params``,
``layer.grads``, ``layer.buffers``), which the layers' forward and backprop closures read, are
rebound to them. The network's :class:`ParameterList` is where that is done for "all parameters":
the compiled step reads every array as one list and installs the step's results from one, the
optimizers' rebinding update replaces all parameters in one call, the divergence guard takes and
puts back its snapshots through it, and assigning ``Parameter.value`` (loading, a link model's
weights) replaces one. It reads the arrays from the layers' dicts each time rather than keeping
copies: the dict entries are the arrays the layers compute with (the backward pass rebinds the
gradients there, BatchNorm its running statistics, a callback may rebind a parameter), so there is
no second copy to fall out of step, and nothing checks one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .parameter import Buffer, Parameter

Array = Any
Slots = list[tuple[dict[str, Array], str]]


class ParameterList:
    """The arrays of a network's parameters (:meth:`values`), their gradients (:meth:`grads`) and
    its buffers (:meth:`buffers`), each a list in the network's order (``names``: the parameters'),
    read and replaced as a whole. Replacing rebinds the layers' dict entries, which is what the
    layers read. On JAX, ``network.parameter_list`` is the network's.

    >>> import numpy as np
    >>> from portnn.nn.parameter import Parameter
    >>> params, grads = {"w": np.zeros(2), "b": np.zeros(1)}, {"w": np.ones(2), "b": np.ones(1)}
    >>> owner = ParameterList([Parameter("0.w", params, grads, "w"), Parameter("0.b", params, grads, "b")], [])
    >>> owner.names, [g.tolist() for g in owner.grads()]
    (['0.w', '0.b'], [[1.0, 1.0], [1.0]])
    >>> owner.set_values([v - g for v, g in zip(owner.values(), owner.grads())])  # a rebinding update
    >>> params["w"].tolist(), params["b"].tolist()  # what the layer reads
    ([-1.0, -1.0], [-1.0])
    >>> owner.set_value("0.b", np.full(1, 5.0))
    >>> params["b"].tolist()
    [5.0]
    """

    def __init__(self, parameters: list[Parameter], buffers: list[Buffer]) -> None:
        self.names = [p.name for p in parameters]
        self.index = {name: i for i, name in enumerate(self.names)}
        self.value_slots: Slots = [(p.store, p.key) for p in parameters]
        self.grad_slots: Slots = [(p.grads, p.key) for p in parameters]
        self.buffer_slots: Slots = [(b.store, b.key) for b in buffers]
        # everything, in the order of arrays(): a compiled step reads and installs it per call
        self.slots: Slots = [*self.value_slots, *self.grad_slots, *self.buffer_slots]

    def values(self) -> list[Array]:
        """The parameters' arrays."""
        return [store[key] for store, key in self.value_slots]

    def grads(self) -> list[Array]:
        """The gradients the last backward pass wrote (or a hook put in their place)."""
        return [store[key] for store, key in self.grad_slots]

    def buffers(self) -> list[Array]:
        """The buffers' arrays (running statistics)."""
        return [store[key] for store, key in self.buffer_slots]

    def arrays(self) -> list[Array]:
        """:meth:`values`, :meth:`grads` and :meth:`buffers` as one list (a compiled step's inputs)."""
        return [store[key] for store, key in self.slots]

    def set_values(self, arrays: list[Array]) -> None:
        """Make ``arrays`` (one per parameter, in order) the parameters."""
        _write(self.value_slots, arrays)

    def set_grads(self, arrays: list[Array]) -> None:
        """Make ``arrays`` (one per parameter, in order) the gradients."""
        _write(self.grad_slots, arrays)

    def set_buffers(self, arrays: list[Array]) -> None:
        """Make ``arrays`` (one per buffer, in order) the buffers."""
        _write(self.buffer_slots, arrays)

    def set_arrays(self, arrays: list[Array]) -> None:
        """Make the first ``len(slots)`` of ``arrays``, ordered as :meth:`arrays` lists them, the
        parameters, gradients and buffers; what follows them (a compiled step's optimizer state)
        is the caller's."""
        for (store, key), array in zip(self.slots, arrays):
            store[key] = array

    def set_value(self, name: str, array: Array) -> None:
        """Make ``array`` parameter ``name`` (what assigning ``Parameter.value`` does)."""
        store, key = self.value_slots[self.index[name]]
        store[key] = array


def _write(slots: Slots, arrays: list[Array]) -> None:
    if len(arrays) != len(slots):
        raise ValueError(f"expected {len(slots)} arrays, got {len(arrays)}")
    for (store, key), array in zip(slots, arrays):
        store[key] = array
