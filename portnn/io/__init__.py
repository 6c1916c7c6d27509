"""The model file format: safetensors with portnn's metadata and checksum, atomic writes, checked
reads (``pn.io.write``, ``pn.io.read``, ``pn.io.check_writable``). It knows tensors and metadata
strings, nothing of networks. A file may come from anyone: its layout is checked before anything
is allocated (:mod:`portnn.io.header`) and JSON read from it is bounded (:mod:`portnn.io.jsonsafe`)."""

from .format import check_writable, read, write

__all__ = ["check_writable", "read", "write"]
