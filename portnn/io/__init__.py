"""The model file format: safetensors with portnn's metadata and checksum, atomic writes, checked
reads (``pn.io.write``, ``pn.io.read``, ``pn.io.check_writable``). It knows tensors and metadata
strings, nothing of networks."""

from .format import check_writable, read, write

__all__ = ["check_writable", "read", "write"]
