"""Backend-swap benchmarking: :func:`compare` times your network on your data across backends,
batch sizes and dtypes; ``portnn bench`` runs the built-in suite (:mod:`portnn.bench.suite`)."""

from .compare import compare, unavailable
from .comparison import Comparison

__all__ = ["Comparison", "compare", "unavailable"]
