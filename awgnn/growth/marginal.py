r"""Widths set by what neurons are measured to be worth: marginal value against a cost per neuron.

Between epochs, every hidden layer of width :math:`D` measures what its last
:math:`r` neurons are worth: the mean increase of the per-example training
loss when they are switched off, :math:`v = \overline{\ell(D - r) - \ell(D)}`,
on the same graphs, with its standard error. Then the layer

* grows by :math:`r` new neurons when even its last ones pay for themselves
  beyond their estimation error, :math:`v - \mathrm{se}(v) > r\,c`; the new
  neurons (rows drawn like the layer's own, outgoing weights zero, so the
  function is unchanged) are trained for ``settle_steps`` optimizer steps
  before the layer is judged again, and are then the last neurons measured:
  a growth that does not pay is taken back;
* shrinks by :math:`r` when its last neurons are worth less than they cost,
  :math:`v < r\,c`.

A layer at the smallest width a fixed width can express (:data:`MIN_WIDTH`,
two neurons) has no window to measure and stays there.

:math:`r` is a quarter of the width by default (at least two neurons), so a
layer moves by a constant factor per decision, and a width is reached from
8 or from 320 neurons in a few dozen decisions.

**Order.** Half of the training steps use every layer at its width; in the
other half one layer, drawn at random, runs without its last :math:`r`
neurons (nested dropout, Rippel et al. 2014, https://arxiv.org/abs/1402.0915,
on the window that is measured). So the last neurons are trained to be
removable, the neurons keep their order, and the truncated configuration
that is measured is one the network was trained in. Batch norms keep running
statistics of the first kind of steps only, and are recalibrated at the
widths after every update, so that evaluation normalises with statistics of
the widths it runs at.

**The cost of a neuron** :math:`c = \alpha\,p / N` (:math:`p` its parameters,
:math:`N` the training observations) is derived in
:mod:`awgnn.growth.width_control`.

**Refitted windows** (:class:`RefitMarginalWidths`). A wide network spreads
its function over all its neurons, so its last ones carry part of it even
where the others could express the same, and a wide start shrinks slowly.
With the consumer :math:`u = W_1 h_1 + W_2 h_2 + b` (:math:`h_2` the
window), least squares on the measured nodes gives
:math:`h_2 \approx P^\top h_1 + q` and the consumer
:math:`(W_1 + W_2 P^\top) h_1 + (b + W_2 q)`, which stands in for the
window as far as a linear map of the other neurons can
(:func:`refitted_consumer`). The window's value is measured with that
consumer, and a shrink keeps it: a window that only duplicates the others is
worth nothing, whatever its age.

A reserve of trained neurons beyond the width, measured as a candidate, was
tried first and rejected: trained in a share of the steps only, it was worth
nothing or less to a network trained mostly without it, even where the layer
was far too narrow, so no layer ever grew.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from awgnn.growth.layer import GrowableLayer
from awgnn.growth.width_control import (
    DEFAULT_MEASURED_EXAMPLES,
    DEFAULT_NEURON_COST,
    MIN_WIDTH,
    PerExampleLoss,
    WidthController,
    WidthDecision,
)
from awgnn.width.resize import OPTIMIZER_STATE_POLICIES, OptimizerStatePolicy
from awgnn.width.validation import check_choice, check_fraction, check_int_at_least

# The window measured (and the step of a decision) as a fraction of the width, at least MIN_WINDOW neurons.
DEFAULT_WINDOW = 0.25
MIN_WINDOW = 2
# Optimizer steps a layer trains after growing before it is judged again.
DEFAULT_SETTLE_STEPS = 50
# The share of training steps that run every layer at its width (the others drop one layer's window).
PLAIN_STEPS = 0.5
# The refit's ridge, relative to the mean diagonal of the Gram matrix: dead or duplicate neurons stay solvable.
REFIT_RIDGE = 1e-6


def window_size(width: int, fraction: float) -> int:
    """The neurons measured at the end of a layer of ``width``: ``ceil(fraction * width)``, at least
    :data:`MIN_WINDOW`, leaving at least :data:`MIN_WIDTH` (0 for a layer at :data:`MIN_WIDTH`)."""
    return min(max(MIN_WINDOW, math.ceil(fraction * width)), width - MIN_WIDTH)


class MarginalWidths(WidthController):
    r"""Set every hidden width of ``model`` by the measured value of its last neurons (see the module docstring).

    Works on the layers of :class:`~awgnn.growth.WidthController`. Building it
    hooks the model's forward, which in training mode drops one layer's last
    neurons in half of the calls. Call :meth:`update_` between epochs with
    training batches and a per-example loss; it returns one
    :class:`~awgnn.growth.WidthDecision` per layer.

    Args:
        model: the model; its current hidden widths are the start.
        n_observations: the number of training observations :math:`N`.
        alpha: the cost :math:`\alpha` in nats per parameter.
        window: the last neurons measured, and a decision's step, as a fraction of the width.
        settle_steps: training steps after a growth before the layer is judged again.
        measured_examples: how many training examples a measurement uses (at most).
        generator: draws the dropped layers and the new neurons' weights.
    """

    def __init__(
        self,
        model: nn.Module,
        n_observations: int,
        *,
        alpha: float = DEFAULT_NEURON_COST,
        window: float = DEFAULT_WINDOW,
        settle_steps: int = DEFAULT_SETTLE_STEPS,
        measured_examples: int = DEFAULT_MEASURED_EXAMPLES,
        generator: torch.Generator | None = None,
    ) -> None:
        self.window = check_fraction("window", window)
        self.settle_steps = check_int_at_least("settle_steps", settle_steps, 0)
        super().__init__(model, n_observations, alpha=alpha, measured_examples=measured_examples, generator=generator)
        self._dropping = False  # a training forward that drops a window is running
        self.steps = 0  # training forwards seen
        self._judged_after = [0] * len(self.layers)  # a layer is judged once `steps` passes this
        self._handles += [
            model.register_forward_pre_hook(self._drop_window, prepend=True),
            model.register_forward_hook(self._restore, always_call=True),
        ]

    # -- training-time nested dropout ------------------------------------------------------------

    def _drop_window(self, module: nn.Module, args: Any) -> None:
        if not module.training:
            return
        self.steps += 1
        draws = torch.rand(2, generator=self.generator).tolist()
        if draws[0] < PLAIN_STEPS:
            return
        layer = self.layers[min(int(draws[1] * len(self.layers)), len(self.layers) - 1)]
        layer.width.cutoff = layer.size - window_size(layer.size, self.window)
        self._dropping = True
        for norm in self.norms:
            norm.momentum = 0.0  # batch statistics as usual, running statistics untouched

    def _restore(self, module: nn.Module, args: Any, output: Any) -> None:
        for layer in self.layers:
            layer.width.cutoff = None
        if self._dropping:
            self._dropping = False
            for norm, momentum in zip(self.norms, self._momenta):
                norm.momentum = momentum

    # -- measurement and update ------------------------------------------------------------------

    @contextlib.contextmanager
    def measuring(self) -> Iterator[None]:
        """Evaluation mode without gradients, except that batch norms normalise with the batch's statistics (as in
        training, where the dropped configurations were trained) and leave their running statistics untouched; the
        model's mode is restored afterwards."""
        kept = [(norm.momentum, norm.num_batches_tracked.clone()) for norm in self.norms]
        was_training = self.model.training
        self.model.eval()
        for norm in self.norms:
            norm.train()
            norm.momentum = 0.0  # batch statistics without moving the running ones
        try:
            with torch.no_grad():
                yield
        finally:
            for norm, (momentum, tracked) in zip(self.norms, kept):
                norm.momentum = momentum
                norm.num_batches_tracked.copy_(tracked)
            self.model.train(was_training)

    @torch.no_grad()
    def measure(self, batches: Iterable[Any], per_example_loss: PerExampleLoss) -> tuple[list[Tensor], list[Any]]:
        """Per layer, the per-example loss increases ``l(D - r) - l(D)``; and the batches used.

        The model runs as in :meth:`measuring` on the batches until
        ``measured_examples`` examples are seen (a layer at the smallest width
        gives an empty tensor).
        """
        with self.measuring():
            used, base = self._base_losses(batches, per_example_loss)
            return [self._increases(layer, used, base, per_example_loss) for layer in self.layers], used

    def _base_losses(self, batches: Iterable[Any], per_example_loss: PerExampleLoss) -> tuple[list[Any], list[Tensor]]:
        """The batches a measurement uses (until ``measured_examples`` examples) and their per-example losses."""
        used, base, seen = [], [], 0
        for batch in batches:
            used.append(batch)
            base.append(per_example_loss(self.model, batch))
            seen += len(base[-1])
            if seen >= self.measured_examples:
                break
        if not seen:
            raise ValueError("measure needs at least one batch with one example, got none")
        return used, base

    def _increases(
        self, layer: GrowableLayer, batches: list[Any], base: list[Tensor], per_example_loss: PerExampleLoss
    ) -> Tensor:
        """Per example, the loss with ``layer``'s window off minus ``base`` (empty for a layer without a window)."""
        window = window_size(layer.size, self.window)
        if not window:
            return torch.empty(0)
        values = []
        for batch, loss in zip(batches, base):
            layer.width.cutoff = layer.size - window  # cleared by the forward hook
            values.append(per_example_loss(self.model, batch) - loss)
        return torch.cat(values)

    def decide(self, increases: list[Tensor]) -> list[WidthDecision]:
        """The width each layer chooses from :meth:`measure`'s increases (the rule of the module docstring)."""
        decisions = []
        for index, (layer, values) in enumerate(zip(self.layers, increases)):
            width = layer.size
            window = window_size(width, self.window)
            value, error = _mean_and_error(values)
            cost = window * self.cost(layer)
            settling = self.steps < self._judged_after[index]
            new = width
            if not settling and window and value - error > cost:
                new = min(width + window, layer.width.max_width)
            elif not settling and window and value < cost:
                new = width - window
            decisions.append(WidthDecision(layer.name, width, new, window, value, error, cost, settling))
        return decisions

    def update_(
        self,
        batches: Iterable[Any],
        per_example_loss: PerExampleLoss,
        optimizer: Optimizer | None = None,
        optimizer_state: OptimizerStatePolicy = "carry",
    ) -> list[WidthDecision]:
        """Measure, decide and resize every layer; then recalibrate the batch norms on the measured batches
        (arguments as in :meth:`~awgnn.growth.WidthController.update_`)."""
        check_choice("optimizer_state", optimizer_state, OPTIMIZER_STATE_POLICIES)
        increases, used = self.measure(batches, per_example_loss)
        decisions = self.decide(increases)
        for index, (layer, decision) in enumerate(zip(self.layers, decisions)):
            if decision.new > decision.old:
                self._grow(layer, decision.new - decision.old, optimizer, optimizer_state)
                self._judged_after[index] = self.steps + self.settle_steps
            elif decision.new < decision.old:
                self._shrink(layer, decision.old - decision.new, optimizer, optimizer_state)
        self.recalibrate_norms(used, per_example_loss)
        return decisions

    def _shrink(
        self, layer: GrowableLayer, count: int, optimizer: Optimizer | None, optimizer_state: OptimizerStatePolicy
    ) -> None:
        """Remove the last ``count`` neurons, as measured: the others and the consumer's weights stay."""
        layer.width.resize_(layer.size - count, optimizer, optimizer_state, reason=self.resize_reason)


def refitted_consumer(hidden: Tensor, weight: Tensor, bias: Tensor, window: int) -> tuple[Tensor, Tensor]:
    r"""The consumer's weights on the first neurons, and its bias, that best stand in for the last ``window``.

    With the layer's outputs :math:`H = [H_1 \,|\, H_2]` (rows: nodes;
    :math:`H_2` the last ``window`` columns) and the consumer
    :math:`u = W_1 h_1 + W_2 h_2 + b`, ridge least squares (float64) gives
    :math:`H_2 \approx H_1 P + \mathbf 1 q`; then
    :math:`u \approx (W_1 + W_2 P^\top) h_1 + (b + W_2 q)`.

    Args:
        hidden: :math:`H`, shape ``(rows, D)``.
        weight: :math:`[W_1 \,|\, W_2]`, shape ``(F_out, D)``.
        bias: :math:`b`, shape ``(F_out,)``.
        window: the last neurons to stand in for, ``1 <= window < D``.

    Returns:
        :math:`W_1 + W_2 P^\top`, shape ``(F_out, D - window)``, and :math:`b + W_2 q`, in ``weight``'s dtype.
    """
    check_int_at_least("window", window, 1)
    if hidden.dim() != 2 or hidden.shape[1] != weight.shape[1] or window >= hidden.shape[1]:
        raise ValueError(
            f"hidden must have shape (rows, {weight.shape[1]}) and window be below its width, got "
            f"{tuple(hidden.shape)} and {window}"
        )
    rows = hidden.double()
    head = torch.cat([rows[:, :-window], torch.ones_like(rows[:, :1])], 1)
    gram = head.T @ head
    ridge = REFIT_RIDGE * gram.diagonal().mean() + torch.finfo(gram.dtype).tiny
    solution = torch.linalg.solve(
        gram + ridge * torch.eye(len(gram), dtype=gram.dtype, device=gram.device), head.T @ rows[:, -window:]
    )
    tail = weight[:, -window:].double()
    new_weight = weight[:, :-window].double() + tail @ solution[:-1].T
    new_bias = bias.double() + tail @ solution[-1]
    return new_weight.to(weight.dtype), new_bias.to(bias.dtype)


class RefitMarginalWidths(MarginalWidths):
    """:class:`MarginalWidths` whose windows are measured, and removed, with the consumer refitted.

    Before a layer's last :math:`r` neurons are switched off for the
    measurement, its consumer's weights on the other neurons and its bias are
    replaced by :func:`refitted_consumer`'s, fitted on the measured graphs'
    nodes; a shrink keeps them. Everything else (the rule, the cost, the
    training-time dropping, growth) is :class:`MarginalWidths`'. Arguments as
    there.
    """

    def __init__(self, model: nn.Module, n_observations: int, **options: Any) -> None:
        super().__init__(model, n_observations, **options)
        self._refits: dict[str, tuple[Tensor, Tensor]] = {}  # from the last measurement, for a shrink

    @torch.no_grad()
    def measure(self, batches: Iterable[Any], per_example_loss: PerExampleLoss) -> tuple[list[Tensor], list[Any]]:
        """Per layer, the per-example loss increases with the window off and the consumer refitted; the batches."""
        hidden: list[list[Tensor]] = [[] for _ in self.layers]
        handles = [
            layer.consumer.register_forward_pre_hook(lambda module, args, kept=kept: kept.append(args[0]))
            for layer, kept in zip(self.layers, hidden)
        ]
        with self.measuring():
            try:
                used, base = self._base_losses(batches, per_example_loss)
            finally:
                for handle in handles:
                    handle.remove()
            self._refits = {}
            increases = [
                self._refitted_increases(layer, torch.cat(rows), used, base, per_example_loss)
                for layer, rows in zip(self.layers, hidden)
            ]
        return increases, used

    def _refitted_increases(
        self,
        layer: GrowableLayer,
        hidden: Tensor,
        batches: list[Any],
        base: list[Tensor],
        per_example_loss: PerExampleLoss,
    ) -> Tensor:
        window = window_size(layer.size, self.window)
        if not window:
            return torch.empty(0)
        consumer = layer.consumer
        kept = consumer.weight.clone(), consumer.bias.clone()
        weight, bias = refitted_consumer(hidden, kept[0], kept[1], window)
        self._refits[layer.name] = weight, bias
        consumer.weight[:, :-window] = weight
        consumer.bias.copy_(bias)
        try:
            return self._increases(layer, batches, base, per_example_loss)
        finally:
            consumer.weight.copy_(kept[0])
            consumer.bias.copy_(kept[1])

    @torch.no_grad()
    def _shrink(
        self, layer: GrowableLayer, count: int, optimizer: Optimizer | None, optimizer_state: OptimizerStatePolicy
    ) -> None:
        weight, bias = self._refits[layer.name]
        layer.consumer.weight[:, :-count] = weight
        layer.consumer.bias.copy_(bias)
        super()._shrink(layer, count, optimizer, optimizer_state)


def _mean_and_error(values: Tensor) -> tuple[float, float]:
    """Mean and standard error of the mean (0 and 0 for no values, error 0 for one)."""
    if not len(values):
        return 0.0, 0.0
    error = values.std().item() / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return values.mean().item(), error
