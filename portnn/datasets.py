"""Small built-in datasets: the seeds' XOR and people sets, and synthetic sets for demos and
benchmarks. All return float64 NumPy arrays (``X`` shaped (samples, features))."""

from __future__ import annotations

import numpy as np


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The four XOR points (rows of the XOR seed's ``X.T``) and targets shaped (4, 1).

    >>> X, y = xor()
    >>> X.shape, y.ravel().tolist()
    ((4, 2), [0.0, 1.0, 1.0, 0.0])
    """
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    return X, np.array([[0], [1], [1], [0]], dtype=np.float64)


def xor_seed_weights() -> dict[str, np.ndarray]:
    """The XOR seed's initial weights (``np.random.seed(1)``, w1 then w2, ``2 * random - 1``),
    transposed into portnn's ``(n_in, n_out)`` layout for ``Dense(2, 3, bias=False)``,
    ``Sigmoid``, ``Dense(3, 1, bias=False)``, ``Sigmoid``."""
    legacy = np.random.RandomState(1)
    w1 = 2 * legacy.random_sample((3, 2)) - 1
    w2 = 2 * legacy.random_sample((1, 3)) - 1
    return {"0.weight": w1.T.copy(), "2.weight": w2.T.copy()}


# The people seed: weight and height offsets; 1 = female.
PEOPLE_NAMES = ("Alice", "Bob", "Charlie", "Diana")
EMILY = np.array([[-7.0, -3.0]])
FRANK = np.array([[20.0, 2.0]])


def people() -> tuple[np.ndarray, np.ndarray]:
    """The people seed's toy set: (weight - 135 lb, height - 66 in) and 1 for female.

    >>> X, y = people()
    >>> X.shape, y.shape
    ((4, 2), (4, 1))
    """
    X = np.array([[-2, -1], [25, 6], [17, 4], [-15, -6]], dtype=np.float64)
    return X, np.array([[1], [0], [0], [1]], dtype=np.float64)


def spirals(
    n_per_class: int = 200, classes: int = 3, noise: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved 2-D spirals: a small problem no linear model solves. Labels are ints (n,)."""
    rng = np.random.default_rng(seed)
    X = np.empty((n_per_class * classes, 2))
    y = np.repeat(np.arange(classes), n_per_class)
    for k in range(classes):
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(k * 4.0, (k + 1) * 4.0, n_per_class) + rng.normal(0.0, noise, n_per_class)
        X[k * n_per_class : (k + 1) * n_per_class] = np.column_stack([r * np.sin(t), r * np.cos(t)])
    return X, y


def synthetic_classification(n: int, features: int, classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian class clusters shaped like MNIST when ``features=784, classes=10`` (for benchmarks)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 1.0, (classes, features))
    y = rng.integers(0, classes, n)
    return centers[y] + rng.normal(0.0, 2.0, (n, features)), y
