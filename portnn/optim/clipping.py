"""Gradient clipping: Keras's optimizer arguments ``clipnorm``, ``global_clipnorm`` and ``clipvalue``.

Every :class:`~portnn.optim.Optimizer` takes them and clips the gradients at the start of its
``step()``, before the update and before ``weight_decay`` adds its L2 term: clipping acts on the
gradient of the loss, as ``torch.nn.utils.clip_grad_*_`` called before ``optimizer.step()`` does.
The optimizer clips into buffers of its own: ``parameter.grad`` stays the backward pass's gradient.

The clipping is written with the backend's in-place helpers, like the updates: into existing
buffers where arrays are writeable, new arrays where they are not (JAX). Scales are computed on the
device, never read on the host, so a compiled (traced) step clips too.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._xp import Backend
    from ..nn.parameter import Parameter

#: Added to the global norm before dividing by it, as ``torch.nn.utils.clip_grad_norm_`` does.
GLOBAL_NORM_EPS = 1e-6

NAMES = ("clipnorm", "global_clipnorm", "clipvalue")


def _limit(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive number or None, got {value!r}")
    return float(value)


class GradientClipping:
    """Clipping settings, and the clipping of a list of parameters' gradients.

    - ``clipvalue``: every element clipped to ``[-clipvalue, clipvalue]``
      (``torch.nn.utils.clip_grad_value_``).
    - ``clipnorm``: every gradient tensor ``g`` on its own multiplied by
      ``clipnorm / max(||g||, clipnorm)`` (Keras): its L2 norm is then at most ``clipnorm``.
    - ``global_clipnorm``: all gradients multiplied by ``min(1, global_clipnorm / (norm + 1e-6))``,
      ``norm`` being the L2 norm of all of them together (``torch.nn.utils.clip_grad_norm_``).

    ``clipnorm`` and ``global_clipnorm`` exclude each other. ``clipvalue`` combines with either and
    is applied first: element values, then the norm (the order of tf.keras 2; Keras 3 refuses any
    combination). Below a norm limit the scale is exactly 1: the gradients are unchanged bitwise.

    >>> GradientClipping(clipvalue=0.5, global_clipnorm=1)
    GradientClipping(global_clipnorm=1.0, clipvalue=0.5)
    """

    def __init__(
        self, clipnorm: float | None = None, global_clipnorm: float | None = None, clipvalue: float | None = None
    ) -> None:
        self.clipnorm = _limit("clipnorm", clipnorm)
        self.global_clipnorm = _limit("global_clipnorm", global_clipnorm)
        self.clipvalue = _limit("clipvalue", clipvalue)
        if self.clipnorm is not None and self.global_clipnorm is not None:
            raise ValueError(
                f"clipnorm, global_clipnorm: set one of them, not both (got clipnorm={clipnorm}, "
                f"global_clipnorm={global_clipnorm})"
            )
        #: Whether anything is clipped: the one test an optimizer without clipping pays per step.
        self.active = any(getattr(self, name) is not None for name in NAMES)

    @classmethod
    def from_keywords(cls, owner: str, keywords: dict[str, Any]) -> GradientClipping:
        """The clipping that an optimizer's ``**clipping`` keywords ask for; a ``TypeError`` names
        any other keyword, as Python would for ``owner``'s constructor."""
        unknown = sorted(set(keywords) - set(NAMES))
        if unknown:
            raise TypeError(
                f"{owner}() got unexpected keyword argument(s) {', '.join(map(repr, unknown))} "
                f"(besides its own, an optimizer takes {', '.join(NAMES)})"
            )
        return cls(**keywords)

    def config(self) -> dict[str, float]:
        """The settings that are set (None ones left out), as constructor keywords."""
        return {name: value for name in NAMES if (value := getattr(self, name)) is not None}

    def arguments(self, **first: Any) -> str:
        """``first`` and then the settings, as in a call: ``"lr=0.1, clipnorm=1.0"`` (for reprs)."""
        return ", ".join(f"{k}={v}" for k, v in {**first, **self.config()}.items())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.arguments()})"

    def __call__(self, parameters: list[Parameter], backend: Backend) -> None:
        """Clip the gradients of ``parameters`` (``parameter.grad``), in place where writeable."""
        grads = [param.grads[param.key] for param in parameters]
        for param, g in zip(parameters, self.apply(backend, grads, grads)):
            param.grads[param.key] = g

    def apply(self, backend: Backend, grads: list[Any], out: list[Any]) -> list[Any]:
        """The clipped ``grads``, written into ``out`` where writeable (``out`` may be ``grads``;
        else ``grads`` are left as they were: an optimizer clips into its own buffers)."""
        if self.clipvalue is not None:  # (clip_value writes in place only where the library can)
            clipped = [clip_value(backend, backend.copy_into(o, g), self.clipvalue) for o, g in zip(out, grads)]
            grads = [c if c is o else backend.copy_into(o, c) for o, c in zip(out, clipped)]
        xp = backend.xp
        if self.clipnorm is not None:
            limit = self.clipnorm
            scales = [limit / xp.maximum(xp.linalg.vector_norm(g), limit) for g in grads]
        elif self.global_clipnorm is not None and grads:
            total = xp.linalg.vector_norm(xp.stack([xp.linalg.vector_norm(g) for g in grads]))
            scales = [xp.minimum(self.global_clipnorm / (total + GLOBAL_NORM_EPS), 1.0)] * len(grads)
        else:
            return grads
        return [backend.mul_into(o, g, scale) for o, g, scale in zip(out, grads, scales)]


def clip_value(backend: Backend, g: Any, limit: float) -> Any:
    """``g`` clipped to ``[-limit, limit]``, into ``g`` where the backend writes in place: as
    ``-max(-max(g, -limit), -limit)``, exact (negation is), and without a temporary array."""
    g = backend.maximum(g, -limit, in_place=True)
    g = backend.maximum(backend.imul(g, -1.0), -limit, in_place=True)
    return backend.imul(g, -1.0)
