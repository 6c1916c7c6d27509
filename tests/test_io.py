"""Checkpoints: safetensors, atomic writes, checked reads, portable across backends."""

import json
import os
import struct

import numpy as np
import pytest

import portnn as pn


def trained(backend="numpy", dtype="float32"):
    X, y = pn.datasets.xor()
    net = pn.Sequential(
        pn.Dense(2, 4), pn.Tanh(), pn.Dropout(0.1), pn.Dense(4, 1), pn.Sigmoid(), backend=backend, dtype=dtype, seed=0
    )
    net.fit(X, y, optimizer=pn.optim.Adam(lr=0.05), epochs=5, progress=False)
    return net


def test_round_trip_is_bitwise_on_the_same_backend(bk, tmp_path):
    net = trained(bk)
    path = tmp_path / "m.safetensors"
    net.save(path)
    loaded = pn.load(path, backend=bk.spec)
    X, _ = pn.datasets.xor()
    np.testing.assert_array_equal(pn.to_numpy(loaded(X)), pn.to_numpy(net(X)))
    assert [type(x) for x in loaded.layers] == [type(x) for x in net.layers]
    assert loaded.layers[2].p == 0.1 and loaded.dtype_name == "float32"


def test_a_model_saved_on_one_backend_loads_on_every_other(tmp_path):
    X, _ = pn.datasets.xor()
    specs = [s for s in pn.testing.ALL_SPECS if pn.testing.backend_skip_reason(s) is None]
    if not os.environ.get("PORTNN_BACKENDS"):  # the whole matrix: array-api-strict is required
        assert "array_api_strict:device1" in specs
    specs = list(dict.fromkeys(["numpy", *specs]))  # a narrowed matrix still loads to and from NumPy
    for source in specs:
        path = tmp_path / f"{source.replace(':', '_')}.safetensors"
        net = trained(source)
        net.save(path)
        expected = pn.to_numpy(net(X))
        for target in specs:
            loaded = pn.load(path, backend=target)
            pn.testing.assert_on_backend(loaded(X), target)
            np.testing.assert_allclose(pn.to_numpy(loaded(X)), expected, rtol=1e-6, err_msg=f"{source} -> {target}")


def test_device_argument(tmp_path):
    path = tmp_path / "m.safetensors"
    trained().save(path)
    loaded = pn.load(path, backend="array_api_strict", device="device1")
    assert loaded.backend.spec == "array_api_strict:device1"


def test_optimizer_state_is_optional(tmp_path):
    net = trained()
    net.save(tmp_path / "plain.safetensors")
    net.save(tmp_path / "full.safetensors", include_optimizer=True)
    assert pn.load(tmp_path / "plain.safetensors").optimizer is None
    restored = pn.load(tmp_path / "full.safetensors").optimizer
    assert isinstance(restored, pn.optim.Adam) and restored.steps == net.optimizer.steps
    np.testing.assert_array_equal(restored.state["0.weight"]["m"], net.optimizer.state["0.weight"]["m"])


def test_a_crash_mid_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    trained().save(path)
    old = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        trained(dtype="float64").save(path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["m.safetensors"]


def test_truncated_file(tmp_path):
    path = tmp_path / "m.safetensors"
    trained().save(path)
    data = path.read_bytes()
    for cut in (4, 20, len(data) - 3):
        (tmp_path / "cut.safetensors").write_bytes(data[:cut])
        with pytest.raises(ValueError, match=r"truncated|too short|corrupt"):
            pn.load(tmp_path / "cut.safetensors")


def test_foreign_and_corrupt_files(tmp_path):
    from safetensors.numpy import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": np.ones(2)}, str(foreign))
    with pytest.raises(ValueError, match="not a portnn model"):
        pn.load(foreign)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(struct.pack("<Q", 10) + b"not json!!" + b"\0" * 20)
    with pytest.raises(ValueError, match="corrupt header"):
        pn.load(garbage)
    pickle_like = tmp_path / "model.pkl"
    pickle_like.write_bytes(b"\x80\x04\x95" + b"\0" * 64)
    with pytest.raises(ValueError, match="truncated or not a safetensors file"):
        pn.load(pickle_like)


def rewrite(path, tensors, meta):
    """A well-formed, correctly checksummed file with this content (what the checks after the
    checksum must catch: a file written wrong, not damaged)."""
    pn.io.write(path, tensors, {k: v for k, v in meta.items() if k != "checksum"})


def read(path):
    from safetensors.numpy import load

    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    return load(data), json.loads(data[8 : 8 + size])["__metadata__"]


def test_non_finite_wrong_shape_and_wrong_dtype_tensors(tmp_path):
    path = tmp_path / "m.safetensors"
    trained().save(path)
    tensors, meta = read(path)
    bad = tmp_path / "bad.safetensors"
    rewrite(bad, {**tensors, "0.bias": np.full(4, np.nan, dtype=np.float32)}, meta)
    with pytest.raises(ValueError, match=r"state\['0.bias'\]: contains NaN"):
        pn.load(bad)
    rewrite(bad, {**tensors, "0.weight": np.ones((4, 2), dtype=np.float32)}, meta)
    with pytest.raises(ValueError, match=r"state\['0.weight'\]: expected shape \(2, 4\), got \(4, 2\)"):
        pn.load(bad)
    rewrite(bad, {**tensors, "0.bias": np.ones(4, dtype=np.int32)}, meta)
    with pytest.raises(ValueError, match="has dtype int32, expected floating point"):
        pn.load(bad)
    rewrite(bad, tensors, {**meta, "architecture": "[{"})
    with pytest.raises(ValueError, match="corrupt architecture"):
        pn.load(bad)


@pytest.mark.parametrize(
    "make",
    [
        lambda: pn.optim.SGD(lr=0.03, momentum=0.9, nesterov=True, weight_decay=1e-3),
        lambda: pn.optim.Adam(lr=0.02, betas=(0.8, 0.99), eps=1e-7),
        lambda: pn.optim.AdamW(lr=0.02, weight_decay=0.05),
        lambda: pn.optim.RMSprop(lr=0.01, alpha=0.9),
    ],
)
def test_saved_optimizer_keeps_its_settings_and_resumes_identically(tmp_path, make):
    X, y = pn.datasets.xor()
    net = pn.Sequential(pn.Dense(2, 4), pn.Tanh(), pn.Dense(4, 1), pn.Sigmoid(), dtype="float64", seed=0)
    net.fit(X, y, optimizer=make(), epochs=3, progress=False)
    net.save(tmp_path / "m.safetensors", include_optimizer=True)
    loaded = pn.load(tmp_path / "m.safetensors")
    assert loaded.optimizer.get_config() == net.optimizer.get_config()
    net.fit(X, y, optimizer=net.optimizer, epochs=2, progress=False)
    loaded.fit(X, y, optimizer=loaded.optimizer, epochs=2, progress=False)
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key], value)
