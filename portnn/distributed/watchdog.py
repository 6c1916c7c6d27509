"""The stall watchdog: a thread that aborts the whole job when this rank has waited in a
collective operation longer than the timeout.

A rank blocked inside MPI runs no Python signal handler, so a timer in the main thread could
never fire; a second thread can, and ``MPI_Abort`` from it ends every rank of the job (mpi4py
initializes MPI with full thread support). Arming and disarming cost two attribute writes: the
thread only polls.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Watchdog:
    """Calls ``abort(message)`` when an operation entered with :meth:`watch` lasts longer than
    ``timeout`` seconds. The message names ``rank`` and the operation.

    >>> aborted = []
    >>> dog = Watchdog(rank=0, size=1, timeout=60.0, abort=aborted.append)
    >>> with dog.watch("gradient allreduce"):
    ...     pass
    >>> aborted
    []
    """

    def __init__(self, rank: int, size: int, timeout: float, abort: Callable[[str], None]) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"timeout: expected a number of seconds > 0, got {timeout!r}")
        self.rank, self.size, self.timeout, self.abort = rank, size, float(timeout), abort
        self.operation: str | None = None
        self.since = 0.0
        # Between collectives too, while a data-parallel fit runs (``between``): a rank stuck in
        # its own work for longer than the timeout names itself before the others time out.
        self.last: str | None = None
        self._thread: threading.Thread | None = None

    @contextmanager
    def watch(self, operation: str) -> Iterator[None]:
        """Run the body under the watchdog, as ``operation`` (what the error will name)."""
        self._start()
        self.since, self.operation = time.monotonic(), operation
        try:
            yield
        finally:
            self.since, self.operation = time.monotonic(), None
            if self.last is not None:
                self.last = operation

    def follow(self, on: bool) -> None:
        """From ``follow(True)`` to ``follow(False)`` (a data-parallel fit), the time from one
        collective to the next is watched as well."""
        self._start()
        self.since, self.last = time.monotonic(), "the start of training" if on else None

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._poll, name="portnn-watchdog", daemon=True)
            self._thread.start()

    def _poll(self) -> None:
        period = min(0.2, self.timeout / 10)
        while True:
            time.sleep(period)
            operation, last, since = self.operation, self.last, self.since
            if (operation is not None or last is not None) and time.monotonic() - since > self.timeout:
                self.abort(self.message(operation) if operation is not None else self.stalled(str(last)))
                return

    def message(self, operation: str) -> str:
        return (
            f"portnn.distributed: rank {self.rank} of {self.size} waited more than {self.timeout:g} s in "
            f"{operation}: another rank stalled or died before reaching it; aborting the job"
        )

    def stalled(self, last: str) -> str:
        return (
            f"portnn.distributed: rank {self.rank} of {self.size} is stalled: more than {self.timeout:g} s since "
            f"{last} without reaching the next collective operation; aborting the job"
        )


def print_and_abort(mpi_comm: object) -> Callable[[str], None]:
    """An ``abort`` for :class:`Watchdog`: the message to stderr, then ``MPI_Abort`` on ``mpi_comm``."""

    def abort(message: str) -> None:
        print(message, file=sys.stderr, flush=True)
        time.sleep(0.25)  # for mpiexec to pass the message on before it tears the job down
        mpi_comm.Abort(1)  # type: ignore[attr-defined]

    return abort
