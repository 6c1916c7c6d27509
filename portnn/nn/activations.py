"""Activation layers. Each keeps its gradient next to its forward, in the closure it returns."""

from __future__ import annotations

import math
from typing import Any

from .. import _math
from .._xp import Backend, expit
from .layers import ACTIVATIONS, Backprop, Layer
from .layers import get_activation as get_activation  # its home is layers: Dense(activation=) uses it

Array = Any


class Activation(Layer):
    """A parameter-free elementwise (or row-wise) layer.

    Each of portnn's declares its ``output_kind`` (see :data:`portnn.nn.layers.OUTPUT_KINDS`); one of
    yours that does not is looked at through its outputs when it ends a model.
    """

    abstract = True
    relu_like = False  # a Dense layer before it is initialised He-normal instead of Glorot
    bound_attributes = (*Layer.bound_attributes, "limit", "one", "half", "low", "high")

    def bind(self, backend: Backend, dtype: Any) -> None:
        super().bind(backend, dtype)
        self.limit = _math.exp_limit(backend.xp, dtype)
        # Constants of the layer's dtype (see Backend.constant). Same values as Python floats,
        # which are cast to the array's dtype either way.
        constants = (1.0, 0.5, -self.limit, self.limit)
        self.one, self.half, self.low, self.high = (backend.constant(v, dtype) for v in constants)


class Identity(Activation):
    """``f(x) = x``."""

    output_kind = "same"

    def forward(self, X: Array, training: bool) -> tuple[Array, Backprop]:
        return X, lambda dY, input_grad=True: dY


class Sigmoid(Activation):
    """``f(x) = 1 / (1 + exp(-x))``, without overflow for any finite input.

    ``exact=True`` computes it as SciPy's ``expit`` (SciPy's own function where the backend offers
    it, :attr:`Backend.scipy_special`) and its gradient as ``(dY * Y) * (1 - Y)``: scikit-learn's
    numbers to the bit on NumPy, for ports that must land where scikit-learn lands. The default
    form is faster on small networks and differs from it in the last digit for some inputs.

    >>> import portnn as pn
    >>> float(pn.Sequential(pn.Sigmoid(), backend="numpy", dtype="float64")([[-1.0]])[0, 0])
    0.2689414213699951
    >>> float(pn.Sequential(pn.Sigmoid(exact=True), backend="numpy", dtype="float64")([[-1.0]])[0, 0])
    0.2689414213699951
    """

    output_kind = "probability"

    bound_attributes = (*Activation.bound_attributes, "kernels")

    def __init__(self, exact: bool = False) -> None:
        super().__init__()
        if not isinstance(exact, bool):
            raise TypeError(f"Sigmoid: exact must be True or False, got {exact!r}")
        self.exact = exact

    def bind(self, backend: Backend, dtype: Any) -> None:
        super().bind(backend, dtype)
        self.kernels = None if self.exact else backend.sigmoid_kernels

    def forward(self, X: Array, training: bool) -> tuple[Array, Backprop]:
        if self.kernels is not None:  # the library's own (torch): one operation each way
            sigmoid, sigmoid_backward = self.kernels
            S = sigmoid(X)
            return S, lambda dY, input_grad=True: sigmoid_backward(dY, S)
        xp, one, half = self.xp, self.one, self.half
        if self.exact:
            E = expit(self.backend, X)
            return E, lambda dY, input_grad=True: (dY * E) * (one - E)
        # As (1 + tanh(x/2)) / 2: tanh saturates, so no input overflows and none needs clipping,
        # in four operations where 1 / (1 + exp(-x)) with its clip takes six (tiny networks pay
        # per operation). Below about -37 (float64) the result is 0 instead of a value under 1e-16.
        Y = half * xp.tanh(half * X) + half

        def backprop(dY: Array, input_grad: bool = True) -> Array:
            return dY * (Y * (one - Y))

        return Y, backprop

    def get_config(self) -> dict[str, Any]:
        return {"exact": True} if self.exact else {}  # files of the default form stay as they were


class Tanh(Activation):
    """``f(x) = tanh(x)``."""

    output_kind = "real"

    def forward(self, X: Array, training: bool) -> tuple[Array, Backprop]:
        Y = self.xp.tanh(X)
        one = self.one
        return Y, lambda dY, input_grad=True: dY * (one - Y * Y)


class ReLU(Activation):
    """``f(x) = max(x, 0)``."""

    output_kind = "real"
    relu_like = True

    def forward(self, X: Array, training: bool) -> tuple[Array, Backprop]:
        Y = self.backend.maximum(X, 0.0, in_place=self.owns_input)
        relu_grad = self.backend.relu_grad
        return Y, lambda dY, input_grad=True: relu_grad(Y, dY)


class LeakyReLU(Activation):
    """``f(x) = x if x > 0 else alpha * x``."""

    output_kind = "real"
    relu_like = True

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, X: Array, training: bool) -> tuple[Array, Backprop]:
        xp, alpha = self.xp, self.alpha
        positive = X > 0.0
        Y = xp.where(positive, X, alpha * X)
        return Y, lambda dY, input_grad=True: xp.where(positive, dY, alpha * dY)

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


class ELU(Activation):
    """``f(x) = x if x > 0 else alpha * (exp(x) - 1)``."""

    output_kind = "real"
    relu_like = True

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, X: Array, training: bool) -> tuple[Array, Backprop]:
        xp, alpha = self.xp, self.alpha
        positive = X > 0.0
        negative_part = alpha * xp.expm1(_math.clip(xp, X, -self.limit, 0.0))
        Y = xp.where(positive, X, negative_part)
        return Y, lambda dY, input_grad=True: xp.where(positive, dY, dY * (negative_part + alpha))

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


class Softplus(Activation):
    """``f(x) = log(1 + exp(x))``, computed without overflow."""

    output_kind = "real"

    def forward(self, X: Array, training: bool) -> tuple[Array, Backprop]:
        xp, low, high = self.xp, self.low, self.high
        Y = _math.softplus(xp, X, self.limit)
        return Y, lambda dY, input_grad=True: dY * _math.sigmoid(xp, X, low, high)


_GELU_K = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715
_GELU_SATURATION = 10.0  # tanh(u) is exactly +-1 beyond here in float64, and x**3 cannot overflow


class GELU(Activation):
    """Gaussian error linear unit, tanh form: ``0.5 x (1 + tanh(k (x + 0.044715 x^3)))``."""

    output_kind = "real"
    relu_like = True

    def forward(self, X: Array, training: bool) -> tuple[Array, Backprop]:
        xp = self.xp
        Xc = _math.clip(xp, X, -_GELU_SATURATION, _GELU_SATURATION)
        T = xp.tanh(_GELU_K * (Xc + _GELU_C * Xc * Xc * Xc))
        Y = 0.5 * X * (1.0 + T)

        def backprop(dY: Array, input_grad: bool = True) -> Array:
            inner = _GELU_K * (1.0 + 3.0 * _GELU_C * Xc * Xc)
            return dY * (0.5 * (1.0 + T) + 0.5 * X * (1.0 - T * T) * inner)

        return Y, backprop


class Softmax(Activation):
    """Softmax over the features of each row (max-shifted).

    Prefer ``CrossEntropy(from_logits=True)`` on the logits for training; use this layer when the
    network itself must output probabilities.
    """

    output_kind = "distribution"

    def forward(self, X: Array, training: bool) -> tuple[Array, Backprop]:
        xp = self.xp
        S = _math.softmax(xp, X, self.limit)

        def backprop(dY: Array, input_grad: bool = True) -> Array:
            return S * (dY - xp.sum(dY * S, axis=-1, keepdims=True))

        return S, backprop


ACTIVATIONS.update(
    {
        "identity": Identity,
        "linear": Identity,
        "sigmoid": Sigmoid,
        "tanh": Tanh,
        "relu": ReLU,
        "leaky_relu": LeakyReLU,
        "elu": ELU,
        "softplus": Softplus,
        "gelu": GELU,
        "softmax": Softmax,
    }
)
