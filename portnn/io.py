"""The checkpoint file format: safetensors with portnn's metadata, atomic writes, checked reads.

It knows tensors and metadata strings, nothing of models (``Sequential.save`` and ``portnn.load``
in :mod:`portnn.model` decide what goes in)."""

from __future__ import annotations

import json
import os
import struct
import tempfile
from typing import Any

import numpy as np

_FORMAT = "portnn"
_MAX_HEADER = 100_000_000


def write(path: str | os.PathLike, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """Write ``tensors`` and string ``metadata`` to ``path`` as safetensors, marked as portnn's.

    The file is written to a temporary file in the same folder, fsynced and renamed over ``path``,
    so a crash mid-save leaves any old file intact and no temporary file behind.
    """
    from safetensors.numpy import save as st_save

    arrays = {key: np.ascontiguousarray(value) for key, value in tensors.items()}
    _atomic_write(os.fspath(path), st_save(arrays, metadata={**metadata, "format": _FORMAT}))


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


def read(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors and metadata of a file written by :func:`write`; nothing is unpickled, and a
    file that is truncated, not safetensors or not portnn's raises ``ValueError`` naming it.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "t.safetensors")
    >>> write(path, {"w": np.ones(2)}, {"note": "hi"})
    >>> tensors, meta = read(path)
    >>> tensors["w"], meta["note"]
    (array([1., 1.]), 'hi')
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load

    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    meta = _read_header(path, data)["__metadata__"]
    try:
        tensors = st_load(data)
    except SafetensorError as exc:
        raise ValueError(f"load: {path!r} is corrupt ({exc})") from exc
    return tensors, meta
