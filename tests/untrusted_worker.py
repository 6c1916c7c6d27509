"""Load model files under a memory limit and a time limit; print one JSON line per file.

    python untrusted_worker.py LIST.json ALLOWANCE_BYTES

LIST.json holds [[path, verify], ...]; the first entry, a valid file, is loaded before the limit is
set (imports and first-use allocations are not the files' doing). Each file then gets
``ALLOWANCE_BYTES`` of address space beyond what the process had, and 60 seconds.
"""

import json
import resource
import signal
import sys

import portnn as pn


class TimeLimit(Exception):
    pass


def on_alarm(signum, frame):
    raise TimeLimit("more than 60 s")


def address_space():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))


def outcome(path, verify):
    try:
        pn.load(path, verify=verify)
        return {"outcome": "loaded"}
    except ValueError as exc:
        return {"outcome": "refused", "named": repr(path) in str(exc), "message": str(exc)[:300]}
    except BaseException as exc:  # what the test exists to find
        return {"outcome": type(exc).__name__, "message": str(exc)[:300]}


def main(listing, allowance):
    files = json.load(open(listing))
    pn.load(files[0][0])
    limit = address_space() + allowance
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, on_alarm)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for path, verify in files:
        signal.alarm(60)
        result = outcome(path, verify)
        signal.alarm(0)
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
        print(json.dumps({"path": path, "verify": verify, "maxrss_growth": grown, **result}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
