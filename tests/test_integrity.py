"""Checkpoints are checksummed: any changed byte is refused, naming the file. Saved files get the
umask's mode; output paths are checked before work starts and errors name the user's path."""

import json
import os
import struct

import numpy as np
import pytest

import portnn as pn
from portnn.cli import main


@pytest.fixture
def saved(tmp_path):
    X, y = pn.datasets.xor()
    net = pn.Sequential(pn.Dense(2, 4), pn.Tanh(), pn.Dense(4, 1), pn.Sigmoid(), seed=0)
    net.fit(X, y, loss="mse", optimizer=pn.optim.Adam(lr=0.05), epochs=20, progress=False)
    path = tmp_path / "m.safetensors"
    net.save(path, include_optimizer=True)
    return path, net


def layout(path):
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    return data, 8 + size, header


def refused(path, data, match="corrupt|checksum|truncated|not a portnn|not a safetensors"):
    bad = path.with_name("bad.safetensors")
    bad.write_bytes(data)
    with pytest.raises(ValueError, match=match) as info:
        pn.load(bad)
    assert str(bad) in str(info.value)


def flipped(data, i):
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


def test_one_flipped_byte_anywhere_in_the_header_is_refused(saved):
    path, _ = saved
    data, start, _ = layout(path)
    for i in range(0, start, max(1, start // 200)):  # about 200 positions: length, JSON, metadata
        refused(path, flipped(data, i))


def test_one_flipped_byte_in_each_tensor_is_refused(saved):
    path, _ = saved
    data, start, header = layout(path)
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    assert any(k.startswith("optimizer/") for k in tensors)  # the optimizer's state is covered too
    for info in tensors.values():
        begin, end = info["data_offsets"]
        for i in (begin, (begin + end) // 2, end - 1):
            refused(path, flipped(data, start + i), match=r"is corrupt: its contents do not match the checksum")


def test_the_issue_s_two_corruptions_are_refused(saved):
    path, _ = saved
    data = path.read_bytes()
    half = len(data) // 2
    refused(path, data[:half] + bytes(len(data) - half))  # second half zeroed
    _, start, header = layout(path)
    begin = start + header["0.weight"]["data_offsets"][0]
    refused(path, data[:begin] + b"\x00\x01\x02\x03" + data[begin + 4 :])  # 4 bytes inside a weight


def test_a_file_without_checksum_is_refused_unless_asked(saved, tmp_path):
    from safetensors.numpy import load, save

    path, net = saved
    meta = pn.io.read(path)[1]
    legacy = tmp_path / "legacy.safetensors"
    meta.pop("checksum")
    legacy.write_bytes(save(load(path.read_bytes()), metadata=meta))
    with pytest.raises(ValueError, match=r"has no checksum.*verify=False"):
        pn.load(legacy)
    X, _ = pn.datasets.xor()
    np.testing.assert_array_equal(pn.to_numpy(pn.load(legacy, verify=False)(X)), pn.to_numpy(net(X)))


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_saved_files_get_the_mode_the_umask_gives(tmp_path, umask):
    old = os.umask(umask)
    try:
        pn.Sequential(pn.Dense(2, 1)).save(tmp_path / "m.safetensors")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "m.safetensors").st_mode & 0o777 == 0o666 & ~umask


def test_bad_output_paths_are_named_and_leave_nothing(tmp_path):
    net = pn.Sequential(pn.Dense(2, 1))
    with pytest.raises(ValueError, match=r"'.*missing/m.safetensors': the folder '.*missing' does not exist"):
        net.save(tmp_path / "missing" / "m.safetensors")
    with pytest.raises(ValueError, match=r"is a folder; give a file name") as info:
        net.save(tmp_path)
    assert ".tmp" not in str(info.value)
    assert os.listdir(tmp_path) == []


def test_train_refuses_a_bad_save_path_before_training(tmp_path, capsys, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking where to save")

    monkeypatch.setattr(pn.Sequential, "fit", no_training)
    code = main(["train", "--epochs", "5", "--no-progress", "--save", str(tmp_path / "no" / "x.safetensors")])
    assert code == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and str(tmp_path / "no" / "x.safetensors") in err and ".tmp" not in err
    assert main(["train", "--epochs", "5", "--no-progress", "--save", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
