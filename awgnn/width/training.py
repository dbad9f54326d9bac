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

from awgnn.width.adaptive_width import AdaptiveWidth, WidthChange, check_finite_rates, stacked_rates
from awgnn.width.linear import AdaptiveLinear
from awgnn.width.resize import OPTIMIZER_STATE_POLICIES, OptimizerStatePolicy, stale_state_key
from awgnn.width.validation import check_choice, check_finite_positive


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
    (``optimizer_state="carry"``: surviving neurons keep their state, new ones
    start from the state the optimizer gives a fresh parameter) or dropped for
    the resized layers (``"reset"``, the AWN reference behaviour). Pass
    ``optimizer=None`` only when no optimizer holds state for the model; a
    resize is refused then while the model's parameters hold gradients (an
    optimizer is training it).

    A NaN or infinite rate raises :class:`~awgnn.width.NonFiniteRate`, naming
    the layer, before any layer is resized; a layer that follows a learned
    width ``model`` does not hold (layers copied apart, as by
    ``torch_geometric.nn.to_hetero``) raises a ``ValueError``. Returns the
    changes made, one per resized layer.
    """
    check_choice("optimizer_state", optimizer_state, OPTIMIZER_STATE_POLICIES)
    widths = adaptive_widths(model)
    _check_linked_widths(model, widths)
    if optimizer is not None:
        check_optimizer_state(optimizer, model, widths)
    rates = _rates(widths)
    if optimizer is None:
        _check_no_gradients(model, widths, rates)
    return _apply(widths, rates, optimizer, optimizer_state)


@torch.no_grad()
def _rates(widths: list[tuple[str, AdaptiveWidth]]) -> list[float]:
    """Every width's rate, checked to be finite before anything is resized."""
    if not widths:
        return []
    # One host synchronisation for all rates instead of one per layer.
    rates = stacked_rates([w for _, w in widths]).tolist()
    check_finite_rates([name for name, _ in widths], rates)
    return rates


def _apply(
    widths: list[tuple[str, AdaptiveWidth]],
    rates: list[float],
    optimizer: Optimizer | None,
    optimizer_state: OptimizerStatePolicy,
) -> list[WidthChange]:
    changes = []
    for (name, width), rate in zip(widths, rates):
        change = width.update_(name, optimizer, optimizer_state, rate)
        if change is not None:
            changes.append(change)
    return changes


def _check_linked_widths(model: nn.Module, widths: list[tuple[str, AdaptiveWidth]]) -> None:
    """Raise if a layer of ``model`` follows a learned width that ``model`` does not hold.

    Layers that share a learned width (a layer's learned output and the next
    layer's input) hold one :class:`AdaptiveWidth` between them. Copying them
    one by one, as ``torch_geometric.nn.to_hetero`` does for every node and
    edge type, gives each copy its own copy of the width, linked to nothing
    the model holds: a resize would change one side and not the other. A
    width that no module of the model registers is never updated either.
    """
    held = {id(width) for _, width in widths}
    for name, module in model.named_modules():
        if not isinstance(module, AdaptiveLinear):
            continue
        for width in (module.input_width, module.output_width):
            if width is not None and id(width) not in held:
                raise ValueError(
                    f"layer {name!r} follows a learned width that is not part of the model, so no width update "
                    "would reach it: layers that share a learned width were copied apart (torch_geometric.nn."
                    "to_hetero copies every layer per node and edge type), or the width is no module of the "
                    "model. Keep each learned width inside one layer (e.g. AdaptiveGINConv's hidden width, with "
                    "integer in_channels and out_channels), register it as a module, or give the layers integer "
                    "sizes"
                )


def _check_no_gradients(model: nn.Module, widths: list[tuple[str, AdaptiveWidth]], rates: list[float]) -> None:
    """Refuse, before anything changes, an update without the optimizer while the model is being trained.

    Gradients on the model mean a training step just ran: the optimizer that
    took it holds state of the old shapes, and its next step would fail on a
    bare shape mismatch.
    """
    resized = [
        name
        for (name, width), rate in zip(widths, rates)
        if width.target_width(rate) != width.width or width.support != width.width
    ]
    trained = next((name for name, p in model.named_parameters() if p.grad is not None), None)
    if resized and trained is not None:
        raise RuntimeError(
            f"awgnn.update_widths was called without the optimizer, but it would resize adaptive width "
            f"{resized[0]!r} while parameter {trained!r} has a gradient: an optimizer is training the "
            "model, and its state would no longer match the resized parameters. Pass it to every width "
            "update, update_widths(model, optimizer); without any optimizer, clear the gradients first "
            "(model.zero_grad())."
        )


def _parameter_name(model: nn.Module, param: nn.Parameter) -> str:
    return next(n for n, p in model.named_parameters() if p is param)


def check_optimizer_state(optimizer: Optimizer, model: nn.Module, widths: list[tuple[str, AdaptiveWidth]]) -> None:
    """Raise if a width changed while ``optimizer`` was not passed along (its state is stale)."""
    for _, width in widths:
        for follower in width.followers:
            param = getattr(follower.module, follower.name)
            key = stale_state_key(optimizer, param) if isinstance(param, nn.Parameter) else None
            if key is not None:
                raise RuntimeError(
                    f"optimizer state {key!r} of parameter {_parameter_name(model, param)!r} has shape "
                    f"{tuple(optimizer.state[param][key].shape)} but the parameter has shape "
                    f"{tuple(param.shape)}: its width changed while this optimizer was not passed to "
                    "awgnn.update_widths. Build the optimizer after loading or resetting a model, "
                    "and pass it to every width update."
                )


class _UpdateAfterStep:
    """The step hooks of :func:`auto_update_widths`, with the model's widths looked up once."""

    def __init__(self, model: nn.Module, optimizer_state: OptimizerStatePolicy) -> None:
        self.model = model
        self.widths = adaptive_widths(model)
        _check_linked_widths(model, self.widths)
        self.optimizer_state = optimizer_state
        self.last_changes: list[WidthChange] = []
        self.resizes_seen: int | None = None  # None: check the optimizer before the first step

    def _resizes(self) -> int:
        return sum(width.resizes for _, width in self.widths)

    def check(self, optimizer: Optimizer, args: tuple, kwargs: dict) -> None:
        # A full check only when something other than these hooks resized a layer.
        resizes = self._resizes()
        if resizes != self.resizes_seen:
            check_optimizer_state(optimizer, self.model, self.widths)
            self.resizes_seen = resizes

    def update(self, optimizer: Optimizer, args: tuple, kwargs: dict) -> None:
        self.last_changes = _apply(self.widths, _rates(self.widths), optimizer, self.optimizer_state)
        self.resizes_seen = self._resizes()


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
    skipped by a grad scaler updates no width). Before a step it checks the
    optimizer's state whenever a width changed behind its back. The model's
    adaptive layers are looked up here, once: attach after building the model.
    A layer that follows a learned width the model does not hold raises a
    ``ValueError`` here (see :func:`update_widths`).
    """
    check_choice("optimizer_state", optimizer_state, OPTIMIZER_STATE_POLICIES)
    hook = _UpdateAfterStep(model, optimizer_state)
    handles = [optimizer.register_step_pre_hook(hook.check), optimizer.register_step_post_hook(hook.update)]
    return WidthUpdateHandle(hook, handles)


def parameter_groups(model: nn.Module, *, rate_lr: float | None = None) -> list[dict]:
    """Optimizer parameter groups that give the rates a learning rate of their own.

    ``torch.optim.Adam(awgnn.parameter_groups(model, rate_lr=1e-3), lr=1e-2)``
    trains every parameter at ``lr`` and the raw rates at ``rate_lr`` (the
    optimizer's ``lr`` when ``None``). The rates' group never has weight decay:
    a width is not a weight, and decay would pull every rate towards softplus(0).
    Under Adam a rate moves by about its learning rate per step whatever its
    gradient's size, so ``rate_lr`` sets how fast widths can change.

    Returns ``[{"params": weights}, {"params": rates, "weight_decay": 0.0, ...}]``;
    the second group is left out when the model has no adaptive width.
    """
    widths = [w for _, w in adaptive_widths(model)]
    rate_ids = {id(w.raw_rate) for w in widths}
    groups: list[dict] = [{"params": [p for p in model.parameters() if id(p) not in rate_ids]}]
    if widths:
        rates: dict = {"params": [w.raw_rate for w in widths], "weight_decay": 0.0}
        if rate_lr is not None:
            rates["lr"] = check_finite_positive("rate_lr", rate_lr)
        groups.append(rates)
    return groups
