"""Growing and shrinking tensors, and the optimizer state that mirrors them.

A resize keeps the leading ``min(old, new)`` entries along one dimension and
either drops the tail (shrink) or appends new entries (grow). Parameters keep
their identity (``param.data`` is replaced), so optimizer param groups, hooks
and external references stay valid; only the optimizer *state* needs care:

* ``"carry"`` (awgnn default): every state tensor shaped like the parameter
  (Adam/AdamW ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``; SGD
  ``momentum_buffer``; RMSprop, Adagrad, Rprop, ...) is sliced on shrink and
  extended on grow, so surviving neurons keep their state and new neurons
  start from the state the optimizer gives a fresh parameter (Adagrad's
  ``initial_accumulator_value``, Rprop's ``step_size = lr``, zero moments).
  Scalar state such as Adam's ``step`` is kept.
* ``"reset"`` (the AWN reference): the whole state of every parameter of a
  module that holds a resized tensor is dropped, as if the optimizer had never
  seen it; the reference re-creates those layers, the next layer's bias
  included.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal

import torch
from torch import Tensor
from torch.optim import Optimizer

OptimizerStatePolicy = Literal["carry", "reset"]
OPTIMIZER_STATE_POLICIES: tuple[str, ...] = ("carry", "reset")


def resized(tensor: Tensor, dim: int, size: int, fill: float | Tensor | None) -> Tensor:
    """``tensor`` brought to ``size`` entries along ``dim``: its leading entries, then any new ones.

    Always a new tensor: a view of the kept entries would keep the old
    storage alive, in memory and in saved checkpoints (a truncated model
    would not shrink). New entries are ``fill`` when it is a number, ``fill``
    itself when it is a tensor (of the new entries' shape), else drawn from
    N(0, 1) (the AWN reference initialisation of new neurons).
    """
    old = tensor.shape[dim]
    if size <= old:
        return tensor.narrow(dim, 0, size).clone()
    shape = list(tensor.shape)
    shape[dim] = size - old
    if isinstance(fill, Tensor):
        tail = fill.to(dtype=tensor.dtype, device=tensor.device)
    elif fill is None:
        tail = torch.randn(shape, dtype=tensor.dtype, device=tensor.device)
    else:
        tail = torch.full(shape, fill, dtype=tensor.dtype, device=tensor.device)
    return torch.cat([tensor, tail], dim=dim)


def resized_optimizer_states(
    optimizer: Optimizer, params: Sequence[tuple[Tensor, int]], size: int
) -> dict[int, dict[str, Tensor]]:
    """``optimizer``'s per-element state of each ``(param, dim)`` brought to ``size`` along ``dim``.

    Keyed by ``id(param)``; parameters without per-element state are left
    out. Surviving entries keep their values; new entries get the state that
    ``optimizer`` gives a fresh parameter (:func:`fresh_optimizer_state`).
    Nothing is changed: the caller stores the result once every resize of a
    width has been prepared, so that a refusal leaves everything as it was.
    """
    states = {}
    for param, dim in params:
        check_state_carryable(optimizer, param)
        per_element = {
            key: value
            for key, value in optimizer.state.get(param, {}).items()
            if isinstance(value, Tensor) and value.dim() > 0
        }
        if not per_element:
            continue
        tail_shape = list(param.shape)
        tail_shape[dim] = max(size - param.shape[dim], 0)
        # fresh_optimizer_state remembers its answers, so asking per parameter costs nothing after the first.
        initial = (
            fresh_optimizer_state(optimizer, _param_group(optimizer, param), param.dtype, param.device)
            if tail_shape[dim]
            else {}
        )
        # A key without a fresh value (hyper-parameters changed since the state was made) starts at zero.
        states[id(param)] = {
            name: resized(value, dim, size, initial[name].expand(tail_shape) if name in initial else 0.0)
            for name, value in per_element.items()
        }
    return states


def fresh_optimizer_state(
    optimizer: Optimizer, group: dict[str, Any], dtype: torch.dtype, device: torch.device
) -> Mapping[str, Tensor]:
    """The per-element state ``optimizer`` gives a fresh entry in param group ``group``, as 0-dim tensors.

    Asked of the optimizer itself: a throw-away optimizer of the same class
    and the group's current hyper-parameters takes one step on a one-element
    zero tensor with a zero gradient. That initialises its state and, for
    every torch optimizer, leaves it at its initial value (Adamax's
    ``exp_inf`` becomes ``eps``, which gives the same next update as 0). An
    element-wise optimizer treats every entry alike, so one entry stands for
    all new ones. The answer depends on nothing else, so it is remembered for
    each optimizer class, hyper-parameters, dtype and device (unless a
    hyper-parameter is a tensor, which may change in place); the mapping is
    read-only.
    """
    # The group's current values (a scheduled lr included).
    hyper = tuple(sorted((key, group[key]) for key in optimizer.defaults if key in group))
    if _can_key_memory(hyper):
        return _remembered_fresh_state(type(optimizer), hyper, dtype, device)
    return _fresh_state(type(optimizer), hyper, dtype, device)


def _can_key_memory(hyper: tuple) -> bool:
    """Hashable, and free of tensors (which may change in place)."""
    try:
        hash(hyper)
    except TypeError:
        return False
    return not any(
        isinstance(v, Tensor) or (isinstance(v, tuple) and any(isinstance(e, Tensor) for e in v)) for _, v in hyper
    )


@functools.lru_cache(maxsize=64)
def _remembered_fresh_state(
    optimizer_class: type[Optimizer], hyper: tuple, dtype: torch.dtype, device: torch.device
) -> Mapping[str, Tensor]:
    return _fresh_state(optimizer_class, hyper, dtype, device)


def _fresh_state(
    optimizer_class: type[Optimizer], hyper: tuple, dtype: torch.dtype, device: torch.device
) -> Mapping[str, Tensor]:
    accepted = inspect.signature(optimizer_class.__init__).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    arguments = {key: value for key, value in hyper if takes_any or key in accepted}
    scratch = torch.zeros(1, dtype=dtype, device=device)
    scratch.grad = torch.zeros_like(scratch)
    try:
        throwaway = optimizer_class([scratch], **arguments)
        throwaway.step()
    except Exception as error:
        raise RuntimeError(
            f"cannot tell which state {optimizer_class.__name__} gives new neurons (a throw-away "
            f"{optimizer_class.__name__} on a zero parameter failed: {error}); use "
            "optimizer_state='reset' with this optimizer"
        ) from error
    return MappingProxyType(
        {
            key: value.reshape(())
            for key, value in throwaway.state[scratch].items()
            if isinstance(value, Tensor) and value.shape == scratch.shape
        }
    )


def _param_group(optimizer: Optimizer, param: Tensor) -> dict[str, Any]:
    return next((g for g in optimizer.param_groups if any(p is param for p in g["params"])), optimizer.defaults)


def drop_optimizer_state_(optimizer: Optimizer, params: Iterable[Tensor]) -> None:
    """Forget ``optimizer``'s whole state of each of ``params`` (the ``"reset"`` policy)."""
    for param in params:
        optimizer.state.pop(param, None)


def check_state_carryable(optimizer: Optimizer, param: Tensor) -> None:
    """Raise if ``optimizer`` keeps state for ``param`` that is not per-element."""
    for key, value in optimizer.state.get(param, {}).items():
        if isinstance(value, Tensor) and value.dim() > 0 and value.shape != param.shape:
            raise RuntimeError(
                f"{type(optimizer).__name__} keeps state {key!r} of shape "
                f"{tuple(value.shape)} for a parameter of shape {tuple(param.shape)}; "
                "awgnn can carry only per-element optimizer state across a resize. "
                "Use optimizer_state='reset' with this optimizer."
            )


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
