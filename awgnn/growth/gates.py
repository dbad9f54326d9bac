r"""Widths set by hard-concrete gates on the ordered neurons past a learned cut-off, against a cost per neuron.

Every hidden layer holds one parameter, its log cut-off :math:`\log w`. Its
neuron :math:`i` (counted from 1, in the layer's order) is multiplied, before
the next linear layer reads it, by a hard-concrete gate :math:`z_i \in [0, 1]`
(Louizos et al. 2018, https://arxiv.org/abs/1712.01312) of log-odds

.. math::
    \log \alpha_i = s\,(\log w - \log i),

so the first neurons are always on, the gates past the cut-off are mostly
shut, and in between they are random. The expected number of open gates,
:math:`\sum_i P(z_i \neq 0)`, pays the cost :math:`c` of a neuron (derived in
:mod:`awgnn.growth.width_control`: :math:`c = \alpha\,p/N`), so training
minimises

.. math::
    \mathbb{E}_z\big[\bar\ell(z)\big] + c \sum_i P(z_i \neq 0)

in the weights and the cut-off together. The cut-off's gradient comes from
the loss through the random gates near it and from the cost: every step
trains the network at a narrower or a wider layer (a nested-truncation
likelihood for the cut-off), and the neurons near it are trained while they
are judged, as nested dropout (Rippel et al. 2014) trains the units of an
ordered layer to be removable.

The slope :math:`s` sets how broad the random part is. A gate is fully
open with probability :math:`\sigma(\log\alpha_i - \beta \log 11)` and
shut with probability :math:`\sigma(-\log\alpha_i - \beta\log 11)`
(:math:`\beta = 2/3` the temperature, :math:`(-0.1, 1.1)` the stretch), so
both stay above 1% for neurons between :math:`e^{-3.0/s}` and
:math:`e^{3.0/s}` times the cut-off (:func:`random_range`).
:data:`DEFAULT_GATE_SLOPE` = 3 makes that 0.37 to 2.7 times the cut-off, a
factor of 7, so most of the layer beyond a small core is trained to be
removable; a slope of 8 (0.69 to 1.45 times the cut-off) was screened too
and rejected, on the synthetic ladder and on the inner validation splits
(its narrow and wide starts ended several times apart).

In evaluation the gates are Louizos et al.'s deterministic ones,
:func:`deterministic_gates`: open (some damped below 1) up to the kept width
:func:`kept_width`, shut after it. Between epochs (:meth:`GatedWidths.update_`)
every layer is resized to its kept width: the neurons cut had shut gates, and
new ones start with zero outgoing weights, so the evaluated function is
unchanged. :meth:`GatedWidths.remove` folds the deterministic gates into the
next layer's weights, after which the model is a plain fixed-width network
that :func:`awgnn.freeze` turns into static modules.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from awgnn.growth.width_control import (
    DEFAULT_MEASURED_EXAMPLES,
    DEFAULT_NEURON_COST,
    MIN_WIDTH,
    PerExampleLoss,
    WidthController,
    WidthDecision,
)
from awgnn.width.resize import OPTIMIZER_STATE_POLICIES, OptimizerStatePolicy
from awgnn.width.validation import check_choice, check_finite_positive

# Hard-concrete gates (Louizos et al. 2018): the temperature and the stretch interval, their paper's values.
GATE_TEMPERATURE = 2 / 3
GATE_STRETCH = (-0.1, 1.1)
# The log-odds' fall per unit of log neuron index past the cut-off: chosen against 8 on the ladder and the inner
# validation splits (see the module docstring).
DEFAULT_GATE_SLOPE = 3.0
# The name of the parameter the gates add to a layer's consumer (the next linear layer).
CUTOFF_PARAMETER = "gate_log_cutoff"


def kept_beyond_cutoff(slope: float) -> float:
    """Past this many log units beyond the cut-off a neuron's deterministic (evaluation) gate is 0: there its
    log-odds are below logit(-stretch[0] / (stretch[1] - stretch[0])) = -log(-stretch[1] / stretch[0]) = -log 11."""
    return math.log(-GATE_STRETCH[1] / GATE_STRETCH[0]) / check_finite_positive("slope", slope)


def random_range(slope: float, probability: float = 0.01) -> tuple[float, float]:
    """The neuron indices, as multiples of the cut-off, between which a gate is fully open with probability at least
    ``probability`` and shut with probability at least ``probability`` (``probability`` below
    :math:`\\sigma(-\beta \\log 11)`, about 0.17)."""
    margin = math.log((1 - probability) / probability)
    threshold = GATE_TEMPERATURE * math.log(-GATE_STRETCH[1] / GATE_STRETCH[0])
    if margin <= threshold:
        raise ValueError(f"probability must be below {1 / (1 + math.exp(threshold)):.3f}, got {probability}")
    return math.exp((threshold - margin) / slope), math.exp((margin - threshold) / slope)


def gate_log_odds(log_cutoff: Tensor, width: int, slope: float = DEFAULT_GATE_SLOPE) -> Tensor:
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


def kept_width(log_cutoff: float, slope: float = DEFAULT_GATE_SLOPE) -> int:
    """How many neurons have an open deterministic gate: those with index below ``exp(log_cutoff + kept_beyond)``."""
    return max(0, math.ceil(math.exp(log_cutoff + kept_beyond_cutoff(slope))) - 1)


def log_cutoff_keeping(width: int, slope: float = DEFAULT_GATE_SLOPE) -> float:
    """The log cut-off whose deterministic gates keep exactly ``width`` neurons."""
    return math.log(width + 0.5) - kept_beyond_cutoff(slope)


class GatedWidths(WidthController):
    r"""Set every hidden width of ``model`` by hard-concrete gates past a learned cut-off (see the module docstring).

    Works on the layers of :class:`~awgnn.growth.WidthController`. Building it
    adds a parameter ``gate_log_cutoff`` (:math:`\log w`, starting where every
    current neuron is kept) to each layer's consumer, the next linear layer,
    and hooks that consumer: its input is multiplied by the gates, sampled in
    training and deterministic in evaluation, and in training the cut-off's
    gradient gets the cost's. Build the optimizer after it, and give the
    cut-offs no weight decay (:meth:`decay_free_parameters`); a copy of the
    model carries its own cut-offs. Call :meth:`update_` between epochs; call
    :meth:`remove` after training to fold the gates into the weights.

    Args:
        model: the model; its current hidden widths are the start.
        n_observations: the number of training observations :math:`N`.
        alpha: the cost :math:`\alpha` in nats per parameter.
        slope: :math:`s`, the gates' log-odds per unit of log neuron index.
        measured_examples: how many training examples recalibrate the batch norms after an update (at most).
        generator: draws the gates and the new neurons' weights.
    """

    def __init__(
        self,
        model: nn.Module,
        n_observations: int,
        *,
        alpha: float = DEFAULT_NEURON_COST,
        slope: float = DEFAULT_GATE_SLOPE,
        measured_examples: int = DEFAULT_MEASURED_EXAMPLES,
        generator: torch.Generator | None = None,
    ) -> None:
        self.slope = check_finite_positive("slope", slope)
        super().__init__(model, n_observations, alpha=alpha, measured_examples=measured_examples, generator=generator)
        for layer in self.layers:
            if hasattr(layer.consumer, CUTOFF_PARAMETER):
                raise ValueError(f"{layer.name}'s next layer already has gates: build one GatedWidths per model")
            start = torch.tensor(log_cutoff_keeping(layer.size, self.slope), device=layer.consumer.weight.device)
            layer.consumer.register_parameter(CUTOFF_PARAMETER, nn.Parameter(start))
            self._handles.append(
                layer.consumer.register_forward_pre_hook(functools.partial(self._gate, cost=self.cost(layer)))
            )

    resize_reason = "gates"

    def cutoffs(self) -> dict[str, float]:
        r"""Every layer's cut-off :math:`w`, keyed by layer name."""
        return {layer.name: math.exp(getattr(layer.consumer, CUTOFF_PARAMETER).item()) for layer in self.layers}

    def decay_free_parameters(self) -> list[nn.Parameter]:
        """The log cut-offs: a decay would pull every cut-off towards one neuron."""
        return [getattr(layer.consumer, CUTOFF_PARAMETER) for layer in self.layers]

    def _gate(self, consumer: nn.Module, args: tuple, cost: float) -> tuple:
        """The consumer's input times the gates; in training, the cut-off's gradient gets the cost's."""
        log_cutoff = getattr(consumer, CUTOFF_PARAMETER)
        if not consumer.training:
            return (args[0] * deterministic_gates(gate_log_odds(log_cutoff, args[0].shape[-1], self.slope)), *args[1:])
        log_cutoff = log_cutoff * 1.0  # a fresh node, so that the hook lives for this step only
        log_odds = gate_log_odds(log_cutoff, args[0].shape[-1], self.slope)
        if log_cutoff.requires_grad:
            # d/dlog w of c * sum_i P(z_i != 0), P a sigmoid of log-odds that grow by s per unit of log w.
            probability = open_probability(log_odds.detach())
            cost_gradient = cost * self.slope * (probability * (1 - probability)).sum()
            log_cutoff.register_hook(lambda grad: grad + cost_gradient)
        return (args[0] * sampled_gates(log_odds, self.generator), *args[1:])

    def update_(
        self,
        batches: Iterable[Any],
        per_example_loss: PerExampleLoss,
        optimizer: Optimizer | None = None,
        optimizer_state: OptimizerStatePolicy = "carry",
    ) -> list[WidthDecision]:
        """Resize every layer to its open deterministic gates; then recalibrate the batch norms on ``batches``
        (arguments as in :meth:`~awgnn.growth.WidthController.update_`)."""
        check_choice("optimizer_state", optimizer_state, OPTIMIZER_STATE_POLICIES)
        decisions = [self._resize_to_gates(layer, optimizer, optimizer_state) for layer in self.layers]
        self.recalibrate_norms(batches, per_example_loss)
        return decisions

    def _resize_to_gates(
        self, layer: Any, optimizer: Optimizer | None, optimizer_state: OptimizerStatePolicy
    ) -> WidthDecision:
        """Grow ``layer`` by silent neurons, or truncate it, to its open deterministic gates."""
        old, log_cutoff = layer.size, getattr(layer.consumer, CUTOFF_PARAMETER).item()
        new = min(max(kept_width(log_cutoff, self.slope), MIN_WIDTH), layer.width.max_width)
        if new > old:
            self._grow(layer, new - old, optimizer, optimizer_state)
        elif new < old:  # the neurons cut had shut gates: the evaluated function is unchanged
            layer.width.resize_(new, optimizer, optimizer_state, reason=self.resize_reason)
        return WidthDecision(layer.name, old, new, 0, math.exp(log_cutoff), 0.0, self.cost(layer), False)

    @torch.no_grad()
    def remove(self) -> None:
        """Fold every layer's deterministic gates into its consumer's columns, delete the cut-offs and detach the
        hooks: the model then computes in evaluation what it computed gated, as a plain fixed-width network."""
        super().remove()
        for layer in self.layers:
            log_cutoff = getattr(layer.consumer, CUTOFF_PARAMETER)
            gates = deterministic_gates(gate_log_odds(log_cutoff, layer.consumer.weight.shape[1], self.slope))
            layer.consumer.weight.mul_(gates)
            delattr(layer.consumer, CUTOFF_PARAMETER)
