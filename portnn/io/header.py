"""The safetensors layout of a file that may come from anyone, checked before anything is
allocated: a header no longer than the file, entries of an allowed dtype and a bounded shape whose
byte ranges tile the data section exactly, metadata of strings. Every refusal is a ``ValueError``
naming the file and what is wrong in it."""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

from . import jsonsafe

FORMAT = "portnn"
MAX_HEADER = 100_000_000  # bytes of JSON before the tensors
MAX_NDIM = 8
# portnn writes floating-point tensors only; the other safetensors dtypes are named in refusals
DTYPES = {"F16": "<f2", "F32": "<f4", "F64": "<f8"}
OTHER_DTYPES = {"BF16": "bfloat16", "BOOL": "bool", "F8_E4M3": "float8_e4m3", "F8_E5M2": "float8_e5m2"}
OTHER_DTYPES.update({f"{k}{b}": f"{n}{b}" for k, n in (("I", "int"), ("U", "uint")) for b in (8, 16, 32, 64)})


def parse(path: str, data: bytes | bytearray) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Views of the tensors in ``data`` (the bytes of the file at ``path``) and its metadata."""
    if len(data) < 8:
        raise ValueError(f"load: {path!r} is too short to be a safetensors file ({len(data)} bytes)")
    (size,) = struct.unpack_from("<Q", data)
    if size > min(MAX_HEADER, len(data) - 8):
        raise ValueError(
            f"load: {path!r} is truncated or not a safetensors file (header of {size} bytes, file of {len(data)})"
        )
    header = jsonsafe.loads(memoryview(data)[8 : 8 + size], "header", path, MAX_HEADER)  # no copy
    if not isinstance(header, dict):
        raise ValueError(f"load: {path!r} has a corrupt header (a JSON {type(header).__name__}, expected an object)")
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"load: {path!r} is a safetensors file but not a portnn model (no portnn metadata)")
    wrong = sorted(k for k, v in meta.items() if not isinstance(v, str))
    if wrong:
        raise ValueError(f"load: {path!r} has a corrupt header (metadata {wrong[:3]} are not strings)")
    entries = sorted((_entry(path, name, entry), name) for name, entry in header.items())
    end = 0
    for (begin, stop, _, _), name in entries:
        if begin != end:
            what = "overlaps the tensor before it" if begin < end else f"leaves bytes {end}..{begin} unused"
            raise ValueError(f"load: {path!r} has a corrupt header (tensor {name!r} at bytes {begin}..{stop} {what})")
        end = stop
    if end != len(data) - 8 - size:
        raise ValueError(
            f"load: {path!r} is truncated or corrupt: its header describes {end} bytes of tensors, "
            f"the file holds {len(data) - 8 - size}"
        )
    tensors = {
        name: np.frombuffer(
            data, DTYPES[dtype], (stop - begin) // np.dtype(DTYPES[dtype]).itemsize, 8 + size + begin
        ).reshape(shape)
        for (begin, stop, dtype, shape), name in entries
    }
    return tensors, meta


def _entry(path: str, name: str, entry: Any) -> tuple[int, int, str, tuple[int, ...]]:
    """(begin, end, dtype, shape) of one tensor's header entry, each checked."""

    def bad(what: str) -> ValueError:
        return ValueError(f"load: {path!r} has a corrupt header (tensor {name!r}: {what})")

    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise bad(f"expected an object with dtype, shape and data_offsets, got {_short(entry)}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in DTYPES:
        known = OTHER_DTYPES.get(dtype) if isinstance(dtype, str) else None
        shown = known if known is not None else f"{_short(dtype)}, which is not a safetensors dtype"
        raise bad(f"has dtype {shown}, expected floating point ({', '.join(DTYPES)})")
    if not isinstance(shape, list) or len(shape) > MAX_NDIM or not all(_natural(n) for n in shape):
        raise bad(f"shape {_short(shape)}, expected a list of at most {MAX_NDIM} integers >= 0")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_natural(n) for n in offsets):
        raise bad(f"data_offsets {_short(offsets)}, expected [begin, end] integers >= 0")
    nbytes = np.dtype(DTYPES[dtype]).itemsize * math.prod(shape)  # exact: dimensions have at most 40 digits
    if offsets[1] - offsets[0] != nbytes:
        raise bad(
            f"shape {shape} of {dtype} needs {nbytes} bytes, its data_offsets {offsets} hold {offsets[1] - offsets[0]}"
        )
    return offsets[0], offsets[1], dtype, tuple(shape)


def _natural(n: Any) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and n >= 0


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
