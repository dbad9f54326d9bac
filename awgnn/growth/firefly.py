"""Firefly neural architecture descent (Wu, Liu, Stone, Liu, NeurIPS 2020), first-order growth."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from awgnn.growth.layer import GrowableLayer, input_moment
from awgnn.growth.statistics import LossFunction, NodeGradients, node_gradients
from awgnn.growth.step import SELECTIONS, GrowthBudget, GrowthResult, check_number, resolve_layers, select
from awgnn.width.resize import OPTIMIZER_STATE_POLICIES, OptimizerStatePolicy
from awgnn.width.validation import check_choice, check_finite_positive, check_int_at_least


class FireflyCandidates:
    r"""The growth candidates of one layer and their first-order scores.

    For a layer :math:`u = W_2 h + b_2`, :math:`h_j = \sigma(a_j)`,
    :math:`a_j = \theta_j^\top b`, the candidates are gated by scalars
    :math:`\varepsilon`:

    * a split of every neuron :math:`j` with offset :math:`\delta_j`
      (:math:`\|\delta_j\| = r \|\theta_j\|`, a fraction :math:`r` of its fan-in norm):
      :math:`h_j \to h_j + \varepsilon_j \big(\tfrac12 \sigma(a_j + \delta_j^\top b)
      + \tfrac12 \sigma(a_j - \delta_j^\top b) - \sigma(a_j)\big)`;
    * ``count`` new neurons with fan-in :math:`\phi_k` (row norm fixed at the
      mean row norm of :math:`[W_1 | b_1]`) and fan-out :math:`\omega_k`
      (:math:`\|\omega_k\| = \epsilon`): :math:`u \to u + \varepsilon_k\, \omega_k \sigma(\phi_k^\top b)`.

    With a hidden batch norm, :math:`\sigma(a)` stands for :math:`\sigma(s a + t)`,
    the norm in eval mode (:meth:`GrowableLayer.normalisation`), for existing
    neurons and their offspring; a new neuron's norm entries pass its
    pre-activation through (:meth:`GrowableLayer.grow_`).

    :math:`\varepsilon = 0` is the current network and :math:`\varepsilon_i = 1`
    is candidate :math:`i` applied (two offspring :math:`\theta_j \pm \delta_j`
    with half the outgoing column, or the new neuron). The score is the
    first-order loss change of applying it,

    .. math::
        s^{\mathrm{split}}_j = \frac{\partial L}{\partial \varepsilon_j}\Big|_0
        = \sum_n g_{nj} \big(\tfrac12 \sigma(a_{nj} + \delta_j^\top b_n)
        + \tfrac12 \sigma(a_{nj} - \delta_j^\top b_n) - \sigma(a_{nj})\big), \qquad
        s^{\mathrm{new}}_k = \sum_n (G_n^\top \omega_k)\, \sigma(\phi_k^\top b_n),

    with :math:`g = \partial L / \partial h` and :math:`G = \partial L / \partial u`
    at :math:`\varepsilon = 0` (:class:`NodeGradients`). These gradients do not
    depend on the candidates, so one statistics pass serves both the
    optimisation of the candidates and their scoring.

    Args:
        layer: the layer to grow.
        count: number of new-neuron candidates.
        eps: :math:`\epsilon`, the fan-out norm of new neurons.
        offset_ratio: :math:`r`, the split offsets' norm relative to their neuron's fan-in norm.
        generator: random source of the initial candidates (directions drawn from N(0, 1)).

    Shapes:
        - :attr:`offsets`: :math:`(D, d + 1)`; :attr:`fan_in`: ``(count, d + 1)``;
          :attr:`fan_out`: ``(F_out, count)``
    """

    def __init__(
        self, layer: GrowableLayer, count: int, eps: float, offset_ratio: float, generator: torch.Generator | None
    ) -> None:
        self.activation = layer.activation
        self.theta = layer.incoming
        self.norm_scale, self.norm_shift = layer.normalisation()
        self.eps = eps
        self.offset_norms = offset_ratio * self.theta.norm(dim=1, keepdim=True)

        def draw(*shape: int) -> Tensor:
            return torch.randn(*shape, generator=generator, dtype=self.theta.dtype).to(self.theta.device)

        self.fan_in_norm = float(self.theta.norm(dim=1).mean())
        self.offsets = draw(*self.theta.shape).requires_grad_()
        self.fan_in = draw(count, self.theta.shape[1]).requires_grad_()
        self.fan_out = draw(layer.outgoing.shape[0], count).requires_grad_()
        self.project_()

    @property
    def parameters(self) -> list[Tensor]:
        """The optimised tensors: offsets, fan-ins, fan-outs."""
        return [self.offsets, self.fan_in, self.fan_out]

    @torch.no_grad()
    def project_(self) -> None:
        """Back onto the constraints: offsets at :math:`r \\|\\theta_j\\|`, fan-outs at :math:`\\epsilon`, fan-ins at
        theirs."""
        for tensor, dim, norm in (
            (self.offsets, 1, self.offset_norms),
            (self.fan_in, 1, self.fan_in_norm),
            (self.fan_out, 0, self.eps),
        ):
            tensor.mul_(norm / tensor.norm(dim=dim, keepdim=True).clamp_min(torch.finfo(tensor.dtype).tiny))

    def scores(self, stats: NodeGradients) -> tuple[Tensor, Tensor]:
        """:math:`s^{\\mathrm{split}}` (shape ``(D,)``) and :math:`s^{\\mathrm{new}}` (``(count,)``) on one batch."""
        b = stats.inputs

        def sigma(a: Tensor) -> Tensor:
            return self.activation(a * self.norm_scale + self.norm_shift)

        a = b @ self.theta.T
        offset = b @ self.offsets.T
        split = 0.5 * sigma(a + offset) + 0.5 * sigma(a - offset) - sigma(a)
        return (
            (stats.hidden * split).sum(0),
            ((stats.output @ self.fan_out) * self.activation(b @ self.fan_in.T)).sum(0),
        )


class FireflyGrowth:
    r"""One Firefly growth step: split existing neurons and add new ones, by first-order gain.

    1. One statistics pass over ``batches`` (:func:`node_gradients`).
    2. The :class:`FireflyCandidates` of every layer are optimised to lower
       their summed scores, one RMSprop step per stored batch (reference: one
       epoch at lr 1e-3), projected back onto their norm constraints after
       each step.
    3. Their scores are summed over all batches; the most negative over all
       layers and both kinds are applied (``selection="global"``, as the
       reference code; with ``"per_layer"`` each layer's own most negative, up
       to its share of the budget, :func:`~awgnn.growth.step.select_per_layer`;
       at most the budget, never a score :math:`\ge 0`, never past a width's
       ``max_width``).

    A chosen candidate is applied at ``scale`` times its searched size: a split
    gives offspring :math:`\theta_j \pm \mathrm{scale}\,\delta_j` with half the
    outgoing column, a new neuron gets fan-in :math:`\phi_k` and fan-out
    :math:`\mathrm{scale}\,\omega_k`. ``scale = 1`` is the scored change,
    whose first-order loss change, the sum of the chosen scores, is the
    result's ``predicted_change``; ``scale = 0`` grows without changing the
    function (exact copies, zero fan-out).

    Args:
        num_neurons: neurons to add per step over all layers, or
        fraction: of the current total number of neurons (reference: 0.35).
        eps: norm :math:`\epsilon` of the new neurons' fan-outs.
        offset_ratio: norm of a split offset as a fraction :math:`r` of its
            neuron's fan-in norm :math:`\|\theta_j\|` (default
            :math:`\sqrt{\epsilon}`). A split changes the neuron's output at
            second order in :math:`r` (for a smooth activation), a new neuron
            changes the layer's output at first order in :math:`\epsilon`; with
            :math:`r = \sqrt{\epsilon}` both kinds of candidate change the
            function by comparable amounts, so either can win the selection
            (with :math:`r = \epsilon` no split ever did on a trained GIN).
        new_candidates: new-neuron candidates per layer (default: as many as
            the layer has neurons).
        lr: RMSprop learning rate of the candidates (reference: 1e-3).
        epochs: optimisation passes over the stored statistics (reference: 1).
        scale: see above.
        generator: random source of the candidates' initialisation.
        selection: ``"global"`` or ``"per_layer"`` (step 3).
    """

    def __init__(
        self,
        num_neurons: int | None = None,
        *,
        fraction: float | None = None,
        eps: float = 1e-2,
        offset_ratio: float | None = None,
        new_candidates: int | None = None,
        lr: float = 1e-3,
        epochs: int = 1,
        scale: float = 1.0,
        generator: torch.Generator | None = None,
        selection: str = "global",
    ) -> None:
        self.budget = GrowthBudget(num_neurons, fraction)
        self.eps = check_finite_positive("eps", eps)
        self.offset_ratio = (
            math.sqrt(self.eps) if offset_ratio is None else check_finite_positive("offset_ratio", offset_ratio)
        )
        self.new_candidates = (
            None if new_candidates is None else check_int_at_least("new_candidates", new_candidates, 0)
        )
        self.lr = check_finite_positive("lr", lr)
        self.epochs = check_int_at_least("epochs", epochs, 0)
        self.scale = check_number("scale", scale, 0.0)
        self.generator = generator
        self.selection = check_choice("selection", selection, SELECTIONS)

    def candidates(
        self, layers: Sequence[GrowableLayer], stats: Sequence[Sequence[NodeGradients]]
    ) -> list[FireflyCandidates]:
        """Fresh candidates for ``layers``, optimised on the stored per-batch ``stats`` (step 2 above)."""
        found = [
            FireflyCandidates(
                layer,
                layer.size if self.new_candidates is None else self.new_candidates,
                self.eps,
                self.offset_ratio,
                self.generator,
            )
            for layer in layers
        ]
        optimizer = torch.optim.RMSprop([p for c in found for p in c.parameters], lr=self.lr)
        for _ in range(self.epochs):
            for batch in stats:
                optimizer.zero_grad()
                total = sum(s.sum() for c, layer_stats in zip(found, batch) for s in c.scores(layer_stats))
                total.backward()
                optimizer.step()
                for c in found:
                    c.project_()
        return found

    def grow_(
        self,
        model: nn.Module,
        batches: Iterable[Any],
        loss_fn: LossFunction,
        optimizer: Optimizer | None = None,
        *,
        layers: Iterable[GrowableLayer] | None = None,
        optimizer_state: OptimizerStatePolicy = "carry",
    ) -> GrowthResult:
        """Gather the statistics over ``batches``, choose and grow, in place.

        ``loss_fn(model, batch)`` is the batch's (summed) training loss;
        ``layers`` defaults to every :func:`growable_layers` of ``model``;
        ``optimizer`` and ``optimizer_state`` as in :meth:`GrowableLayer.grow_`.
        """
        check_choice("optimizer_state", optimizer_state, OPTIMIZER_STATE_POLICIES)
        layers = resolve_layers(model, layers)
        stats = list(node_gradients(model, layers, batches, loss_fn))
        if not stats:
            raise ValueError("batches is empty")
        found = self.candidates(layers, stats)
        with torch.no_grad():
            scores = [
                torch.cat([sum(parts) for parts in zip(*(c.scores(batch[i]) for batch in stats))])
                for i, c in enumerate(found)
            ]
        chosen = select(scores, self.budget(layers), layers, self.selection)
        grown, predicted = [], 0.0
        for i, (layer, c, score, picked) in enumerate(zip(layers, found, scores, chosen)):
            predicted += float(score[picked].sum())
            parents, new = picked[picked < layer.size], picked[picked >= layer.size] - layer.size
            moment = input_moment(batch[i].inputs for batch in stats) if layer.norm is not None else None
            with torch.no_grad():
                grown.append(
                    layer.grow_(
                        parents,
                        self.scale * c.offsets[parents],
                        c.fan_in[new],
                        self.scale * c.fan_out[:, new],
                        optimizer,
                        optimizer_state,
                        input_moment=moment,
                    )
                )
        return GrowthResult(grown, predicted)
