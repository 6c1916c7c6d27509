"""Sequential: the public face of a network — ``fit``, ``save`` and ``portnn.load``.

The network itself (layers bound to a backend, parameters, forward and backward) is
:class:`portnn.network.Network`; training is :func:`portnn.training.fit` over a
:class:`portnn.step.TrainStep`; the file format is :mod:`portnn.io`.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from . import io
from ._xp import to_numpy
from .layers import layer_from_config, layer_name
from .network import Network
from .optim import optimizer_from_state
from .training import fit as _fit


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

    def fit(self, X: Any, y: Any, **kwargs: Any) -> Any:
        """Train; see :func:`portnn.training.fit` for the arguments. Returns a History."""
        return _fit(self, X, y, **kwargs)

    def save(self, path: str | os.PathLike, include_optimizer: bool = False) -> None:
        """Save to a safetensors file (atomically): parameters, buffers, architecture and dtype,
        and with ``include_optimizer`` the optimizer's settings and state. See :func:`load`."""
        tensors = {key: to_numpy(v) for key, v in self.state_dict().items()}
        meta = {
            "architecture": json.dumps([{"class": layer_name(x), "config": x.get_config()} for x in self.layers]),
            "dtype": self.dtype_name,
            "backend": self.backend.spec,
        }
        if include_optimizer and self.optimizer is not None:
            state = self.optimizer.state_dict()
            meta["optimizer"] = json.dumps({k: state[k] for k in ("class", "config", "steps")})
            for key, entries in state["state"].items():
                tensors.update({f"optimizer/{key}/{name}": value for name, value in entries.items()})
        io.write(path, tensors, meta)

    def __repr__(self) -> str:
        inner = ", ".join(repr(x) for x in self.layers)
        return f"Sequential({inner}, backend={self.backend.spec!r}, dtype={self.dtype_name!r})"


def load(path: str | os.PathLike, backend: str = "numpy", device: str | None = None) -> Sequential:
    """Read a model saved by :meth:`Sequential.save` onto ``backend`` (and ``device``).

    Nothing is unpickled; the header, shapes, dtypes and finiteness are checked. Any registered
    layer loads, a user's own included, once its class has been defined.

    >>> import portnn as pn, tempfile, os
    >>> net = pn.Sequential(pn.Dense(2, 1), pn.Sigmoid(), seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
    >>> net.save(path)
    >>> pn.load(path).state_dict()["0.weight"].shape
    (2, 1)
    """
    path = os.fspath(path)
    tensors, meta = io.read(path)
    try:
        layers = [layer_from_config(item["class"], item["config"]) for item in json.loads(meta["architecture"])]
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"load: {path!r} has an unreadable architecture ({exc})") from exc
    if device is not None:
        backend = f"{backend.partition(':')[0]}:{device}"
    model = Sequential(*layers, backend=backend, dtype=meta.get("dtype", "float32"), seed=None)
    arrays = {k: v for k, v in tensors.items() if not k.startswith("optimizer/")}
    for key, value in arrays.items():
        if value.dtype.kind != "f":
            raise ValueError(f"load: tensor {key!r} in {path!r} has dtype {value.dtype}, expected floating point")
    model.load_state_dict(arrays)
    if "optimizer" in meta:
        _restore_optimizer(model, json.loads(meta["optimizer"]), tensors)
    return model


def _restore_optimizer(model: Sequential, info: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
    state: dict[str, dict[str, np.ndarray]] = {}
    for name, value in tensors.items():
        if name.startswith("optimizer/"):
            _, key, state_name = name.split("/")
            state.setdefault(key, {})[state_name] = value
    opt = optimizer_from_state(info)
    opt.bind(model.parameters(), model.backend)
    opt.load_state_dict({**info, "state": state})
    model.optimizer = opt
