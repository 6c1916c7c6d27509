"""The divergence guard of ``fit``: a non-finite loss or parameter stops training with
:class:`DivergenceError`, and the weights of the last finite epoch are put back."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..nn.network import Network


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss or parameter; the model keeps its last finite weights."""


def first_bad_step(backend: Any, step_losses: list) -> int:
    """The index of the first non-finite step loss (read one by one: only once training failed)."""
    return next((i for i, v in enumerate(step_losses) if not math.isfinite(backend.read(v))), len(step_losses) - 1)


class DivergenceGuard:
    """Keeps the parameters and buffers of the last two epoch ends, taken and put back through the
    network's owner of its parameters: where arrays are writeable, copied in place (no allocation
    per epoch), the parameter block in one copy (see :mod:`portnn.nn.paramblock`); on JAX, the
    arrays of the parameter list (see :mod:`portnn.nn.paramlist`), which being immutable are kept
    as they are. The second buffer is made at the first snapshot, so a one-epoch fit copies the
    weights once.
    """

    def __init__(self, model: Network) -> None:
        self.model, self.block, self.writeable = model, model.parameter_block, model.backend.writeable
        self.listed = model.parameter_list
        self.parameters, self.buffers = model.parameters(), model.buffers()  # buffers: running statistics
        self.latest: list | None = self._copies()
        self.previous: list | None = None

    def _sources(self) -> list:
        """What a snapshot copies: the block's flat values (or the parameters), then the buffers."""
        block = self.block
        if block is None:
            return self._current()
        arrays = [block.values]
        if self.buffers:
            arrays += [b.value for b in self.buffers]
        return arrays

    def _current(self) -> list:
        """The arrays the layers compute with: the parameters', then the buffers'."""
        listed = self.listed
        if listed is not None:
            return listed.values() + listed.buffers()
        return [p.value for p in self.parameters] + [b.value for b in self.buffers]

    def _copies(self) -> list:
        return [self.model.xp.asarray(a, copy=True) for a in self._sources()]

    def snapshot(self) -> None:
        self.previous, self.latest = self.latest, self.previous
        if self.latest is None:
            self.latest = self._copies()
        elif self.writeable:
            for buf, source in zip(self.latest, self._sources()):  # copy_into, inlined: runs every epoch
                buf[...] = source
        else:
            self.latest = self._sources()  # immutable arrays: sharing is a copy

    def _finite(self, arrays: list) -> bool:
        xp, bk = self.model.xp, self.model.backend
        return all(bk.read(xp.all(xp.isfinite(a)), bool) for a in arrays)

    def _restore(self, snapshot: list) -> None:
        """Put ``snapshot``'s values back: into the current arrays where writeable (the block's
        whole flat array, padding included, in one copy), as the parameter list's arrays on JAX."""
        bk, pieces, listed = self.model.backend, list(snapshot), self.listed
        if listed is not None:
            copies = [bk.xp.asarray(piece, copy=True) for piece in pieces]
            n = len(listed.names)
            listed.set_values(copies[:n])
            listed.set_buffers(copies[n:])
            return
        targets = [*self.parameters, *self.buffers]
        if self.block is not None:
            self.block.restore(pieces.pop(0))
            targets = list(self.buffers)
        for piece, target in zip(pieces, targets):
            target.value = bk.copy_into(target.value, piece) if self.writeable else bk.xp.asarray(piece, copy=True)

    def fail(self, epoch: int, step: int | None, what: str = "the loss") -> None:
        restored = next((c for c in (self.latest, self.previous) if c is not None and self._finite(c)), None)
        note = "the weights of the last finite epoch were restored"
        if restored is None:
            note = "no finite weights were left to restore"
        else:
            self._restore(restored)
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
        # the arrays the layers compute with (once per fit: each parameter, whatever replaced it)
        if not self._finite(self._current()):
            self.fail(epoch, None, what="a parameter")
