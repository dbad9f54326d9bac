"""Width updates in a training loop: the one extra line a user writes.

Either call :func:`update_widths` right after ``optimizer.step()``::

    optimizer.step()
    awgnn.update_widths(model, optimizer)

or attach it once, so that every ``optimizer.step()`` also updates widths::

    awgnn.auto_update_widths(model, optimizer)
"""
from __future__ import annotations

import torch
from torch import nn
from torch.optim import Optimizer
from torch.utils.hooks import RemovableHandle

from awgnn.width.adaptive_width import AdaptiveWidth, WidthChange
from awgnn.width.resize import OPTIMIZER_STATE_POLICIES, OptimizerStatePolicy, check_optimizer_state_shapes
from awgnn.width.validation import check_choice


def adaptive_widths(model: nn.Module) -> list[tuple[str, AdaptiveWidth]]:
    """Every :class:`AdaptiveWidth` in ``model``, with its qualified name."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, AdaptiveWidth)]


def width_report(model: nn.Module) -> dict[str, int]:
    """Current width of every adaptive layer, keyed by module name."""
    return {name: w.width for name, w in adaptive_widths(model)}


def total_width(model: nn.Module) -> int:
    """Sum of the current widths of all adaptive layers (the AWN "total width")."""
    return sum(w.width for _, w in adaptive_widths(model))


@torch.no_grad()
def update_widths(
    model: nn.Module,
    optimizer: Optimizer | None = None,
    *,
    optimizer_state: OptimizerStatePolicy = "carry",
) -> list[WidthChange]:
    """Resize every adaptive layer of ``model`` to the width its rate asks for.

    Call it after ``optimizer.step()``. Grown layers get new neurons at the
    tail, shrunk layers lose their tail, and everything that follows a width
    (next layers' inputs, norms, readouts) follows. Parameters keep their
    identity, so ``optimizer`` keeps tracking them; its state is carried
    (``optimizer_state="carry"``: surviving neurons keep their moments, new
    ones start at zero) or dropped for the resized tensors (``"reset"``, the
    AWN reference behaviour). Pass ``optimizer=None`` only when no optimizer
    holds state for the model.

    Returns the changes made, one per resized layer.
    """
    check_choice("optimizer_state", optimizer_state, OPTIMIZER_STATE_POLICIES)
    widths = adaptive_widths(model)
    if not widths:
        return []
    if optimizer is not None:
        check_optimizer_state_shapes(optimizer, dict(model.named_parameters()))
    # One host synchronisation for all rates instead of one per layer.
    rates = torch.stack([w.rate.detach().float() for _, w in widths]).tolist()
    changes = []
    for (name, width), rate in zip(widths, rates):
        change = width.update_(name, optimizer, optimizer_state, rate)
        if change is not None:
            changes.append(change)
    return changes


class _UpdateAfterStep:
    def __init__(self, model: nn.Module, optimizer_state: OptimizerStatePolicy) -> None:
        self.model = model
        self.optimizer_state = optimizer_state
        self.last_changes: list[WidthChange] = []

    def check(self, optimizer: Optimizer, args: tuple, kwargs: dict) -> None:
        check_optimizer_state_shapes(optimizer, dict(self.model.named_parameters()))

    def update(self, optimizer: Optimizer, args: tuple, kwargs: dict) -> None:
        self.last_changes = update_widths(self.model, optimizer, optimizer_state=self.optimizer_state)


class WidthUpdateHandle:
    """Returned by :func:`auto_update_widths`; ``remove()`` detaches the updates."""

    def __init__(self, hook: _UpdateAfterStep, handles: list[RemovableHandle]) -> None:
        self._hook = hook
        self._handles = handles

    @property
    def last_changes(self) -> list[WidthChange]:
        """The width changes made after the latest optimizer step."""
        return self._hook.last_changes

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def auto_update_widths(
    model: nn.Module,
    optimizer: Optimizer,
    *,
    optimizer_state: OptimizerStatePolicy = "carry",
) -> WidthUpdateHandle:
    """Make every ``optimizer.step()`` also call :func:`update_widths` on ``model``.

    Uses the optimizer's own step hooks, so the optimizer keeps its type and LR
    schedulers, gradient clipping and AMP grad scalers work unchanged (a step
    skipped by a grad scaler updates no width). Before each step it checks that
    no width changed behind the optimizer's back.
    """
    check_choice("optimizer_state", optimizer_state, OPTIMIZER_STATE_POLICIES)
    hook = _UpdateAfterStep(model, optimizer_state)
    handles = [optimizer.register_step_pre_hook(hook.check), optimizer.register_step_post_hook(hook.update)]
    return WidthUpdateHandle(hook, handles)

