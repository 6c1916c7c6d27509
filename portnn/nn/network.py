"""Network: layers bound to one (backend, device, dtype), with the public seams the rest of
portnn builds on — ``parameters()``, ``buffers()``, ``forward``/``backward``, ``check_features``,
``state_dict`` — and pickling (a backend pickles as its spec, arrays as NumPy)."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _checks
from .._xp import Backend, get_backend, to_numpy
from ..random import make_rng, spawn
from .activations import get_activation
from .layers import Dense, Dropout, Layer
from .paramblock import ParameterBlock
from .parameter import Buffer, Parameter
from .paramlist import ParameterList
from .summary import SummaryText, summary_table

Array = Any
#: Each network's last fit's TrainStep, kept for its compiled code: run state, held here and not
#: on the network (which it would keep alive: keyed weakly, and the step holds it weakly).
FIT_STEPS: weakref.WeakKeyDictionary[Network, Any] = weakref.WeakKeyDictionary()


class Network:
    """Layers applied in order, computing on one backend, device and dtype (see :class:`Sequential`,
    which adds training, saving and loading)."""

    def __init__(
        self,
        *layers: Layer | str,
        backend: str | Backend = "numpy",
        dtype: str = "float32",
        seed: int | None = 0,
        initial: Sequence[tuple[dict, dict]] | None = None,
    ) -> None:
        # initial: each layer's (parameters, buffers) as host arrays, placed instead of drawn (a
        # loaded file's, so that loading draws and allocates no weights it would then overwrite)
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        self.layers: list[Layer] = [get_activation(x) if isinstance(x, str) else x for x in layers]
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}]: expected a portnn Layer, got {type(layer).__name__}")
        self.n_in, self.n_out = self._check_sizes()
        self.seed = seed
        init_rng, self.shuffle_rng, dropout_rng = spawn(make_rng(seed), 3)
        # Set every time, not only switched on: a layer object reused in another network, or put
        # first there, must not overwrite that network's input (the caller's array) in place.
        self.layers[0].owns_input = False
        for layer, nxt in zip(self.layers, self.layers[1:] + [None]):
            if isinstance(layer, Dense) and getattr(nxt, "relu_like", False):
                layer.auto_init = "he_normal"
            if nxt is not None:  # Dense returns a fresh array that its backprop does not need
                nxt.owns_input = isinstance(layer, Dense) and layer.activation is None
        dropouts = [x for x in self.layers if isinstance(x, Dropout)]
        for layer, rng in zip(dropouts, spawn(dropout_rng, len(dropouts))):
            layer.rng = rng
        self.optimizer: Any = None  # the optimizer of the last fit: moved along by to()
        self.loss: Any = None  # the last fit's loss and metrics: what evaluate measures by default
        self.metrics: list = []
        # a fit's run state (stop_training, initial_epoch, rank) is the fit's: portnn.train.run.Run;
        # its step is kept outside the network (train_step)
        self.history: Any = None  # the last fit's History
        self.metadata: dict[str, Any] = {}  # the user's: saved with the model (JSON values)
        host = initial if initial is not None else [(x.init_params(init_rng), x.init_buffers()) for x in self.layers]
        self._place(get_backend(backend), dtype, host)

    def _check_sizes(self) -> tuple[int | None, int | None]:
        n_in = next((x.n_in for x in self.layers if isinstance(x, Dense)), None)
        size = n_in
        for layer in self.layers:
            size = layer.output_size(size)
        return n_in, size

    def _place(self, backend: Backend, dtype_name: str, host: Sequence[tuple[dict, dict]]) -> None:
        self.backend, self.dtype_name = backend, dtype_name
        self.dtype = backend.dtype(dtype_name)
        xp = backend.xp
        for layer, (params, buffers) in zip(self.layers, host):
            layer.bind(backend, self.dtype)
            layer.params = {k: backend.asarray(_owned(v), self.dtype) for k, v in params.items()}
            layer.grads = {k: xp.zeros_like(v) for k, v in layer.params.items()}
            layer.buffers = {k: backend.asarray(_owned(v), self.dtype) for k, v in buffers.items()}
        # the owner of the parameters' storage: a block where arrays are writeable, a list where not
        self.parameter_block: ParameterBlock | None = None  # (what build is handed is not the old owner's)
        self.parameter_list: ParameterList | None = None
        self.parameter_block = ParameterBlock.build(backend, self.parameters())
        if not backend.writeable:
            self.parameter_list = ParameterList(self.parameters(), self.buffers())
        if self.optimizer is not None:
            self.optimizer.move(backend, self.dtype)
            self.optimizer.bind(self.parameters(), backend, owner=self)

    def _host_arrays(self) -> list[tuple[dict, dict]]:
        return [
            (
                {k: to_numpy(v, copy=False) for k, v in layer.params.items()},
                {k: to_numpy(v, copy=False) for k, v in layer.buffers.items()},
            )
            for layer in self.layers
        ]

    @property
    def train_step(self) -> Any:
        """The last fit's TrainStep (None before any), which later fits keep where their settings match."""
        return FIT_STEPS.get(self)

    @train_step.setter
    def train_step(self, step: Any) -> None:
        if step is None:
            FIT_STEPS.pop(self, None)
        else:
            FIT_STEPS[self] = step

    # -- placement -----------------------------------------------------------------------------
    @property
    def xp(self) -> Any:
        """The Array API namespace the model computes with."""
        return self.backend.xp

    @property
    def device(self) -> Any:
        """The device the parameters live on."""
        return self.backend.device

    def to(self, backend: str | Backend | None = None, dtype: str | None = None) -> Any:
        """Move parameters, buffers (and optimizer state) to another backend and/or dtype; returns self."""
        target = get_backend(backend) if backend is not None else self.backend
        self._place(target, dtype or self.dtype_name, self._host_arrays())
        self.train_step = None  # its compiled code and owner belong to the old arrays
        return self

    # -- arrays ---------------------------------------------------------------------------------
    def parameters(self) -> list[Parameter]:
        """The trainable arrays, in layer order, named ``"<layer index>.<name>"`` like ``state_dict``."""
        owner = self.parameter_owner
        return [
            Parameter(f"{i}.{name}", layer.params, layer.grads, name, owner)
            for i, layer in enumerate(self.layers)
            for name in layer.params
        ]

    @property
    def parameter_owner(self) -> ParameterBlock | ParameterList | None:
        """What owns the parameters' storage, and through which everything that works on all of
        them goes: the :class:`~portnn.nn.paramblock.ParameterBlock` where arrays are writeable, the
        :class:`~portnn.nn.paramlist.ParameterList` where not (JAX); None where arrays are writeable
        but there is no block (a network without parameters).

        >>> import portnn as pn
        >>> type(pn.Sequential(pn.Dense(2, 3), backend="numpy").parameter_owner).__name__
        'ParameterBlock'
        """
        block = self.parameter_block
        return block if block is not None else self.parameter_list

    def buffers(self) -> list[Buffer]:
        """State that is saved and moved but never optimized, named like the parameters."""
        return [
            Buffer(f"{i}.{name}", layer.buffers, name) for i, layer in enumerate(self.layers) for name in layer.buffers
        ]

    def state_dict(self) -> dict[str, Array]:
        """Copies of the parameters and buffers, keyed ``"<layer index>.<name>"``, on the model's backend."""
        xp = self.xp
        return {a.name: xp.asarray(a.value, copy=True) for a in [*self.parameters(), *self.buffers()]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace parameters and buffers with ``state`` (arrays from any backend); keys, shapes, finiteness checked."""
        if not isinstance(state, dict):
            raise TypeError(f"state: expected a dict of arrays, got {type(state).__name__}")
        arrays = {a.name: a for a in [*self.parameters(), *self.buffers()]}
        missing, unexpected = sorted(set(arrays) - set(state)), sorted(set(state) - set(arrays))
        if missing or unexpected:
            raise ValueError(f"state: missing keys {missing}, unexpected keys {unexpected}; expected {sorted(arrays)}")
        new = {}
        for key, target in arrays.items():
            value = self.backend.asarray(_checks.kind_check(f"state[{key!r}]", state[key]), self.dtype)
            _checks.same_shape(f"state[{key!r}]", value, target.value)
            _checks.check_finite(f"state[{key!r}]", value, self.backend)
            new[key] = self.xp.asarray(value, copy=True)  # never alias the caller's array
        for key, target in arrays.items():  # in place where writeable: the parameter block's views stay views
            target.value = self.backend.copy_into(target.value, new[key])

    def rng_state(self) -> dict[str, Any]:
        """The states of the network's host random generators (shuffling, each Dropout's masks):
        what a run needs, beside the weights and the optimizer, to continue to the same bits."""
        layers = {str(i): layer.rng.bit_generator.state for i, layer in enumerate(self.layers) if hasattr(layer, "rng")}
        return {"shuffle": self.shuffle_rng.bit_generator.state, "layers": layers}

    def set_rng_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`rng_state` returned (for the same architecture)."""
        self.shuffle_rng.bit_generator.state = state["shuffle"]
        for i, layer_state in state["layers"].items():
            self.layers[int(i)].rng.bit_generator.state = layer_state  # type: ignore[attr-defined]

    def num_parameters(self) -> int:
        """Total number of trainable scalars."""
        return sum(int(np.prod(p.value.shape)) for p in self.parameters())

    def summary(self) -> str:
        """Print (and return) a table of the layers, their output sizes, parameters and buffers,
        the totals, and the backend, device and dtype. In Jupyter it shows once, as printed."""
        text = SummaryText(summary_table(self))
        print(text)
        return text

    # -- computing -----------------------------------------------------------------------------
    def check_features(self, X: Any, name: str = "X") -> Array:
        """``X`` checked (rank, feature count, finiteness: errors name ``name``) and placed on the
        model's backend and dtype."""
        return _checks.features(name, X, self.backend, self.dtype, self.n_in)

    def forward(self, X: Array, training: bool) -> tuple[Array, list]:
        """The output for ``X`` (already checked and placed) and the layers' backprop closures."""
        backprops = []
        for layer in self.layers:
            X, backprop = layer.forward(X, training)
            backprops.append(backprop)
        return X, backprops

    def backward(self, grad: Array, backprops: list) -> None:
        """Backpropagate ``grad`` (the loss's gradient for the output): every parameter's ``grad``
        is written; the input's gradient, which training never needs, is not computed."""
        for backprop in reversed(backprops[1:]):
            grad = backprop(grad)
        backprops[0](grad, input_grad=False)

    def predict(self, X: Any, batch_size: int | None = None) -> Array:
        """Outputs for ``X`` (inference mode: dropout off), on the model's backend."""
        X = self.check_features(X)
        batch_size = _checks.positive_int("batch_size", batch_size, allow_none=True)
        n = X.shape[0]
        if batch_size is None or batch_size >= n:
            return self.forward(X, False)[0]
        parts = [self.forward(X[i : min(i + batch_size, n), ...], False)[0] for i in range(0, n, batch_size)]
        return self.xp.concat(parts, axis=0)

    __call__ = predict

    # -- pickling: the backend as its spec, arrays on the host -----------------------------------
    def __getstate__(self) -> dict[str, Any]:
        placed = ("backend", "dtype", "parameter_block", "parameter_list")  # made again by _place
        state = {k: v for k, v in self.__dict__.items() if k not in placed}
        state["backend"], state["host_arrays"] = self.backend.spec, self._host_arrays()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        spec, host = state.pop("backend"), state.pop("host_arrays")
        self.__dict__.update(state)
        try:
            backend = get_backend(spec)
        except ValueError as exc:
            raise ValueError(
                f"unpickling a portnn model saved on {spec!r}: {exc}. Unpickle it where {spec!r} works, or "
                f"move it first (net.to('numpy')) or save it (net.save(path)) and pn.load(path, backend=...)."
            ) from exc
        self._place(backend, self.dtype_name, host)


def _owned(host: np.ndarray) -> np.ndarray:
    """``host``, or a copy where it is read-only (a JAX array's host view): the network's arrays
    are updated and loaded in place where the backend can, so it must never share such memory."""
    return host if host.flags.writeable else host.copy()
