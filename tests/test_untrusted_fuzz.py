"""Fuzzing model files (DESIGN principle 11): content mutated with Hypothesis and written with its
checksum recomputed, and bytes mutated by a seeded loop, loaded in a subprocess under a memory and
a time limit; every outcome is a load or a ValueError naming the file, with bounded memory."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from crafted import ALLOWANCE, BYTES, CONTENT, load_measured, valid_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import portnn as pn


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    return valid_file(tmp_path_factory.mktemp("valid"))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def mutated(draw, value):
    """``value`` (JSON) with one randomly chosen part replaced by random JSON."""
    if isinstance(value, (dict, list)) and value and draw(st.booleans()):
        keys = sorted(value) if isinstance(value, dict) else range(len(value))
        key = draw(st.sampled_from(keys))
        return (
            {**value, key: mutated(draw, value[key])}
            if isinstance(value, dict)
            else [mutated(draw, v) if i == key else v for i, v in enumerate(value)]
        )
    return draw(JSON | st.sampled_from([10**6, -1, 2**64, 0, "nan", "Dense", [10**6, 10**6]]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_content_with_recomputed_checksums_loads_or_is_refused(valid, tmp_path, data):
    tensors, meta = pn.io.read(valid)
    meta = {k: v for k, v in meta.items() if k != "checksum"}
    what = data.draw(st.sampled_from(["metadata", "tensor", "drop"]))
    if what == "metadata":
        key = data.draw(st.sampled_from(sorted(meta)))
        try:
            meta[key] = json.dumps(mutated(data.draw, json.loads(meta[key])))
        except json.JSONDecodeError:  # a plain string (dtype, backend, format)
            meta[key] = data.draw(st.text(max_size=12))
    else:
        key = data.draw(st.sampled_from(sorted(tensors)))
        del tensors[key]
        if what == "tensor":
            shape = data.draw(st.lists(st.integers(0, 5), max_size=3))
            dtype = data.draw(st.sampled_from(["float16", "float32", "float64"]))
            tensors[key] = np.asarray(data.draw(st.floats(width=16)), dtype=dtype) + np.zeros(shape, dtype)
    path = tmp_path / "fuzz.safetensors"
    pn.io.write(path, tensors, meta)
    error, peak = load_measured(path)
    assert error is None or repr(str(path)) in str(error), str(error)
    assert peak < 4 * os.path.getsize(path) + ALLOWANCE


def test_fuzz_mutated_bytes_in_a_subprocess_under_memory_and_time_limits(valid, tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc/self/status")
    rng = np.random.default_rng(28)
    data = valid.read_bytes()
    size = len(data)
    files = [[str(valid), True]]
    tensors, meta = pn.io.read(valid)
    meta.pop("checksum")
    for i, case in enumerate(sorted(CONTENT)):  # the crafted files too, each under the same limits
        pn.io.write(tmp_path / f"content{i}.safetensors", *CONTENT[case](tensors, meta))
        files.append([str(tmp_path / f"content{i}.safetensors"), True])
    for i, case in enumerate(sorted(BYTES)):
        (tmp_path / f"bytes{i}.safetensors").write_bytes(BYTES[case](data))
        files.append([str(tmp_path / f"bytes{i}.safetensors"), False])
    crafted = len(files)
    for i in range(200):
        mutant = bytearray(data)
        kind = i % 4
        if kind == 0:  # flip bytes
            for at in rng.integers(0, size, rng.integers(1, 4)):
                mutant[at] ^= int(rng.integers(1, 256))
        elif kind == 1:  # truncate
            mutant = mutant[: int(rng.integers(0, size))]
        elif kind == 2:  # insert or delete a run of bytes
            at = int(rng.integers(0, size))
            mutant[at:at] = rng.integers(0, 256, int(rng.integers(1, 16))).astype(np.uint8).tobytes()
        else:  # digits in the header made larger: shapes, offsets, settings
            text = mutant.decode("latin-1")
            digits = [j for j, c in enumerate(text[:2000]) if c.isdigit()]
            at = int(rng.choice(digits))
            mutant = bytearray((text[:at] + "9" * int(rng.integers(1, 12)) + text[at:]).encode("latin-1"))
        path = tmp_path / f"mutant{i}.safetensors"
        path.write_bytes(bytes(mutant))
        files.append([str(path), bool(i % 8 < 4)])  # half of them past the checksum: the later checks answer
    listing = tmp_path / "files.json"
    listing.write_text(json.dumps(files))
    worker = Path(__file__).with_name("untrusted_worker.py")
    env = {**os.environ, "PYTHONPATH": str(Path(pn.__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, str(worker), str(listing), str(512 * 2**20)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == len(files)
    bad = [r for r in results if r["outcome"] not in ("loaded", "refused") or not r.get("named", True)]
    assert not bad, bad[:5]
    assert max(r["maxrss_growth"] for r in results) < 64 * 2**20
    assert all(r["outcome"] == "refused" for r in results[1:crafted])
    assert sum(r["outcome"] == "refused" for r in results[crafted:]) > 100
