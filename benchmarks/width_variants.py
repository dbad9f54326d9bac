"""Variants of the measured-width mechanism, run by ``width_equilibrium.py --variants`` and kept as evidence.

Each changes one of the two places where :class:`awgnn.growth.MarginalWidths`
treats a layer's last neurons differently from its older ones, and keeps the
rule, the cost and the training-time dropping:

* ``refit``: :class:`awgnn.growth.RefitMarginalWidths` (in the library,
  ``width_control: marginal_refit``): a window's value is measured, and a
  shrink made, with the consumer's weights on the other neurons refitted by
  least squares to stand in for the window.
* ``tiny`` (:class:`TinyGrowthWidths`): a growth adds TINY's neurons
  (:class:`awgnn.growth.TinyGrowth`: fan-ins and fan-outs fitted to the part of
  the loss gradient the layer cannot follow, scaled by TINY's line search) in
  place of random rows with zero outgoing weights, so a new neuron starts
  useful instead of silent; random ones fill in where TINY finds fewer.
* ``refit_tiny`` (:class:`RefitTinyWidths`): both.
* ``gates`` (:class:`GatedWidths`): no measurement at all. Every layer's
  ordered neurons pass through hard-concrete gates (Louizos et al. 2018,
  https://arxiv.org/abs/1712.01312) whose log-odds fall with the neuron's
  index past one learned cut-off per layer, and the expected number of open
  gates pays the measured widths' cost per neuron. The cut-off is trained by
  the loss's gradient through the stochastic gates near it: a nested-truncation
  likelihood for a rate, in which every step sees a narrower or a wider layer
  and the neurons near the cut-off are trained while they are judged.
* ``gates_broad`` (:class:`BroadGatedWidths`): ``gates`` whose gates are
  random over a range of widths more than ten times wide instead of about
  three, so that every neuron beyond a small core is trained to be
  removable, as nested dropout trains the units of a Matryoshka layer.
* ``gates_refit`` (:class:`RefitGatedWidths`): the gates' growth, and besides
  it ``refit``'s shrink: a layer whose refitted last window is worth less
  than its cost loses it (the cut-off follows), unless it grew in the last
  ``settle_steps`` steps.

The study selects a variant by handing the harness its class for
``width_control: marginal`` (:func:`controller`), so its runs' settings and
keys are the measured widths' own; ``tiny`` and ``refit_tiny`` live here, not
in the library, because the screening of section 12 rejected them.
"""

from __future__ import annotations

import contextlib
import functools
import math
from typing import Any
from unittest import mock

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from awgnn.growth import GrowableLayer, MarginalWidths, RefitMarginalWidths, TinyGrowth
from awgnn.growth.marginal import MIN_WIDTH, WIDTH_CONTROLLERS, PerExampleLoss, WidthDecision
from awgnn.harness import train as harness_train
from awgnn.width.resize import OptimizerStatePolicy

# TINY's scales searched for the new neurons (0 is not searched: a growth was decided, it adds neurons).
TINY_GAMMAS = (0.25, 0.5, 1.0, 2.0)


class TinyGrowthWidths(MarginalWidths):
    """:class:`MarginalWidths` whose growths add TINY's neurons (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._measured: list[Any] = []
        self._loss: PerExampleLoss | None = None

    def measure(self, batches: Any, per_example_loss: PerExampleLoss) -> tuple[list[Tensor], list[Any]]:
        increases, self._measured = super().measure(batches, per_example_loss)
        self._loss = per_example_loss
        return increases, self._measured

    def _grow(
        self, layer: GrowableLayer, count: int, optimizer: Optimizer | None, optimizer_state: OptimizerStatePolicy
    ) -> None:
        step = TinyGrowth(count, gammas=TINY_GAMMAS)  # TINY's scale by its own line search (evaluation mode)
        neurons = step.neurons(self.model, [layer], self._measured, self._summed_loss)[0]
        if neurons.count:
            losses = step.line_search(self.model, layer, neurons, self._measured, self._summed_loss)
            gamma = min(losses, key=lambda g: (losses[g], g))
            weight = layer.linear.weight
            layer.grow_(
                torch.zeros(0, dtype=torch.long),
                weight.new_zeros(0, weight.shape[1] + 1),
                gamma * neurons.fan_in,
                gamma * neurons.fan_out,
                optimizer,
                optimizer_state,
                input_moment=neurons.input_moment,
            )
        if count > neurons.count:
            super()._grow(layer, count - neurons.count, optimizer, optimizer_state)

    def _summed_loss(self, model: nn.Module, batch: Any) -> Tensor:
        return self._loss(model, batch).sum()


class RefitTinyWidths(TinyGrowthWidths, RefitMarginalWidths):
    """Both: windows measured and removed with the consumer refitted, growths by TINY's neurons."""


# Hard-concrete gates (Louizos et al. 2018): the temperature and the stretch interval, their paper's values.
GATE_TEMPERATURE = 2 / 3
GATE_STRETCH = (-0.1, 1.1)
# A gate's log-odds fall by this much per unit of log neuron index past the cut-off, so the gates are random between
# about 0.6 and 1.6 times the cut-off whatever the width: a window of the layer's own scale, as the measured widths'.
GATE_SLOPE = 8.0
# The broad gates' slope: random between about 0.3 and 3.8 times the cut-off, so every step trains a layer at a width
# drawn from a range of more than a factor of ten (nested dropout over most of the layer).
BROAD_GATE_SLOPE = 3.0


def kept_beyond_cutoff(slope: float) -> float:
    """Past this many log units beyond the cut-off a neuron's deterministic (evaluation) gate is 0: there its
    log-odds are below logit(-stretch[0] / (stretch[1] - stretch[0])) = -log(-stretch[1] / stretch[0]) = -log 11."""
    return math.log(-GATE_STRETCH[1] / GATE_STRETCH[0]) / slope


def gate_log_odds(log_cutoff: Tensor, width: int, slope: float = GATE_SLOPE) -> Tensor:
    """The log-odds of the gates of neurons 1..``width`` of a layer whose cut-off is ``exp(log_cutoff)``."""
    index = torch.arange(1, width + 1, dtype=log_cutoff.dtype, device=log_cutoff.device)
    return slope * (log_cutoff - index.log())


def open_probability(log_odds: Tensor) -> Tensor:
    """P(gate != 0) of hard-concrete gates: their expected L0 norm, term by term."""
    low, high = GATE_STRETCH
    return torch.sigmoid(log_odds - GATE_TEMPERATURE * math.log(-low / high))


def sampled_gates(log_odds: Tensor, generator: torch.Generator) -> Tensor:
    """One draw of the hard-concrete gates (reparametrised: differentiable in ``log_odds``)."""
    uniform = torch.rand(log_odds.shape, generator=generator).clamp(1e-6, 1 - 1e-6).to(log_odds)
    low, high = GATE_STRETCH
    concrete = torch.sigmoid((uniform.log() - (-uniform).log1p() + log_odds) / GATE_TEMPERATURE)
    return (concrete * (high - low) + low).clamp(0, 1)


def deterministic_gates(log_odds: Tensor) -> Tensor:
    """The gates at evaluation (Louizos et al.'s estimator): 0 for every neuron past the kept width."""
    low, high = GATE_STRETCH
    return (torch.sigmoid(log_odds) * (high - low) + low).clamp(0, 1)


def kept_width(log_cutoff: float, slope: float = GATE_SLOPE) -> int:
    """How many neurons have an open deterministic gate: those with index below ``exp(log_cutoff + KEPT_...)``."""
    return max(0, math.ceil(math.exp(log_cutoff + kept_beyond_cutoff(slope))) - 1)


class GatedWidths(MarginalWidths):
    r"""Widths set by hard-concrete gates on the ordered neurons past a learned cut-off (see the module).

    Each layer holds one parameter, its log cut-off :math:`\log w`, on the
    next linear (``gate_log_cutoff``: the optimizer built after this trains it
    with the weights, and a copy of the model carries its own); neuron
    :math:`i` is multiplied by a gate of log-odds :math:`s(\log w - \log i)`
    (:math:`s` = :attr:`slope`)
    before the next linear reads it: sampled in training, Louizos et al.'s
    deterministic gate in evaluation. The cost :math:`c` of a neuron times the
    expected number of open gates is added to the training loss through the
    cut-off's gradient. Between epochs every layer is resized to the neurons
    whose deterministic gate is open: the ones past them contribute nothing in
    evaluation, and new ones start silent. ``window`` and ``settle_steps`` are
    not used; ``measured_examples`` graphs recalibrate the batch norms.
    """

    def __init__(self, model: nn.Module, n_observations: int, **options: Any) -> None:
        super().__init__(model, n_observations, **options)
        for layer in self.layers:
            start = self.log_cutoff_keeping(layer.size)
            layer.consumer.register_parameter("gate_log_cutoff", nn.Parameter(torch.tensor(start)))
            self._handles.append(
                layer.consumer.register_forward_pre_hook(functools.partial(self._gate, cost=self.cost(layer)))
            )

    slope = GATE_SLOPE

    def log_cutoff_keeping(self, width: int) -> float:
        """The log cut-off whose deterministic gates keep exactly ``width`` neurons."""
        return math.log(width + 0.5) - kept_beyond_cutoff(self.slope)

    def _drop_window(self, module: nn.Module, args: Any) -> None:
        """No window is dropped (the gates replace the measured widths' nested dropout); training steps are counted."""
        self.steps += module.training

    def _gate(self, consumer: nn.Module, args: tuple, cost: float) -> tuple:
        """The consumer's input times the gates; in training, the cut-off's gradient gets the cost's."""
        if not consumer.training:
            return (
                args[0] * deterministic_gates(gate_log_odds(consumer.gate_log_cutoff, args[0].shape[-1], self.slope)),
                *args[1:],
            )
        log_cutoff = consumer.gate_log_cutoff * 1.0  # a fresh node, so that the hook lives for this step only
        log_odds = gate_log_odds(log_cutoff, args[0].shape[-1], self.slope)
        if log_cutoff.requires_grad:
            probability = open_probability(log_odds.detach())
            cost_gradient = cost * self.slope * (probability * (1 - probability)).sum()
            log_cutoff.register_hook(lambda grad: grad + cost_gradient)
        return (args[0] * sampled_gates(log_odds, self.generator), *args[1:])

    def update_(
        self,
        batches: Any,
        per_example_loss: PerExampleLoss,
        optimizer: Optimizer | None = None,
        optimizer_state: OptimizerStatePolicy = "carry",
    ) -> list[WidthDecision]:
        """Resize every layer to its open deterministic gates; then recalibrate the batch norms."""
        decisions = [self._resize_to_gates(index, optimizer, optimizer_state) for index in range(len(self.layers))]
        self.recalibrate_norms(batches, per_example_loss)
        return decisions

    def _resize_to_gates(
        self, index: int, optimizer: Optimizer | None, optimizer_state: OptimizerStatePolicy
    ) -> WidthDecision:
        """Grow layer ``index`` by silent neurons, or truncate it, to its open deterministic gates."""
        layer = self.layers[index]
        old, log_cutoff = layer.size, layer.consumer.gate_log_cutoff.item()
        new = min(max(kept_width(log_cutoff, self.slope), MIN_WIDTH), layer.width.max_width)
        if new > old:
            self._grow(layer, new - old, optimizer, optimizer_state)
            self._judged_after[index] = self.steps + self.settle_steps
        elif new < old:  # the neurons cut had shut gates: the evaluated function is unchanged
            layer.width.resize_(new, optimizer, optimizer_state, reason="marginal")
        return WidthDecision(layer.name, old, new, 0, math.exp(log_cutoff), 0.0, self.cost(layer), False)


class BroadGatedWidths(GatedWidths):
    """:class:`GatedWidths` with the broad gates' slope, :data:`BROAD_GATE_SLOPE` (see the module)."""

    slope = BROAD_GATE_SLOPE


class RefitGatedWidths(GatedWidths, RefitMarginalWidths):
    """Widths grown by the gates' cut-off and shrunk, besides, by ``refit``'s rule (see the module).

    Between epochs the refitted value of every layer's last window is measured
    first, under the gates; a layer that did not grow in the last
    ``settle_steps`` steps and whose window is worth less than its cost loses
    it, with the consumer refitted, and its cut-off moves so that exactly the
    remaining neurons are kept. Every other layer follows its gates.
    """

    def update_(
        self,
        batches: Any,
        per_example_loss: PerExampleLoss,
        optimizer: Optimizer | None = None,
        optimizer_state: OptimizerStatePolicy = "carry",
    ) -> list[WidthDecision]:
        """Shrink by the refitted windows where they do not pay, else follow the gates; recalibrate the norms."""
        increases, used = self.measure(batches, per_example_loss)  # RefitMarginalWidths': the gates measure nothing
        decisions = []
        for index, (layer, decision) in enumerate(zip(self.layers, self.decide(increases))):
            if decision.new < decision.old:
                self._shrink(layer, decision.old - decision.new, optimizer, optimizer_state)  # with the refit
                with torch.no_grad():
                    layer.consumer.gate_log_cutoff.fill_(self.log_cutoff_keeping(layer.size))
                decisions.append(decision)
            else:
                decisions.append(self._resize_to_gates(index, optimizer, optimizer_state))
        self.recalibrate_norms(used, per_example_loss)
        return decisions


VARIANTS: dict[str, type[MarginalWidths]] = {
    "refit": RefitMarginalWidths,
    "tiny": TinyGrowthWidths,
    "refit_tiny": RefitTinyWidths,
    "gates": GatedWidths,
    "gates_refit": RefitGatedWidths,
    "gates_broad": BroadGatedWidths,
}


def controller(setting: str) -> contextlib.AbstractContextManager:
    """Inside it, the harness's ``width_control: marginal`` builds the setting's variant (a setting is named
    ``<mechanism>-<alpha>-<settle steps>``); the measured widths' own setting changes nothing."""
    variant = VARIANTS.get(setting.split("-")[0])
    if variant is None:
        return contextlib.nullcontext()
    return mock.patch.object(harness_train, "WIDTH_CONTROLLERS", {**WIDTH_CONTROLLERS, "marginal": variant})
