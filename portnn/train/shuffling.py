"""Each epoch's shuffle order, drawn while the device is still busy with the epoch before.

The fit loop reads the epoch's loss once, at its end, and that read waits for the device. Drawing
and uploading the next order after it leaves the device idle for as long as the draw takes (a
permutation of a large data set takes long enough to show on a GPU). :meth:`ShuffleOrders.draw_ahead`
draws it before the read, from a copy of the generator; :meth:`ShuffleOrders.take` hands it over
and moves the generator on only if the generator is where the copy started. A generator that a
callback set in between (a restored backup) draws afresh, and a fit that stops early leaves it as
if nothing had been drawn ahead: the orders are exactly those drawn one epoch at a time.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .._xp import Backend

Array = Any


class ShuffleOrders:
    """The permutations of ``n`` rows from ``rng``, as host arrays and on ``backend`` (None: on
    the host only, for a streamed fit, which reads its rows on the host).

    >>> import numpy as np, portnn as pn
    >>> orders = ShuffleOrders(np.random.default_rng(0), 5, pn.get_backend("numpy"))
    >>> orders.draw_ahead()
    >>> ahead = orders.take()[0]
    >>> bool((ahead == np.random.default_rng(0).permutation(5)).all())
    True
    """

    def __init__(self, rng: np.random.Generator, n: int, backend: Backend | None) -> None:
        self.rng, self.n, self.backend = rng, n, backend
        self._ahead: tuple[Any, Any, np.ndarray, Array] | None = None

    def draw_ahead(self) -> None:
        """Draw the next order now and start its upload, from a copy of the generator."""
        start = self.rng.bit_generator.state
        ahead = copy.deepcopy(self.rng)
        host = ahead.permutation(self.n)
        self._ahead = (start, ahead.bit_generator.state, host, self._on_device(host))

    def take(self) -> tuple[np.ndarray, Array]:
        """The next order (host, device or None): the one drawn ahead when the generator has not moved
        since, else a fresh draw."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None and _same_state(self.rng.bit_generator.state, ahead[0]):
            self.rng.bit_generator.state = ahead[1]
            return ahead[2], ahead[3]
        host = self.rng.permutation(self.n)
        return host, self._on_device(host)

    def _on_device(self, host: np.ndarray) -> Array:
        return None if self.backend is None else self.backend.asarray(host)


def _same_state(a: Any, b: Any) -> bool:
    """Equality of two bit-generator states (dicts of ints, or of arrays for MT19937)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    return bool(a == b)
