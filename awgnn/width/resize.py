"""Growing and shrinking tensors, and the optimizer state that mirrors them.

A resize keeps the leading ``min(old, new)`` entries along one dimension and
either drops the tail (shrink) or appends new entries (grow). Parameters keep
their identity (``param.data`` is replaced), so optimizer param groups, hooks
and external references stay valid; only the optimizer *state* needs care:

* ``"carry"`` (awgnn default): every state tensor shaped like the parameter
  (Adam/AdamW ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``; SGD
  ``momentum_buffer``; RMSprop, Adagrad, ...) is sliced on shrink and
  zero-padded on grow, so surviving neurons keep their moments and new neurons
  start from zero. Scalar state such as Adam's ``step`` is kept.
* ``"reset"`` (the AWN reference): the resized parameter's whole state is
  dropped, as if the optimizer had never seen it.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor
from torch.optim import Optimizer

OptimizerStatePolicy = Literal["carry", "reset"]
OPTIMIZER_STATE_POLICIES: tuple[str, ...] = ("carry", "reset")


def resized(tensor: Tensor, dim: int, size: int, fill: float | None) -> Tensor:
    """Copy of ``tensor`` with ``size`` entries along ``dim``.

    New entries are ``fill`` when it is a number, else drawn from N(0, 1) (the
    AWN reference initialisation of new neurons).
    """
    old = tensor.shape[dim]
    if size <= old:
        return tensor.narrow(dim, 0, size).clone()
    shape = list(tensor.shape)
    shape[dim] = size - old
    if fill is None:
        tail = torch.randn(shape, dtype=tensor.dtype, device=tensor.device)
    else:
        tail = torch.full(shape, fill, dtype=tensor.dtype, device=tensor.device)
    return torch.cat([tensor, tail], dim=dim)


def resize_optimizer_state_(
    optimizer: Optimizer,
    param: Tensor,
    old_shape: torch.Size,
    dim: int,
    size: int,
    policy: OptimizerStatePolicy,
) -> None:
    """Bring ``optimizer``'s state for ``param`` to its new size along ``dim``."""
    state = optimizer.state.get(param)
    if not state:
        return
    if policy == "reset":
        del optimizer.state[param]
        return
    for key, value in state.items():
        if isinstance(value, Tensor) and value.dim() > 0:
            state[key] = resized(value, dim, size, fill=0.0)


def check_state_carryable(optimizer: Optimizer, param: Tensor) -> None:
    """Raise if ``optimizer`` keeps state for ``param`` that is not per-element."""
    for key, value in optimizer.state.get(param, {}).items():
        if isinstance(value, Tensor) and value.dim() > 0 and value.shape != param.shape:
            raise RuntimeError(
                f"{type(optimizer).__name__} keeps state {key!r} of shape "
                f"{tuple(value.shape)} for a parameter of shape {tuple(param.shape)}; "
                "awgnn can carry only per-element optimizer state across a resize. "
                "Use optimizer_state='reset' with this optimizer.")


def stale_state_key(optimizer: Optimizer, param: Tensor) -> str | None:
    """The key of a per-element state entry of ``param`` whose shape no longer matches it, if any.

    That happens when a width changed (a resize, ``reset_parameters()``, a
    checkpoint load) without this optimizer being passed along.
    """
    for key, value in optimizer.state.get(param, {}).items():
        if isinstance(value, Tensor) and _is_stale_copy(value, param):
            return key
    return None


def _is_stale_copy(value: Tensor, param: Tensor) -> bool:
    """A per-element state tensor that has fallen out of step with its parameter.

    Factored statistics (size 1 along the differing dimension, as Adafactor's
    row and column variances) are not per-element copies and are left alone.
    """
    if value.dim() != param.dim():
        return False
    differing = [d for d in range(param.dim()) if value.shape[d] != param.shape[d]]
    return len(differing) == 1 and 1 not in (value.shape[differing[0]], param.shape[differing[0]])
