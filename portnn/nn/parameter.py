"""Parameters and buffers: the arrays of a network as the rest of portnn sees them.

A layer keeps its arrays in dicts (``layer.params``, ``layer.grads``, ``layer.buffers``) that its
forward and backprop closures use directly. :class:`Parameter` and :class:`Buffer` are views onto
one entry: reading ``value`` reads the layer's current array, assigning it replaces the layer's
array. A network's parameters have an owner, through which assigning ``value`` goes: where the
network keeps them in a :class:`~portnn.nn.paramblock.ParameterBlock`, the new values are written
into the block; on JAX its :class:`~portnn.nn.paramlist.ParameterList` rebinds the layer's entry.
A gradient hook may assign ``grad``; where there is a block, the step gathers the new array's
values into it before the update.
"""

from __future__ import annotations

from typing import Any

Array = Any


class Buffer:
    """State that is saved and moved with the network but never optimized (e.g. running statistics).

    >>> store = {"mean": 0.0}
    >>> b = Buffer("3.mean", store, "mean")
    >>> b.value = 1.5
    >>> store["mean"], b.name
    (1.5, '3.mean')
    """

    __slots__ = ("key", "name", "store")

    def __init__(self, name: str, store: dict[str, Array], key: str) -> None:
        self.name, self.store, self.key = name, store, key

    @property
    def value(self) -> Array:
        """The current array."""
        return self.store[self.key]

    @value.setter
    def value(self, array: Array) -> None:
        self.store[self.key] = array

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, shape={tuple(self.value.shape)})"


class Parameter(Buffer):
    """A trainable array of a network: its ``name`` (``"<layer index>.<name>"``, as in
    ``state_dict``), its ``value`` and the gradient ``grad`` that the last backward pass wrote.

    >>> import portnn as pn
    >>> net = pn.Sequential(pn.Dense(2, 3), seed=0)
    >>> [(p.name, tuple(p.value.shape), tuple(p.grad.shape)) for p in net.parameters()]
    [('0.weight', (2, 3), (2, 3)), ('0.bias', (3,), (3,))]
    """

    __slots__ = ("grads", "owner")

    def __init__(
        self, name: str, store: dict[str, Array], grads: dict[str, Array], key: str, owner: Any = None
    ) -> None:
        super().__init__(name, store, key)
        self.grads, self.owner = grads, owner

    @property
    def value(self) -> Array:
        """The current array. Assigned, it goes through the network's owner of its parameters
        (:meth:`ParameterBlock.set_value <portnn.nn.paramblock.ParameterBlock.set_value>`, which
        writes the values into the block; :meth:`ParameterList.set_value
        <portnn.nn.paramlist.ParameterList.set_value>`, which rebinds)."""
        return self.store[self.key]

    @value.setter
    def value(self, array: Array) -> None:
        if self.owner is None:
            self.store[self.key] = array
        else:
            self.owner.set_value(self.name, array)

    @property
    def grad(self) -> Array:
        """The gradient from the last backward pass (a buffer the layer reuses)."""
        return self.grads[self.key]

    @grad.setter
    def grad(self, array: Array) -> None:
        self.grads[self.key] = array
