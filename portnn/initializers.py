"""Weight initializers. Each returns a float64 NumPy array drawn from the host RNG; the layer moves
it to its backend and casts it once, so every backend starts from the same numbers."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np

Initializer = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    return (shape[0], shape[1]) if len(shape) == 2 else (shape[0], shape[0])


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Glorot/Xavier uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)). For sigmoid/tanh."""
    fan_in, fan_out = _fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


def he_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """He/Kaiming normal: N(0, 2 / fan_in). For the ReLU family."""
    fan_in, _ = _fans(shape)
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)


def uniform(rng: np.random.Generator, shape: tuple[int, ...], low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """U(low, high); the XOR seed's ``2 * random - 1`` is ``uniform`` with the defaults."""
    return rng.uniform(low, high, size=shape)


def normal(rng: np.random.Generator, shape: tuple[int, ...], std: float = 1.0) -> np.ndarray:
    """N(0, std^2); the people seed draws every weight from N(0, 1)."""
    return rng.normal(0.0, std, size=shape)


def zeros(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """All zeros (the default for biases)."""
    return np.zeros(shape)


def glorot_uniform_layers(
    rs: np.random.RandomState, layer_units: list[int], gain: float = 6.0
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """scikit-learn's MLP initialization: for each layer, its weights and then its biases drawn from
    one ``RandomState``, all from U(-a, a) with a = sqrt(gain / (fan_in + fan_out)) (scikit-learn
    takes gain 2 for the logistic activation, 6 otherwise). Returns (weights, biases), float64.

    >>> weights, biases = glorot_uniform_layers(np.random.RandomState(0), [3, 2, 1])
    >>> [w.shape for w in weights], [b.shape for b in biases]
    ([(3, 2), (2, 1)], [(2,), (1,)])
    """
    weights, biases = [], []
    for fan_in, fan_out in itertools.pairwise(layer_units):
        bound = np.sqrt(gain / (fan_in + fan_out))
        weights.append(rs.uniform(-bound, bound, (fan_in, fan_out)))
        biases.append(rs.uniform(-bound, bound, fan_out))
    return weights, biases


INITIALIZERS: dict[str, Initializer] = {
    "glorot_uniform": glorot_uniform,
    "he_normal": he_normal,
    "uniform": uniform,
    "normal": normal,
    "zeros": zeros,
}


def get_initializer(name: str | Initializer) -> Initializer:
    """An initializer by name or the callable itself."""
    if callable(name):
        return name
    if name not in INITIALIZERS:
        raise ValueError(f"initializer: unknown name {name!r}; expected one of {sorted(INITIALIZERS)}")
    return INITIALIZERS[name]
