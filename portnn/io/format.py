"""The checkpoint file format: safetensors with portnn's metadata, atomic writes, checked reads.

It knows tensors and metadata strings, nothing of models (``Sequential.save`` and ``portnn.load``
in :mod:`portnn.train.model` decide what goes in)."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import stat
import tempfile

import numpy as np

from . import header


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
    meta = {**metadata, "format": header.FORMAT}
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
        digest.update(value.data)  # the bytes, not a copy of them
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


def read(path: str | os.PathLike, verify: bool = True) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors and metadata of a file written by :func:`write`; nothing is unpickled or run.

    The file may come from anyone. Its header is checked before anything is allocated beyond the
    file's own bytes (see :mod:`portnn.io.header`: a header no longer than the file, floating-point
    tensors whose shapes match their byte ranges, ranges that tile the data exactly, metadata of
    strings); then the checksum (any byte changed) unless ``verify=False`` (files written before
    checksums have none). Every refusal is a ``ValueError`` naming the file and what is wrong.
    Time and memory are proportional to the file's size.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "t.safetensors")
    >>> write(path, {"w": np.ones(2)}, {"note": "hi"})
    >>> tensors, meta = read(path)
    >>> tensors["w"], meta["note"]
    (array([1., 1.]), 'hi')
    """
    path = os.fspath(path)
    views, meta = header.parse(path, _file_bytes(path))
    if verify:
        _verify(path, views, meta)
    return {name: view.copy() for name, view in views.items()}, meta  # aligned, writeable, the file's buffer freed


def _file_bytes(path: str) -> bytearray:
    try:
        with open(path, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ValueError(f"load: {path!r} is not a regular file")
            data = bytearray(info.st_size)
            got = f.readinto(data)
    except IsADirectoryError:
        raise ValueError(f"load: {path!r} is a folder, not a model file") from None
    if got != info.st_size:
        raise ValueError(f"load: {path!r} changed while it was read ({got} of {info.st_size} bytes)")
    return data


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
