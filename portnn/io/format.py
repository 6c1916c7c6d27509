"""The checkpoint file format: safetensors with portnn's metadata, atomic writes, checked reads.

It knows tensors and metadata strings, nothing of models (``Sequential.save`` and ``portnn.load``
in :mod:`portnn.train.model` decide what goes in)."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import struct
import tempfile
from typing import Any

import numpy as np

_FORMAT = "portnn"
_MAX_HEADER = 100_000_000


def write(path: str | os.PathLike, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """Write ``tensors`` and string ``metadata`` to ``path`` as safetensors, marked as portnn's and
    checksummed (SHA-256 of every tensor's name, dtype, shape and bytes and of the metadata).

    The file is written to a temporary file in the same folder, fsynced and renamed over ``path``,
    so a crash mid-save leaves any old file intact; a temporary file such a crash leaves is removed
    by the next write to ``path``. It gets the mode the umask gives, like any new file. Errors name
    ``path``, never the temporary file.
    """
    from safetensors.numpy import save as st_save

    path = check_writable(path)
    arrays = {key: np.ascontiguousarray(value) for key, value in tensors.items()}
    meta = {**metadata, "format": _FORMAT}
    meta["checksum"] = _checksum(arrays, meta)
    try:
        _atomic_write(path, st_save(arrays, metadata=meta))
    except OSError as exc:
        raise OSError(exc.errno, f"save: could not write {path!r} ({exc.strerror or exc})") from None


def check_writable(path: str | os.PathLike) -> str:
    """``path`` as a string, once it is sure a file can be written there: not a folder, in a folder
    that exists and is writable. Call it before work whose result would be saved there.

    >>> check_writable("/nonexistent/folder/model.safetensors")
    Traceback (most recent call last):
    ...
    ValueError: '/nonexistent/folder/model.safetensors': the folder '/nonexistent/folder' does not exist
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a file path, got {type(path).__name__}")
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a folder; give a file name (e.g. {os.path.join(path, 'model.safetensors')!r})")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{path!r}: the folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"{path!r}: the folder {folder!r} is not writable")
    return path


def _checksum(arrays: dict[str, np.ndarray], meta: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for key in sorted(arrays):
        value = np.ascontiguousarray(arrays[key])
        digest.update(json.dumps([key, value.dtype.str, list(value.shape)]).encode())
        digest.update(value.tobytes())
    digest.update(json.dumps(sorted((k, v) for k, v in meta.items() if k != "checksum")).encode())
    return f"sha256:{digest.hexdigest()}"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: str, data: bytes) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    # A process killed mid-write leaves its temporary file: the next write to the path removes it.
    for stale in glob.glob(os.path.join(glob.escape(folder), f".{glob.escape(os.path.basename(path))}.*.tmp")):
        with contextlib.suppress(OSError):
            os.unlink(stale)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~_umask())  # mkstemp makes 0600; a saved model is an ordinary file
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


def read(path: str | os.PathLike, verify: bool = True) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors and metadata of a file written by :func:`write`; nothing is unpickled. A file
    that is truncated, not safetensors, not portnn's, or whose checksum does not match (any byte
    changed) raises ``ValueError`` naming it. ``verify=False`` skips the checksum (for files
    written before checksums, which have none).

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
    try:
        with open(path, "rb") as f:
            data = f.read()
    except IsADirectoryError:
        raise ValueError(f"load: {path!r} is a folder, not a model file") from None
    meta = _read_header(path, data)["__metadata__"]
    try:
        tensors = st_load(data)
    except SafetensorError as exc:
        raise ValueError(f"load: {path!r} is corrupt ({exc})") from exc
    if verify:
        _verify(path, tensors, meta)
    return tensors, meta


def _verify(path: str, tensors: dict[str, np.ndarray], meta: dict[str, str]) -> None:
    saved = meta.get("checksum")
    if saved is None:
        raise ValueError(
            f"load: {path!r} has no checksum: it was written before portnn checksummed its files, or its "
            "header is damaged. If you trust it, load it with verify=False and save it again."
        )
    if saved != _checksum(tensors, meta):
        raise ValueError(
            f"load: {path!r} is corrupt: its contents do not match the checksum written with them "
            "(the file was changed or damaged after it was saved)"
        )
