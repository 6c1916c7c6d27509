"""The in-place part of :class:`~portnn._xp.base.Backend` (which subclasses it): updates written
into an existing array where the backend's arrays are writeable (NumPy, CuPy, torch: no allocation
per step), a new array bound instead where they are not (JAX). Optimizers and layers write their
updates with these, so that one code path serves both kinds of library."""

from __future__ import annotations

from typing import Any

from .arrays import Array


class InPlaceUpdates:
    """``iadd``, ``isub``, ``imul``, ``idiv``, ``ipow``, ``mul_into``, ``sub_scaled``, ``copy_into``:
    each returns its result, which is the first array itself where ``writeable``.

    >>> import numpy as np
    >>> from portnn import get_backend
    >>> bk, a = get_backend("numpy"), np.ones(3)
    >>> bk.iadd(a, 1.0) is a, a
    (True, array([2., 2., 2.]))
    >>> bk.variant(writeable=False).iadd(a, 1.0) is a, a
    (False, array([2., 2., 2.]))
    """

    writeable: bool

    def iadd(self, a: Array, b: Any) -> Array:
        """``a + b``, written into ``a`` when arrays are writeable. Returns the result."""
        if self.writeable:
            a += b
            return a
        return a + b

    def isub(self, a: Array, b: Any) -> Array:
        """``a - b``, into ``a`` when writeable."""
        if self.writeable:
            a -= b
            return a
        return a - b

    def imul(self, a: Array, b: Any) -> Array:
        """``a * b``, into ``a`` when writeable."""
        if self.writeable:
            a *= b
            return a
        return a * b

    def idiv(self, a: Array, b: Any) -> Array:
        """``a / b``, into ``a`` when writeable."""
        if self.writeable:
            a /= b
            return a
        return a / b

    def ipow(self, a: Array, b: float) -> Array:
        """``a ** b``, into ``a`` when writeable."""
        if self.writeable:
            a **= b
            return a
        return a**b

    def mul_into(self, out: Array, a: Array, b: Any) -> Array:
        """``a * b``, written into ``out`` when writeable (``a`` and ``b`` are left alone; ``out``
        may be ``a``). The libraries that take ``out=`` do it in one operation (a fast path)."""
        if self.writeable:
            if out is not a:
                out[...] = a
            out *= b
            return out
        return a * b

    def sub_scaled(self, a: Array, b: Array, scale: Any, scratch: Array | None = None) -> Array:
        """``a - scale * b``, into ``a`` when writeable, with ``scratch`` (or else ``b``, whose
        values are then lost) as the space for ``scale * b``: the SGD step in one call, no temporary."""
        if self.writeable:
            s = self.mul_into(b if scratch is None else scratch, b, scale)
            a -= s
            return a
        return a - scale * b

    def copy_into(self, dst: Array, src: Array) -> Array:
        """``src``'s values, in ``dst`` when writeable (immutable arrays are simply shared)."""
        if self.writeable:
            dst[...] = src
            return dst
        return src
