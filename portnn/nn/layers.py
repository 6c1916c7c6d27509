"""The layer contract, and the layers that hold parameters or randomness: Dense, Dropout.

A layer is built in two steps: ``init_params(rng)`` draws its parameters on the host (float64 NumPy),
and ``bind(backend, dtype)`` fixes the namespace, device and dtype it computes with; the model
then places the parameters. ``forward(X, training)`` returns ``(Y, backprop)``; the closure
``backprop(dY, input_grad=True)`` writes the parameter gradients into ``layer.grads`` (reusing the
buffers where arrays are writeable) and returns ``dX`` (or ``None`` when ``input_grad`` is False).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from .._checks import by_name, positive_int
from .._xp import Backend
from ..initializers import Initializer, get_initializer

Array = Any
Backprop = Callable[..., Any]

LAYERS: dict[str, type[Layer]] = {}

# What a layer's outputs are (``Layer.output_kind``), for fit's check of the loss against the model
# (:mod:`portnn.objectives.misuse`): "probability" (each value in [0, 1]), "distribution" (rows of
# probabilities summing to 1), "real" (any real numbers), "same" (its input's kind, passed through),
# or None: not declared, so fit looks at the outputs of a forward pass on the first training rows.
OUTPUT_KINDS = (None, "probability", "distribution", "real", "same")


def register_layer(cls: type[Layer]) -> type[Layer]:
    """Make ``cls`` loadable by name (every subclass of :class:`Layer` is registered when it is
    defined; call this only to register it again after changing ``registry_name``).

    The name is ``cls.registry_name`` or the class name. Redefining a class (same module and
    qualified name, as when a notebook cell runs again) replaces it; two different classes under one
    name raise ``TypeError``.
    """
    name = cls.__dict__.get("registry_name") or cls.__name__
    old = LAYERS.get(name)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise TypeError(
            f"layer name {name!r} is taken by {old.__module__}.{old.__qualname__}; "
            f"give {cls.__qualname__} another with registry_name = '...'"
        )
    LAYERS[name] = cls
    return cls


def layer_name(layer: Layer) -> str:
    """The name ``layer``'s class is registered under (what checkpoints store)."""
    cls = type(layer)
    return cls.__dict__.get("registry_name") or cls.__name__


# Activation names ("relu") -> classes: filled by portnn.nn.activations, where the classes live.
ACTIVATIONS: dict[str, type[Layer]] = {}


def get_activation(name: str | Layer) -> Layer:
    """An activation layer by name (``"relu"``) or the layer itself."""
    layer = by_name("activation", name, Layer, ACTIVATIONS)
    if not hasattr(layer, "relu_like"):  # what every Activation declares
        raise ValueError(f"activation: expected an activation name or layer, got {type(layer).__name__}")
    return layer  # type: ignore[no-any-return]


def layer_from_config(name: str, config: dict[str, Any]) -> Layer:
    """Rebuild a registered layer from its name and :meth:`Layer.get_config` (how ``load`` does)."""
    if name not in LAYERS:
        raise ValueError(f"unknown layer {name!r}: define (import) its class first; registered: {sorted(LAYERS)}")
    return LAYERS[name](**config)


class Layer:
    """Base class. Subclasses set ``params``/``grads`` and implement :meth:`forward`.

    Every subclass is registered by name when it is defined (see :func:`register_layer`), so a
    saved model holding it loads again wherever the class has been imported.
    """

    backend: Backend
    xp: Any
    dtype: Any
    abstract: ClassVar[bool] = True  # base classes set this; concrete layers inherit False
    registry_name: ClassVar[str | None] = None
    # Attributes set by bind() and by the network's placement: rebuilt, not pickled.
    bound_attributes: ClassVar[tuple[str, ...]] = ("backend", "xp", "dtype", "params", "grads", "buffers")
    # Set by the model when this layer's input is a fresh array nobody else holds (the output of
    # the Dense layer before it): the layer may then overwrite it instead of allocating.
    owns_input = False
    output_kind: ClassVar[str | None] = None  # see OUTPUT_KINDS; subclasses inherit it
    min_batch_rows: ClassVar[int] = 1  # fewest rows a training batch may have (fit checks it first)
    # True where training leaves the buffers as they are (Standardize's statistics), unlike
    # BatchNorm's running statistics: a data-parallel fit can train such a layer
    fixed_buffers: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.output_kind not in OUTPUT_KINDS:
            raise TypeError(f"{cls.__qualname__}.output_kind: expected one of {OUTPUT_KINDS}, got {cls.output_kind!r}")
        if "abstract" not in cls.__dict__:
            cls.abstract = False
        if not cls.abstract:
            register_layer(cls)

    def __init__(self) -> None:
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self.buffers: dict[str, Array] = {}

    @classmethod
    def example(cls) -> Layer:
        """A small instance for the layer-contract tests (override when the constructor needs arguments)."""
        return cls()

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Draw this layer's parameters on the host. Layers without parameters return ``{}``."""
        return {}

    def init_buffers(self) -> dict[str, np.ndarray]:
        """This layer's buffers (state saved and moved, never optimized), on the host. Default ``{}``."""
        return {}

    def param_shapes(self, rng: Any) -> dict[str, tuple[int, ...]]:
        """The shapes :meth:`init_params` gives, without drawing: ``load`` checks a file's tensors
        against them before it builds anything. ``rng`` stands in for the generator: it hands out
        zeros, never more values than the file holds; override this where ``init_params``
        allocates by other means.

        >>> Dense(2, 3).param_shapes(rng=None)
        {'weight': (2, 3), 'bias': (3,)}
        """
        return {k: tuple(v.shape) for k, v in self.init_params(rng).items()}

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in self.bound_attributes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.params, self.grads, self.buffers = {}, {}, {}  # placed again by the network

    def bind(self, backend: Backend, dtype: Any) -> None:
        """Fix the backend and dtype this layer computes with (called by the model)."""
        self.backend, self.xp, self.dtype = backend, backend.xp, dtype

    def forward(self, X: Array, training: bool) -> tuple[Array, Backprop]:
        """Compute the output; return it with the closure that backpropagates through it."""
        raise NotImplementedError

    def output_size(self, n_in: int | None) -> int | None:
        """Feature count this layer produces from ``n_in`` input features."""
        return n_in

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (saved with the model)."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Dense(Layer):
    """Fully connected layer: ``Y = X @ weight + bias``, ``weight`` shaped ``(n_in, n_out)``.

    ``activation`` (a name such as ``"relu"``, or an activation layer) is applied to ``Y``, as
    Keras's ``Dense(units, activation=...)``: ``Dense(4, 8, activation="relu")`` computes what
    ``Dense(4, 8), ReLU()`` does, as one layer. ``init="auto"`` picks He-normal when a ReLU-family
    activation follows (or is the layer's own), Glorot-uniform otherwise.

    >>> import portnn as pn
    >>> net = pn.Sequential(pn.Dense(2, 3, activation="relu"), backend="numpy", seed=0)
    >>> net.state_dict()["0.weight"].shape
    (2, 3)
    >>> bool((net([[1.0, -2.0]]) >= 0).all())
    True
    """

    output_kind = "real"

    @classmethod
    def example(cls) -> Dense:
        return cls(3, 2)

    def __init__(
        self,
        n_in: int,
        n_out: int,
        bias: bool = True,
        init: str | Initializer = "auto",
        activation: str | Layer | dict | None = None,
    ) -> None:
        super().__init__()
        self.n_in: int = positive_int("n_in", n_in)  # type: ignore[assignment]
        self.n_out: int = positive_int("n_out", n_out)  # type: ignore[assignment]
        self.bias = bool(bias)
        self.init = init if init == "auto" else get_initializer(init)
        self._init_name = init if isinstance(init, str) else getattr(init, "__name__", "custom")
        if isinstance(activation, dict):  # as get_config saves one with settings (a file's: only activations)
            cls = LAYERS.get(str(activation.get("class")))
            if not hasattr(cls, "relu_like"):
                raise ValueError(f"activation: expected an activation layer, got {activation.get('class')!r}")
            activation = cls(**activation.get("config", {}))  # type: ignore[misc]
        self.activation = None if activation is None else get_activation(activation)
        self._activation_name = activation if isinstance(activation, str) else None
        if self.activation is not None:
            self.activation.owns_input = True  # the product is fresh: the activation may overwrite it
            kind = self.activation.output_kind
            self.output_kind = "real" if kind == "same" else kind  # type: ignore[misc,assignment]  # this layer's
        relu_like = getattr(self.activation, "relu_like", False)
        # the model switches it to he_normal before ReLU-like layers
        self.auto_init = "he_normal" if relu_like else "glorot_uniform"

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        init = get_initializer(self.auto_init if self.init == "auto" else self.init)
        params = {"weight": init(rng, (self.n_in, self.n_out))}
        if self.bias:
            params["bias"] = np.zeros(self.n_out)
        return params

    def param_shapes(self, rng: Any) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {"weight": (self.n_in, self.n_out)}
        return {**shapes, "bias": (self.n_out,)} if self.bias else shapes

    def output_size(self, n_in: int | None) -> int:
        if n_in is not None and n_in != self.n_in:
            raise ValueError(f"Dense: expected {self.n_in} input features, the layer before gives {n_in}")
        return self.n_out

    def bind(self, backend: Backend, dtype: Any) -> None:
        super().bind(backend, dtype)
        if self.activation is not None:
            self.activation.bind(backend, dtype)

    def forward(self, X: Array, training: bool) -> tuple[Array, Backprop]:
        W, bk = self.params["weight"], self.backend
        Y = bk.matmul(X, W)
        if self.bias:
            Y = bk.add_bias(Y, self.params["bias"])  # Y is fresh from matmul: safe to update in place
        grads = self.grads

        def backprop(dY: Array, input_grad: bool = True) -> Array | None:
            grads["weight"] = bk.matmul_into(X.T, dY, grads["weight"])
            if self.bias:
                grads["bias"] = bk.sum0_into(dY, grads["bias"])
            return bk.matmul(dY, W.T) if input_grad else None

        if self.activation is None:
            return Y, backprop
        out, activation_backprop = self.activation.forward(Y, training)
        return out, lambda dY, input_grad=True: backprop(activation_backprop(dY), input_grad)

    def get_config(self) -> dict[str, Any]:
        config = {"n_in": self.n_in, "n_out": self.n_out, "bias": self.bias, "init": self._init_name}
        if (act := self.activation) is not None:  # only then: files of Dense layers without one stay as they were
            config["activation"] = self._activation_name or {"class": layer_name(act), "config": act.get_config()}
        return config


class Dropout(Layer):
    """Zero each input with probability ``p`` during training (scaling the rest by ``1/(1-p)``).

    The mask is drawn on the host from the model's seeded RNG, so it is the same on every backend.
    At inference the layer passes its input through.
    """

    output_kind = "same"

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: rate p must be a number in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = np.random.default_rng(0)  # replaced by the model's seeded generator
        # (lo, hi, n): X is rows lo:hi of a batch of n (data-parallel training); the mask is drawn
        # for all n rows, as one process would, and this process keeps its rows
        self.batch_rows: tuple[int, int, int] | None = None

    def forward(self, X: Array, training: bool) -> tuple[Array, Backprop]:
        if not training or self.p == 0.0:
            return X, lambda dY, input_grad=True: dY
        if self.batch_rows is None:
            keep = self.rng.random(X.shape) >= self.p
        else:
            lo, hi, n = self.batch_rows
            keep = (self.rng.random((n, *X.shape[1:])) >= self.p)[lo:hi]
        scale = self.backend.asarray(np.where(keep, 1.0 / (1.0 - self.p), 0.0), self.dtype)

        def backprop(dY: Array, input_grad: bool = True) -> Array:
            return dY * scale

        return X * scale, backprop

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p}
