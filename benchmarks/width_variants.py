"""Two variants of the measured-width mechanism, run by ``width_equilibrium.py --variants`` and kept as evidence.

Both change one of the two places where :class:`awgnn.growth.MarginalWidths`
treats a layer's last neurons differently from its older ones, and keep the
rule, the cost and the training-time dropping:

* ``refit`` (:class:`RefitWidths`): a window's value is the loss increase when
  it is off *after* the consumer's weights on the other neurons and its bias
  are refitted, by least squares on the measured graphs' nodes, to send on what
  the window sent as well as a linear map of the other neurons can. A window
  that only duplicates the others is then worth nothing, whatever its age; a
  shrink applies the refit, so it keeps the function as far as it can.
* ``tiny`` (:class:`TinyGrowthWidths`): a growth adds TINY's neurons
  (:class:`awgnn.growth.TinyGrowth`: fan-ins and fan-outs fitted to the part of
  the loss gradient the layer cannot follow, scaled by a line search on the
  measured graphs) in place of random rows with zero outgoing weights, so a new
  neuron starts useful instead of silent; random ones fill in where TINY finds
  fewer.
* ``refit_tiny`` (:class:`RefitTinyWidths`): both.

These live in the benchmarks, not in the library: neither met more of the
study's targets than the mechanism the library ships.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from awgnn.growth import GrowableLayer, MarginalWidths, TinyGrowth
from awgnn.growth.marginal import PerExampleLoss, window_size
from awgnn.width.resize import OptimizerStatePolicy

# TINY's scales searched for the new neurons (0 is not searched: a growth was decided, it adds neurons).
TINY_GAMMAS = (0.25, 0.5, 1.0, 2.0)
# Ridge of the refit, relative to the mean diagonal of the Gram matrix: keeps dead or duplicate neurons solvable.
RIDGE = 1e-6


def refitted_consumer(hidden: Tensor, weight: Tensor, bias: Tensor, window: int) -> tuple[Tensor, Tensor]:
    r"""The consumer's weights on the first neurons and its bias that best stand in for the last ``window``.

    With the layer's outputs :math:`H = [H_1 \,|\, H_2]` (rows: nodes;
    :math:`H_2` the last ``window`` columns) and the consumer
    :math:`u = W_1 h_1 + W_2 h_2 + b`, least squares gives
    :math:`H_2 \approx H_1 P + \mathbf 1 q`; then
    :math:`u \approx (W_1 + W_2 P^\top) h_1 + (b + W_2 q)`. Returns
    :math:`(W_1 + W_2 P^\top, b + W_2 q)`, in ``weight``'s dtype.
    """
    rows = hidden.double()
    head = torch.cat([rows[:, :-window], torch.ones_like(rows[:, :1])], 1)
    gram = head.T @ head
    ridge = RIDGE * gram.diagonal().mean() + torch.finfo(gram.dtype).tiny
    solution = torch.linalg.solve(gram + ridge * torch.eye(len(gram), dtype=gram.dtype), head.T @ rows[:, -window:])
    tail = weight[:, -window:].double()
    new_weight = weight[:, :-window].double() + tail @ solution[:-1].T
    new_bias = bias.double() + tail @ solution[-1]
    return new_weight.to(weight.dtype), new_bias.to(bias.dtype)


class RefitWidths(MarginalWidths):
    """:class:`MarginalWidths` whose windows are measured, and removed, with the consumer refitted (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refits: dict[str, tuple[Tensor, Tensor]] = {}

    @torch.no_grad()
    def measure(self, batches: Iterable[Any], per_example_loss: PerExampleLoss) -> tuple[list[Tensor], list[Any]]:
        hidden: list[list[Tensor]] = [[] for _ in self.layers]
        handles = [layer.consumer.register_forward_pre_hook(lambda module, args, kept=kept: kept.append(args[0]))
                   for layer, kept in zip(self.layers, hidden)]
        used, base, seen = [], [], 0
        with self.measuring():
            try:
                for batch in batches:
                    used.append(batch)
                    base.append(per_example_loss(self.model, batch))
                    seen += len(base[-1])
                    if seen >= self.measured_examples:
                        break
            finally:
                for handle in handles:
                    handle.remove()
            if not seen:
                raise ValueError("measure needs at least one batch with one example, got none")
            self._refits = {}
            increases = []
            for layer, rows in zip(self.layers, hidden):
                window = window_size(layer.size, self.window)
                if not window:
                    increases.append(torch.empty(0))
                    continue
                consumer = layer.consumer
                kept = consumer.weight.clone(), consumer.bias.clone()
                refit = refitted_consumer(torch.cat(rows), kept[0], kept[1], window)
                self._refits[layer.name] = refit
                consumer.weight[:, :-window] = refit[0]
                consumer.bias.copy_(refit[1])
                values = []
                for batch, loss in zip(used, base):
                    layer.width.cutoff = layer.size - window  # cleared by the forward hook
                    values.append(per_example_loss(self.model, batch) - loss)
                consumer.weight.copy_(kept[0]), consumer.bias.copy_(kept[1])
                increases.append(torch.cat(values))
        return increases, used

    @torch.no_grad()
    def _shrink(self, layer: GrowableLayer, count: int, optimizer: Optimizer | None,
                optimizer_state: OptimizerStatePolicy) -> None:
        weight, bias = self._refits[layer.name]
        layer.consumer.weight[:, :-count] = weight
        layer.consumer.bias.copy_(bias)
        super()._shrink(layer, count, optimizer, optimizer_state)


class TinyGrowthWidths(MarginalWidths):
    """:class:`MarginalWidths` whose growths add TINY's neurons (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._measured: list[Any] = []
        self._loss: PerExampleLoss | None = None

    def measure(self, batches: Iterable[Any], per_example_loss: PerExampleLoss) -> tuple[list[Tensor], list[Any]]:
        increases, self._measured = super().measure(batches, per_example_loss)
        self._loss = per_example_loss
        return increases, self._measured

    def _grow(self, layer: GrowableLayer, count: int, optimizer: Optimizer | None,
              optimizer_state: OptimizerStatePolicy) -> None:
        step = TinyGrowth(count, gammas=TINY_GAMMAS)  # TINY's scale by its own line search (evaluation mode)
        neurons = step.neurons(self.model, [layer], self._measured, self._summed_loss)[0]
        if neurons.count:
            losses = step.line_search(self.model, layer, neurons, self._measured, self._summed_loss)
            gamma = min(losses, key=lambda g: (losses[g], g))
            weight = layer.linear.weight
            layer.grow_(torch.zeros(0, dtype=torch.long), weight.new_zeros(0, weight.shape[1] + 1),
                        gamma * neurons.fan_in, gamma * neurons.fan_out, optimizer, optimizer_state,
                        input_moment=neurons.input_moment)
        if count > neurons.count:
            super()._grow(layer, count - neurons.count, optimizer, optimizer_state)

    def _summed_loss(self, model: torch.nn.Module, batch: Any) -> Tensor:
        return self._loss(model, batch).sum()


class RefitTinyWidths(TinyGrowthWidths, RefitWidths):
    """Both: windows measured and removed with the consumer refitted, growths by TINY's neurons."""


VARIANTS: dict[str, type[MarginalWidths]] = {"refit": RefitWidths, "tiny": TinyGrowthWidths,
                                             "refit_tiny": RefitTinyWidths}
