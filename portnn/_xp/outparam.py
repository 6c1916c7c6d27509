"""Fast paths shared by the libraries whose functions write into ``out=`` (NumPy, CuPy, torch)."""

from __future__ import annotations

from .arrays import Array
from .base import Backend


class OutParamBackend(Backend):
    """A :class:`Backend` whose native library takes ``out=``: products, sums, ``maximum`` and the
    ReLU mask written into arrays that already exist instead of new ones."""

    def matmul_into(self, a: Array, b: Array, out: Array) -> Array:
        return self._native.matmul(a, b, out=out)

    def sum0_into(self, a: Array, out: Array) -> Array:
        return self._native.sum(a, axis=0, out=out)

    def maximum(self, x: Array, value: float, in_place: bool = False) -> Array:
        if in_place and self.writeable:
            return self._native.maximum(x, value, out=x)
        return self.xp.maximum(x, value)

    def zero_where_not(self, mask: Array, x: Array) -> Array:
        return self._native.multiply(x, mask, out=x) if self.writeable else x * mask

    def mul_into(self, out: Array, a: Array, b: Array) -> Array:
        return self._native.multiply(a, b, out=out) if self.writeable else a * b
