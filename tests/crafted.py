"""Crafted model files for tests/test_untrusted_files.py and tests/untrusted_worker.py: what a
hostile or broken file may hold, each case a function of a valid file's (tensors, metadata) or
bytes. Cases that change content go through ``pn.io.write``, which recomputes the checksum: a
checksum proves no origin, so every check after it must hold on its own."""

import json
import os
import struct
import tracemalloc

import numpy as np

import portnn as pn

NEST = 100_000  # levels of nesting a crafted JSON value holds


def valid_model(path):
    """A small trained model with every kind of state: buffers (BatchNorm), a Dropout generator,
    Adam's state, user metadata."""
    X, y = pn.datasets.xor()
    net = pn.Sequential(
        pn.Dense(2, 4), pn.BatchNorm(4), pn.ReLU(), pn.Dropout(0.1), pn.Dense(4, 1), pn.Sigmoid(), seed=0
    )
    net.metadata = {"classes": [0, 1]}
    net.fit(X, y, loss="bce", optimizer=pn.optim.Adam(lr=0.05), epochs=3, batch_size=2, progress=False)
    net.save(path, include_optimizer=True)
    return net


def raw(header, data=b""):
    """The bytes of a safetensors file with this header (a dict, or bytes as they are)."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def layout(data):
    """(header dict, tensor bytes) of a file's bytes."""
    (size,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + size]), data[8 + size :]


def with_entry(data, name, **changes):
    """``data`` with tensor ``name``'s header entry changed (the checksum is not what is tested)."""
    header, body = layout(data)
    header[name] = {**header[name], **changes}
    return raw(header, body)


def _offsets_of(data, name, nbytes):
    begin = layout(data)[0][name]["data_offsets"][0]
    return [begin, begin + nbytes]


def nested(depth=NEST):
    return "[" * depth + "]" * depth


def dense(n_in, n_out):
    return {"class": "Dense", "config": {"n_in": n_in, "n_out": n_out, "bias": True, "init": "auto"}}


def arch(meta, layers):
    return {**meta, "architecture": json.dumps(layers)}


def _rng(meta, change):
    state = json.loads(meta["rng"])
    change(state)
    return {**meta, "rng": json.dumps(state)}


def _optimizer(meta, **changes):
    info = json.loads(meta["optimizer"])
    return {**meta, "optimizer": json.dumps({**info, **changes})}


def _architecture(meta, i, **config):
    layers = json.loads(meta["architecture"])
    layers[i]["config"].update(config)
    return arch(meta, layers)


def _without(tensors, name):
    return {k: v for k, v in tensors.items() if k != name}


M = "optimizer/0.weight/m"
# name -> (tensors, meta) -> (tensors, meta): written with a recomputed checksum
CONTENT = {
    "memory bomb: Dense(2, 60000), Dense(60000, 60000), Dense(60000, 1)": lambda t, m: (
        {},
        arch(m, [dense(2, 60000), dense(60000, 60000), dense(60000, 1)]),
    ),
    "Dense(10**6, 10**6) in a small file": lambda t, m: (t, arch(m, [dense(10**6, 10**6)])),
    "Dense(10000, 10000)": lambda t, m: (t, arch(m, [dense(10000, 10000)])),
    "10 001 ReLU layers": lambda t, m: (t, arch(m, [{"class": "ReLU", "config": {}}] * 10_001)),
    "5 MB architecture": lambda t, m: (
        t,
        {**m, "architecture": json.dumps([{"class": "ReLU", "config": {"x": "a" * 5_000_000}}])},
    ),
    "nested architecture": lambda t, m: (t, {**m, "architecture": nested()}),
    "nested layer settings": lambda t, m: (t, arch(m, [{"class": "ReLU", "config": {"x": json.loads(nested(40))}}])),
    "nested rng": lambda t, m: (t, {**m, "rng": nested()}),
    "nested optimizer": lambda t, m: (t, {**m, "optimizer": nested()}),
    "nested user metadata": lambda t, m: (t, {**m, "user": nested()}),
    "5000-digit integer": lambda t, m: (
        t,
        {**m, "architecture": m["architecture"].replace('"n_in": 2', '"n_in": ' + "9" * 5000)},
    ),
    "architecture not a list": lambda t, m: (t, {**m, "architecture": '{"a": 1}'}),
    "layer not an object": lambda t, m: (t, arch(m, ["Dense"])),
    "unknown layer os.system": lambda t, m: (t, arch(m, [{"class": "os.system", "config": {"command": "rm -rf /"}}])),
    "n_in -5": lambda t, m: (t, _architecture(m, 0, n_in=-5)),
    "n_in 10**30": lambda t, m: (t, _architecture(m, 0, n_in=10**30)),
    "n_in a string": lambda t, m: (t, _architecture(m, 0, n_in="2")),
    "unexpected setting": lambda t, m: (t, _architecture(m, 0, evil=1)),
    "LeakyReLU slope a string": lambda t, m: (t, arch(m, [{"class": "LeakyReLU", "config": {"alpha": "x"}}])),
    "BatchNorm momentum 5": lambda t, m: (t, _architecture(m, 1, momentum=5)),
    "layer sizes do not chain": lambda t, m: (t, _architecture(m, 4, n_in=3)),
    "dtype float128": lambda t, m: (t, {**m, "dtype": "float128"}),
    "dtype a list": lambda t, m: (t, {**m, "dtype": "[1]"}),
    "no architecture": lambda t, m: (t, {k: v for k, v in m.items() if k != "architecture"}),
    "weight of the wrong shape": lambda t, m: ({**t, "0.weight": np.ones((4, 2), np.float32)}, m),
    "weight missing": lambda t, m: (_without(t, "0.weight"), m),
    "extra tensor": lambda t, m: ({**t, "9.weight": np.ones(3, np.float32)}, m),
    "NaN in a weight": lambda t, m: ({**t, "0.weight": np.full((2, 4), np.nan, np.float32)}, m),
    "inf in a buffer": lambda t, m: ({**t, "1.running_var": np.full(4, np.inf, np.float32)}, m),
    "NaN in optimizer state": lambda t, m: ({**t, M: np.full((2, 4), np.nan, np.float32)}, m),
    "optimizer state of the wrong shape": lambda t, m: ({**t, M: np.ones((4, 2), np.float32)}, m),
    "optimizer state missing": lambda t, m: (_without(t, M), m),
    "optimizer state of no parameter": lambda t, m: ({**t, "optimizer/7.weight/m": np.ones(2, np.float32)}, m),
    "optimizer state of a buffer": lambda t, m: ({**t, "optimizer/1.running_mean/m": np.ones(4, np.float32)}, m),
    "optimizer state name with a slash": lambda t, m: ({**t, "optimizer/0.weight/m/x": np.ones((2, 4), np.float32)}, m),
    "unknown optimizer state name": lambda t, m: ({**t, "optimizer/0.weight/zz": np.ones((2, 4), np.float32)}, m),
    "optimizer not an object": lambda t, m: (t, {**m, "optimizer": "[]"}),
    "unknown optimizer": lambda t, m: (t, _optimizer(m, **{"class": "os.system"})),
    "optimizer lr a string": lambda t, m: (t, _optimizer(m, config={"lr": "0.1"})),
    "optimizer betas an int": lambda t, m: (t, _optimizer(m, config={"betas": 5})),
    "optimizer unknown setting": lambda t, m: (t, _optimizer(m, config={"evil": 1})),
    "optimizer steps -1": lambda t, m: (t, _optimizer(m, steps=-1)),
    "optimizer steps 10**30": lambda t, m: (t, _optimizer(m, steps=10**30)),
    "optimizer steps a string": lambda t, m: (t, _optimizer(m, steps="3")),
    "rng not an object": lambda t, m: (t, {**m, "rng": "[1, 2]"}),
    "rng without shuffle": lambda t, m: (t, _rng(m, lambda s: s.pop("shuffle"))),
    "rng of another generator": lambda t, m: (t, _rng(m, lambda s: s["shuffle"].update(bit_generator="MT19937"))),
    "rng state negative": lambda t, m: (t, _rng(m, lambda s: s["shuffle"]["state"].update(state=-1))),
    "rng state too large": lambda t, m: (t, _rng(m, lambda s: s["shuffle"]["state"].update(inc=2**130))),
    "rng state a string": lambda t, m: (t, _rng(m, lambda s: s["shuffle"]["state"].update(inc="1"))),
    "rng of a layer without one": lambda t, m: (t, _rng(m, lambda s: s["layers"].update({"0": s["layers"]["3"]}))),
    "rng of a layer out of range": lambda t, m: (t, _rng(m, lambda s: s["layers"].update({"99": s["layers"]["3"]}))),
    "user metadata not an object": lambda t, m: (t, {**m, "user": "[1]"}),
}

# name -> bytes of a valid file -> crafted bytes (the checksum is not what these test)
BYTES = {
    "empty file": lambda d: b"",
    "7 bytes": lambda d: d[:7],
    "header longer than the file": lambda d: struct.pack("<Q", len(d)) + d[8:],
    "header of 2**63 bytes": lambda d: struct.pack("<Q", 2**63) + d[8:],
    "header not JSON": lambda d: raw(b"not json!!", b"\0" * 20),
    "header nested": lambda d: raw(nested().encode()),
    "header a list": lambda d: raw(b"[1, 2]"),
    "header with a duplicate tensor name": lambda d: raw(b'{"__metadata__": {"format": "portnn"}, "a": 1, "a": 2}'),
    "metadata not an object": lambda d: raw({"__metadata__": [1]}),
    "metadata values not strings": lambda d: raw({"__metadata__": {"format": "portnn", "rng": {"a": 1}}}),
    "no portnn metadata": lambda d: raw({"__metadata__": {"format": "pt"}}),
    "truncated tensors": lambda d: d[:-3],
    "extra bytes after the tensors": lambda d: d + b"\0" * 16,
    "negative shape": lambda d: with_entry(d, "0.weight", shape=[-2, 4]),
    "huge shape": lambda d: with_entry(d, "0.weight", shape=[10**30, 10**30]),
    "shape of 9 dimensions": lambda d: with_entry(d, "0.weight", shape=[1] * 9),
    "shape a string": lambda d: with_entry(d, "0.weight", shape="2,4"),
    "shape not matching the offsets": lambda d: with_entry(d, "0.weight", shape=[4, 4]),
    "offsets out of range": lambda d: with_entry(d, "0.weight", data_offsets=[10**12, 10**12 + 32]),
    "offsets negative": lambda d: with_entry(d, "0.weight", data_offsets=[-32, 0]),
    "offsets reversed": lambda d: with_entry(d, "0.weight", data_offsets=[32, 0]),
    "offsets overlapping": lambda d: with_entry(d, "0.weight", data_offsets=_offsets_of(d, "0.bias", 32)),
    "dtype float128": lambda d: with_entry(d, "0.weight", dtype="float128"),
    "dtype I32": lambda d: with_entry(d, "0.weight", dtype="I32"),
    "dtype BF16": lambda d: with_entry(d, "0.weight", dtype="BF16"),
    "entry with an extra field": lambda d: with_entry(d, "0.weight", evil=1),
}


ALLOWANCE = 4_000_000  # bytes a load may allocate beyond a few times the file's size


def valid_file(folder):
    """A valid model file in ``folder``, loaded once (imports and caches are not the files' doing)."""
    path = folder / "m.safetensors"
    valid_model(path)
    pn.load(path)
    return path


def load_measured(path, verify=True):
    """(the ValueError raised or None, peak bytes allocated while loading ``path``)."""
    tracemalloc.start()
    try:
        pn.load(path, verify=verify)
        error = None
    except ValueError as exc:
        error = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return error, peak


def assert_refused_cheaply(path, verify=True):
    error, peak = load_measured(path, verify)
    assert error is not None, f"{path.name}: loaded"
    assert repr(str(path)) in str(error), f"the refusal does not name the file: {error}"
    assert peak < 4 * os.path.getsize(path) + ALLOWANCE, f"{peak} bytes allocated refusing {path.name}: {error}"
    return str(error)
