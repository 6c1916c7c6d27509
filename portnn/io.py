"""Saving and loading models as safetensors files: no pickle, atomic writes, checked reads."""

from __future__ import annotations

import json
import os
import struct
import tempfile
from typing import TYPE_CHECKING, Any

import numpy as np

from ._xp import to_numpy

if TYPE_CHECKING:
    from .model import Sequential

_FORMAT = "portnn"
_MAX_HEADER = 100_000_000


def _layer_classes() -> dict[str, type]:
    from . import activations, layers

    classes = {c.__name__: c for c in vars(activations).values() if isinstance(c, type)}
    classes.update({"Dense": layers.Dense, "Dropout": layers.Dropout})
    return classes


def save(model: Sequential, path: str | os.PathLike, include_optimizer: bool = False) -> None:
    """Write ``model`` to ``path`` (safetensors): parameters, architecture and dtype in the metadata.

    The file is written to a temporary file in the same folder, fsynced and renamed over ``path``,
    so a crash mid-save leaves any old file intact and no temporary file behind.
    """
    from safetensors.numpy import save as st_save

    tensors = {key: np.ascontiguousarray(to_numpy(v)) for key, v in model.state_dict().items()}
    meta = {
        "format": _FORMAT,
        "architecture": json.dumps([{"class": type(x).__name__, "config": x.get_config()} for x in model.layers]),
        "dtype": model.dtype_name,
        "backend": model.backend.spec,
    }
    opt = model.optimizer
    if include_optimizer and opt is not None:
        meta["optimizer"] = json.dumps({"class": type(opt).__name__, "config": opt.get_config(), "steps": opt.steps})
        for key, state in opt.state.items():
            for name, value in state.items():
                if name != "scratch":
                    tensors[f"optimizer/{key}/{name}"] = np.ascontiguousarray(to_numpy(value))
    _atomic_write(os.fspath(path), st_save(tensors, metadata=meta))


def _atomic_write(path: str, data: bytes) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _read_header(path: str, data: bytes) -> dict[str, Any]:
    if len(data) < 8:
        raise ValueError(f"load: {path!r} is too short to be a safetensors file ({len(data)} bytes)")
    (size,) = struct.unpack("<Q", data[:8])
    if size > min(_MAX_HEADER, len(data) - 8):
        raise ValueError(f"load: {path!r} is truncated or not a safetensors file (header of {size} bytes)")
    try:
        header = json.loads(data[8 : 8 + size])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"load: {path!r} has a corrupt header ({exc})") from exc
    meta = header.get("__metadata__", {}) if isinstance(header, dict) else {}
    if meta.get("format") != _FORMAT:
        raise ValueError(f"load: {path!r} is a safetensors file but not a portnn model (no portnn metadata)")
    return header


def load(path: str | os.PathLike, backend: str = "numpy", device: str | None = None) -> Sequential:
    """Read a model saved by :meth:`Sequential.save` onto ``backend`` (and ``device``).

    Nothing is unpickled; the header, shapes, dtypes and finiteness are checked.

    >>> import portnn as pn, tempfile, os
    >>> net = pn.Sequential(pn.Dense(2, 1), pn.Sigmoid(), seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
    >>> net.save(path)
    >>> pn.load(path).state_dict()["0.weight"].shape
    (2, 1)
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load

    from .model import Sequential

    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    meta = _read_header(path, data)["__metadata__"]
    try:
        tensors = st_load(data)
    except SafetensorError as exc:
        raise ValueError(f"load: {path!r} is corrupt ({exc})") from exc
    classes = _layer_classes()
    try:
        spec = json.loads(meta["architecture"])
        layers = [classes[item["class"]](**item["config"]) for item in spec]
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"load: {path!r} has an unreadable architecture ({exc})") from exc
    if device is not None:
        backend = f"{backend.partition(':')[0]}:{device}"
    model = Sequential(*layers, backend=backend, dtype=meta.get("dtype", "float32"), seed=None)
    params = {k: v for k, v in tensors.items() if not k.startswith("optimizer/")}
    for key, value in params.items():
        if value.dtype.kind != "f":
            raise ValueError(f"load: tensor {key!r} in {path!r} has dtype {value.dtype}, expected floating point")
    model.load_state_dict(params)
    if "optimizer" in meta:
        _restore_optimizer(model, json.loads(meta["optimizer"]), tensors)
    return model


def _restore_optimizer(model: Sequential, info: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
    from . import optim

    config = dict(info.get("config", {}))
    if "betas" in config:
        config["betas"] = tuple(config["betas"])  # JSON has no tuples
    opt = optim.OPTIMIZERS[info["class"].lower()](**config)
    opt.bind(model._slots(), model.backend)
    opt.steps = int(info["steps"])
    for name, value in tensors.items():
        if name.startswith("optimizer/"):
            _, key, state_name = name.split("/")
            opt.state[key][state_name] = model.backend.asarray(value, model.dtype)
    model.optimizer = opt
