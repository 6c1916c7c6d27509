"""Sequential: the public face of a network — ``fit``, ``save`` and ``portnn.load``.

The network itself (layers bound to a backend, parameters, forward and backward) is
:class:`portnn.nn.network.Network`; training is :func:`portnn.train.loop.fit` over a
:class:`portnn.train.step.TrainStep`; the file format is :mod:`portnn.io`.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from .. import io
from .._xp import spec_with_device
from ..nn.network import Network
from . import checkpoint, evaluation, streamed
from .loop import fit as _fit

if TYPE_CHECKING:
    pass


class Sequential(Network):
    """Layers applied in order, computing on one backend, device and dtype.

    Parameters
    ----------
    *layers : Layer or str
        Layers, or activation names such as ``"relu"``.
    backend : str
        Backend spec (see :func:`portnn.available_backends`).
    dtype : {"float32", "float64"}
    seed : int
        Seeds initial weights, shuffling and dropout: the same on every backend.

    Examples
    --------
    >>> import portnn as pn
    >>> net = pn.Sequential(pn.Dense(2, 3), pn.Sigmoid(), pn.Dense(3, 1), pn.Sigmoid(), seed=0)
    >>> sorted(net.state_dict())
    ['0.bias', '0.weight', '2.bias', '2.weight']
    >>> net([[0.0, 1.0]]).shape
    (1, 1)
    """

    # The functions themselves, so that help(), editors and inspect.signature show their real
    # parameters and documentation (the network is their first argument).
    fit = _fit
    evaluate = evaluation.evaluate

    def predict(self, X: Any, batch_size: int | None = None, out: Any = None) -> Any:
        """Outputs for ``X`` (inference mode: Dropout off): on the model's backend for ``X`` in
        memory; for a streamed ``X`` (a memmap or array-like, see :mod:`portnn.train.sources`),
        or when ``out`` is given, a host NumPy array (``out``, a memmap say, filled and returned),
        ``X`` read a chunk at a time and ``batch_size`` rows (None: a chunk's) on the device at once.

        >>> import numpy as np, portnn as pn
        >>> net = pn.Sequential(pn.Dense(2, 1), seed=0)
        >>> out = np.zeros((3, 1), np.float32)
        >>> net.predict(np.ones((3, 2)), out=out) is out
        True
        """
        if out is None and not streamed.is_streamed(X):
            return super().predict(X, batch_size)
        return streamed.predict(self, X, batch_size, out)

    __call__ = predict

    def save(self, path: str | os.PathLike, include_optimizer: bool = False) -> None:
        """Save to a safetensors file (atomically, checksummed): parameters, buffers, architecture,
        dtype, the random generators' states and ``self.metadata`` (a dict of JSON values: yours to
        fill, e.g. class names), and with ``include_optimizer`` the optimizer's settings and state,
        so that ``load`` then ``fit`` continues exactly. See :func:`load`."""
        optimizer = self.optimizer if include_optimizer else None
        extra = {"user": json.dumps(self.metadata)} if self.metadata else None
        io.write(path, *checkpoint.snapshot(self, optimizer, extra))

    def __repr__(self) -> str:
        inner = ", ".join(repr(x) for x in self.layers)
        return f"Sequential({inner}, backend={self.backend.spec!r}, dtype={self.dtype_name!r})"


def load(path: str | os.PathLike, backend: str = "numpy", device: str | None = None, verify: bool = True) -> Sequential:
    """Read a model saved by :meth:`Sequential.save` onto ``backend`` (and ``device``).

    The file may come from anyone: nothing is unpickled or run, and the checksum (any changed byte
    is refused), header, architecture, shapes, dtypes and finiteness are checked before anything
    is built; a refusal is a ``ValueError`` naming the file (see the README's "Checkpoints and
    trust"). Any registered layer loads, a user's own included, once its class has
    been defined. A model saved with its optimizer gets it back as ``model.optimizer``, which
    ``fit`` continues with unless given another. ``verify=False`` skips the checksum (files
    written before portnn checksummed them have none).

    >>> import portnn as pn, tempfile, os
    >>> net = pn.Sequential(pn.Dense(2, 1), pn.Sigmoid(), seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
    >>> net.save(path)
    >>> pn.load(path).state_dict()["0.weight"].shape
    (2, 1)
    """
    path = os.fspath(path)
    if device is not None:
        backend = spec_with_device(backend, device)
    tensors, meta = io.read(path, verify=verify)
    model = checkpoint.rebuild(
        path,
        tensors,
        meta,
        lambda layers, dtype, initial: Sequential(*layers, backend=backend, dtype=dtype, seed=None, initial=initial),
    )
    return model  # type: ignore[return-value]
