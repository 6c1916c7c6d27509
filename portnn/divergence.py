"""The divergence guard of ``fit``: a non-finite loss or parameter stops training with
:class:`DivergenceError`, and the weights of the last finite epoch are put back."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .network import Network


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss or parameter; the model keeps its last finite weights."""


def first_bad_step(backend: Any, step_losses: list) -> int:
    """The index of the first non-finite step loss (read one by one: only once training failed)."""
    return next((i for i, v in enumerate(step_losses) if not math.isfinite(backend.read(v))), len(step_losses) - 1)


class DivergenceGuard:
    """Keeps the parameters and buffers of the last two epoch ends, copied in place (no allocation per epoch).

    The second buffer is made at the first snapshot, so a one-epoch fit copies the weights once.
    """

    def __init__(self, model: Network) -> None:
        self.model, self.arrays = model, [*model.parameters(), *model.buffers()]  # buffers: running statistics
        self.sources = [(p.store, p.key) for p in self.arrays]  # where snapshot reads each array
        self.writeable = model.backend.writeable
        self.latest: list | None = self._copies()
        self.previous: list | None = None

    def _copies(self) -> list:
        xp = self.model.xp
        return [xp.asarray(p.value, copy=True) for p in self.arrays]

    def snapshot(self) -> None:
        self.previous, self.latest = self.latest, self.previous
        if self.latest is None:
            self.latest = self._copies()
        elif self.writeable:
            for buf, (store, key) in zip(self.latest, self.sources):  # copy_into, inlined: runs every epoch
                buf[...] = store[key]
        else:
            self.latest = [p.value for p in self.arrays]  # immutable arrays: sharing is a copy

    def _finite(self, arrays: list) -> bool:
        xp, bk = self.model.xp, self.model.backend
        return all(bk.read(xp.all(xp.isfinite(a)), bool) for a in arrays)

    def fail(self, epoch: int, step: int | None, what: str = "the loss") -> None:
        bk = self.model.backend
        restored = next((c for c in (self.latest, self.previous) if c is not None and self._finite(c)), None)
        note = "the weights of the last finite epoch were restored"
        if restored is None:
            note = "no finite weights were left to restore"
        else:
            for buf, p in zip(restored, self.arrays):
                p.value = bk.xp.asarray(buf, copy=True)
        opt = self.model.optimizer
        if opt is not None:  # its moments may hold NaN: a later fit starts it afresh
            opt.state, opt.steps = {}, 0
            opt.bind(opt.parameters, opt.backend, owner=self.model)
            note += " and the optimizer's state was reset"
        where = f"epoch {epoch}" + (f", step {step}" if step is not None else "")
        raise DivergenceError(
            f"training diverged: {what} became non-finite at {where}; {note}. "
            "Try a lower learning rate or scale the inputs (standardise X)."
        )

    def check_final(self, epoch: int) -> None:
        if not self._finite([p.value for p in self.arrays]):
            self.fail(epoch, None, what="a parameter")
