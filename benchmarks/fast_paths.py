"""A/B of the backend fast paths against their generic fallbacks, on the large network's shapes.

    python benchmarks/fast_paths.py cupy:0 [torch:cuda ...]

For each backend: the bias gradient (``sum0_into``: a sum over the batch of a (1024, 4096) array)
and the SGD update (``sub_scaled`` over a (4096, 4096) weight), each timed fast and generic,
interleaved, the device synchronised before the clock stops. Prints microseconds per call
(median of 7 rounds of 50 calls) and the ratio fast/generic.
"""

import statistics
import sys
import time

import numpy as np

import portnn as pn


def per_call(bk, fn, calls=50):
    bk.synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    bk.synchronize()
    return (time.perf_counter() - start) / calls


def compare(spec, rng):
    bk = pn.get_backend(spec)
    generic = bk.variant(fast_paths=False)
    f32 = bk.dtype("float32")
    dY = bk.asarray(rng.normal(size=(1024, 4096)), f32)
    out = bk.xp.zeros(4096, dtype=f32, device=bk.device)
    W = bk.asarray(rng.normal(size=(4096, 4096)), f32)
    G = bk.asarray(rng.normal(size=(4096, 4096)), f32)
    one = bk.asarray(1.0, f32)  # the generic path scales G in place: by one, it stays the same
    cases = {
        "sum0_into (1024, 4096)": (lambda: bk.sum0_into(dY, out), lambda: generic.sum0_into(dY, out)),
        "sub_scaled (4096, 4096)": (lambda: bk.sub_scaled(W, G, one), lambda: generic.sub_scaled(W, G, one)),
    }
    for name, (fast, slow) in cases.items():
        fast(), slow()  # compile and warm up
        times = {"fast": [], "generic": []}
        for _ in range(7):
            times["fast"].append(per_call(bk, fast))
            times["generic"].append(per_call(bk, slow))
        f, g = statistics.median(times["fast"]), statistics.median(times["generic"])
        print(f"{spec:12s} {name:26s} fast {f * 1e6:8.1f} us  generic {g * 1e6:8.1f} us  fast/generic {f / g:.2f}")


def main(specs):
    rng = np.random.default_rng(0)
    for spec in specs:
        compare(spec, rng)


if __name__ == "__main__":
    main(sys.argv[1:] or ["numpy"])
