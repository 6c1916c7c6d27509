"""Sequential: a stack of layers bound to one (backend, device, dtype)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _checks
from ._xp import Backend, get_backend, to_numpy
from .activations import get_activation
from .layers import Dense, Dropout, Layer
from .losses import Loss, get_loss
from .optim import Optimizer, Slot
from .random import make_rng, spawn

Array = Any


class Sequential:
    """Layers applied in order, computing on one backend, device and dtype.

    Parameters
    ----------
    *layers : Layer or str
        Layers, or activation names such as ``"relu"``.
    backend : str
        Backend spec (see :func:`portnn.available_backends`).
    dtype : {"float32", "float64"}
    seed : int
        Seeds initial weights, shuffling and dropout: the same on every backend.

    Examples
    --------
    >>> import portnn as pn
    >>> net = pn.Sequential(pn.Dense(2, 3), pn.Sigmoid(), pn.Dense(3, 1), pn.Sigmoid(), seed=0)
    >>> sorted(net.state_dict())
    ['0.bias', '0.weight', '2.bias', '2.weight']
    >>> net([[0.0, 1.0]]).shape
    (1, 1)
    """

    def __init__(
        self, *layers: Layer | str, backend: str | Backend = "numpy", dtype: str = "float32", seed: int | None = 0
    ) -> None:
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        self.layers: list[Layer] = [get_activation(x) if isinstance(x, str) else x for x in layers]
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}]: expected a portnn Layer, got {type(layer).__name__}")
        self.n_in, self.n_out = self._check_sizes()
        self.seed = seed
        init_rng, self.shuffle_rng, dropout_rng = spawn(make_rng(seed), 3)
        for layer, nxt in zip(self.layers, self.layers[1:] + [None]):
            if isinstance(layer, Dense) and getattr(nxt, "relu_like", False):
                layer.auto_init = "he_normal"
            if isinstance(layer, Dense) and nxt is not None:
                nxt.owns_input = True  # Dense returns a fresh array that its backprop does not need
        dropouts = [x for x in self.layers if isinstance(x, Dropout)]
        for layer, rng in zip(dropouts, spawn(dropout_rng, len(dropouts))):
            layer.rng = rng
        self.optimizer: Optimizer | None = None
        self.stop_training = False
        self._place(get_backend(backend), dtype, [layer.init_params(init_rng) for layer in self.layers])

    def _check_sizes(self) -> tuple[int | None, int | None]:
        n_in = next((x.n_in for x in self.layers if isinstance(x, Dense)), None)
        size = n_in
        for layer in self.layers:
            size = layer.output_size(size)
        return n_in, size

    def _place(self, backend: Backend, dtype_name: str, host: Sequence[dict[str, Any]]) -> None:
        self.backend, self.dtype_name = backend, dtype_name
        self.dtype = backend.dtype(dtype_name)
        xp = backend.xp
        for layer, params in zip(self.layers, host):
            layer.bind(backend, self.dtype)
            layer.params = {k: backend.asarray(v, self.dtype) for k, v in params.items()}
            layer.grads = {k: xp.zeros_like(v) for k, v in layer.params.items()}
        if self.optimizer is not None:
            self.optimizer.move(backend, self.dtype)
            self.optimizer.bind(self._slots(), backend)

    # -- placement -----------------------------------------------------------------------------
    @property
    def xp(self) -> Any:
        """The Array API namespace the model computes with."""
        return self.backend.xp

    @property
    def device(self) -> Any:
        """The device the parameters live on."""
        return self.backend.device

    def to(self, backend: str | Backend | None = None, dtype: str | None = None) -> Sequential:
        """Move parameters (and optimizer state) to another backend and/or dtype; returns self."""
        target = get_backend(backend) if backend is not None else self.backend
        host = [{k: to_numpy(v, copy=False) for k, v in layer.params.items()} for layer in self.layers]
        self._place(target, dtype or self.dtype_name, host)
        return self

    # -- parameters ----------------------------------------------------------------------------
    def _slots(self) -> list[Slot]:
        return [
            Slot(f"{i}.{name}", layer.params, layer.grads, name)
            for i, layer in enumerate(self.layers)
            for name in layer.params
        ]

    def state_dict(self) -> dict[str, Array]:
        """Copies of the parameters, keyed ``"<layer index>.<name>"``, on the model's backend."""
        xp = self.xp
        return {s.key: xp.asarray(s.params[s.name], copy=True) for s in self._slots()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace the parameters with ``state`` (arrays from any backend); keys, shapes, finiteness checked."""
        if not isinstance(state, dict):
            raise TypeError(f"state: expected a dict of arrays, got {type(state).__name__}")
        slots = {s.key: s for s in self._slots()}
        missing, unexpected = sorted(set(slots) - set(state)), sorted(set(state) - set(slots))
        if missing or unexpected:
            raise ValueError(f"state: missing keys {missing}, unexpected keys {unexpected}; expected {sorted(slots)}")
        new = {}
        for key, slot in slots.items():
            value = self.backend.asarray(_checks._kind_check(f"state[{key!r}]", state[key]), self.dtype)
            expected = tuple(slot.params[slot.name].shape)
            if tuple(value.shape) != expected:
                raise ValueError(f"state[{key!r}]: expected shape {expected}, got {tuple(value.shape)}")
            _checks.check_finite(f"state[{key!r}]", value, self.backend)
            new[key] = self.xp.asarray(value, copy=True)  # never alias the caller's array
        for key, slot in slots.items():
            slot.params[slot.name] = new[key]

    def num_parameters(self) -> int:
        """Total number of trainable scalars."""
        return sum(int(np.prod(s.params[s.name].shape)) for s in self._slots())

    # -- computing -----------------------------------------------------------------------------
    def _forward(self, X: Array, training: bool) -> tuple[Array, list]:
        backprops = []
        for layer in self.layers:
            X, backprop = layer.forward(X, training)
            backprops.append(backprop)
        return X, backprops

    def _backward(self, grad: Array, backprops: list) -> None:
        for backprop in reversed(backprops[1:]):
            grad = backprop(grad)
        backprops[0](grad, input_grad=False)

    def _train_step(self, X: Array, y: Array, loss: Loss, optimizer: Optimizer) -> Array:
        pred, backprops = self._forward(X, True)
        value, grad = loss.value_and_grad(self.xp, pred, y)
        self._backward(grad, backprops)
        optimizer.step()
        return value

    def _features(self, X: Any, name: str = "X") -> Array:
        return _checks.features(name, X, self.backend, self.dtype, self.n_in)

    def predict(self, X: Any, batch_size: int | None = None) -> Array:
        """Outputs for ``X`` (inference mode: dropout off), on the model's backend."""
        X = self._features(X)
        batch_size = _checks.positive_int("batch_size", batch_size, allow_none=True)
        n = X.shape[0]
        if batch_size is None or batch_size >= n:
            return self._forward(X, False)[0]
        parts = [self._forward(X[i : min(i + batch_size, n), ...], False)[0] for i in range(0, n, batch_size)]
        return self.xp.concat(parts, axis=0)

    __call__ = predict

    def fit(self, X: Any, y: Any, **kwargs: Any) -> Any:
        """Train; see :func:`portnn.training.fit` for the arguments. Returns a History."""
        from .training import fit

        return fit(self, X, y, **kwargs)

    def save(self, path: str, include_optimizer: bool = False) -> None:
        """Save to a safetensors file (atomically); see :func:`portnn.load`."""
        from .io import save

        save(self, path, include_optimizer=include_optimizer)

    def __repr__(self) -> str:
        inner = ", ".join(repr(x) for x in self.layers)
        return f"Sequential({inner}, backend={self.backend.spec!r}, dtype={self.dtype_name!r})"


def value_and_grad(
    model: Sequential, loss: str | Loss, X: Any, y: Any, training: bool = True
) -> tuple[Array, dict[str, Array]]:
    """The loss of ``model`` on ``(X, y)`` and its gradient for every parameter (keyed like state_dict).

    >>> import portnn as pn
    >>> net = pn.Sequential(pn.Dense(2, 1), backend="numpy", dtype="float64", seed=0)
    >>> value, grads = pn.value_and_grad(net, "mse", [[1.0, 2.0]], [[0.5]])
    >>> sorted(grads), grads["0.weight"].shape
    (['0.bias', '0.weight'], (2, 1))
    """
    loss = get_loss(loss)
    X = model._features(X)
    y = _checks.targets("y", y, model.backend, model.dtype, X.shape[0])
    pred, backprops = model._forward(X, training)
    value, grad = loss.value_and_grad(model.xp, pred, loss.prepare_target(model.xp, y, tuple(pred.shape), model.dtype))
    model._backward(grad, backprops)
    xp = model.xp
    return xp.asarray(value), {s.key: xp.asarray(s.grads[s.name], copy=True) for s in model._slots()}
