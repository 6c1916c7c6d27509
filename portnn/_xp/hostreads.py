"""How a backend's arrays reach the host: deliberate reads (the loss once per epoch) and a
context that forbids every other one, proving that a training loop keeps the device busy."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, cast

import numpy as np  # noqa: F401 (the doctest's np.float64)

from .arrays import Array


class HostReads:
    """The host-read part of :class:`~portnn._xp.base.Backend` (which subclasses it)."""

    _sync_forbidden = 0

    def synchronize(self, *arrays: Array) -> None:
        """Wait until the device has finished the work that produces ``arrays`` (for timing)."""

    @property
    def on_gpu(self) -> bool:
        """True where arrays live on a GPU (CuPy, torch on CUDA, JAX on a GPU)."""
        return False

    @property
    def syncs_with_host(self) -> bool:
        """True where arrays live on an accelerator that the host can be made to wait for: a GPU."""
        return self.on_gpu

    @contextlib.contextmanager
    def host_sync_forbidden(self) -> Iterator[None]:
        """A context in which any host read of device data raises ``RuntimeError``, except the
        deliberate ones made through :meth:`read` (the loss once per epoch). It proves that a
        training loop keeps the device busy: CuPy's ``cupyx.allow_synchronize(False)``, torch's
        sync debug mode ``"error"``, JAX's device-to-host transfer guard. On host backends there is
        nothing to wait for and it changes nothing.

        >>> from portnn._xp import get_backend
        >>> bk = get_backend("numpy")
        >>> with bk.host_sync_forbidden():
        ...     bk.read(np.float64(2.5))
        2.5
        """
        if not self.syncs_with_host:
            yield
            return
        self._sync_forbidden += 1
        try:
            with self._sync_mode(allowed=False):
                yield
        finally:
            self._sync_forbidden -= 1

    def read(self, x: Array, as_type: Any = float) -> Any:
        """``as_type(x)`` for a 0-D array: a deliberate host read, allowed inside
        :meth:`host_sync_forbidden`."""
        if not self._sync_forbidden:
            return as_type(self._host_value(x))
        with self._sync_mode(allowed=True):
            return as_type(self._host_value(x))

    def reader(self, as_type: Any = float) -> Callable[[Array], Any]:
        """What :meth:`read` does with ``as_type``, as one function for a loop that reads every
        epoch: on CPU backends ``as_type`` itself or through the host view, without the checks."""
        if self.syncs_with_host:
            return lambda x: self.read(x, as_type)
        if type(self)._host_value is HostReads._host_value:
            return cast(Callable[[Array], Any], as_type)
        host_value = self._host_value
        return lambda x: as_type(host_value(x))

    def _host_value(self, x: Array) -> Any:
        """What :meth:`read` converts: ``x`` itself here (``float(x)`` reads it)."""
        return x

    def _sync_mode(self, allowed: bool) -> Any:
        """A context allowing (or forbidding) host reads of device data; only where
        :attr:`syncs_with_host`."""
        return contextlib.nullcontext()
