"""The hidden layer of an :class:`~awgnn.width.AdaptiveMLP` as the target of a growth step."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from awgnn.width import AdaptiveMLP, AdaptiveWidth
from awgnn.width.resize import OPTIMIZER_STATE_POLICIES, OptimizerStatePolicy
from awgnn.width.validation import check_choice


@dataclass(frozen=True)
class LayerGrowth:
    """One growth step on one layer: ``old`` neurons, ``split`` of them split, ``added`` new: ``new`` in all."""

    name: str
    old: int
    new: int
    split: int
    added: int


class GrowableLayer:
    r"""One hidden layer :math:`h = \sigma(W_1 x + b_1)` of an MLP, read by :math:`u = W_2 h + b_2`.

    ``W_1`` (shape ``(D, d)``) and ``b_1`` are the rows and bias of
    ``mlp.linears[index]``, ``W_2`` (shape ``(F_{out}, D)``) the weight of the
    next linear; :math:`D` is set by the layer's :class:`AdaptiveWidth`. Growth
    is a resize of that width (so every follower and the optimizer state follow
    it, see :meth:`AdaptiveWidth.resize_`) after which the new neurons get chosen
    values instead of the default ones.

    The width must be fixed (:meth:`AdaptiveWidth.fix_`, or
    :func:`fix_hidden_widths_`): its importances are then 1, so the layer is a
    plain fixed-width layer whose width only growth changes, and a neuron copied
    with half its outgoing column computes exactly half of its parent's
    contribution, wherever it sits in the layer. With learned importances a new
    neuron at the tail would be scaled differently from its parent and every
    importance would change with the width, breaking function preservation.

    Args:
        mlp: the MLP holding the layer.
        index: which linear of ``mlp.linears`` computes the hidden layer (not the last).
        name: the layer's name in reports.

    Shapes:
        - :attr:`incoming`: :math:`(D, d + 1)`, the rows of :math:`[W_1 \,|\, b_1]`
        - :attr:`outgoing`: :math:`(F_{out}, D)`
    """

    def __init__(self, mlp: AdaptiveMLP, index: int = 0, name: str = "") -> None:
        if not isinstance(mlp, AdaptiveMLP):
            raise ValueError(f"mlp must be an AdaptiveMLP, got {type(mlp).__name__}")
        linears = mlp.linears
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(linears) - 1:
            raise ValueError(f"index must be an integer in [0, {len(linears) - 2}] (a hidden layer), got {index!r}")
        self.mlp, self.name = mlp, name
        self.linear, self.consumer = linears[index], linears[index + 1]
        width = self.linear.output_width
        if width is None:
            raise ValueError(f"hidden layer {name!r} has a fixed int width; growth needs an AdaptiveWidth")
        if not width.fixed:
            raise ValueError(
                f"the hidden width of {name!r} is learned; call AdaptiveWidth.fix_() on it "
                "(or awgnn.growth.fix_hidden_widths_(model)) before growing it")
        if self.linear.bias is None:
            raise ValueError(f"hidden layer {name!r} has no bias; growth needs one")
        expected = {(id(self.linear), "weight", 0), (id(self.linear), "bias", 0), (id(self.consumer), "weight", 1)}
        found = {(id(f.module), f.name, f.dim) for f in width.followers}
        if found != expected:
            raise ValueError(
                f"the hidden width of {name!r} must be followed only by its linear's rows and bias and "
                "the next linear's columns (a norm between them is not supported)")
        consumer_width = self.consumer.output_width
        if consumer_width is not None and self.consumer is not linears[-1] and not consumer_width.fixed:
            raise ValueError(f"the layer after {name!r} scales its outputs by learned importances; fix its width too")
        position = next(i for i, m in enumerate(mlp) if m is self.linear)
        self.width: AdaptiveWidth = width
        self.activation: nn.Module = mlp[position + 1]

    @property
    def size(self) -> int:
        """The current number of neurons :math:`D`."""
        return self.width.width

    @property
    def incoming(self) -> Tensor:
        """:math:`[W_1 \\,|\\, b_1]`, shape ``(D, d + 1)`` (a detached copy)."""
        return torch.cat([self.linear.weight.detach(), self.linear.bias.detach().unsqueeze(1)], 1)

    @property
    def outgoing(self) -> Tensor:
        """:math:`W_2`, shape ``(F_out, D)`` (the parameter's data, no copy)."""
        return self.consumer.weight.detach()

    def room(self) -> int:
        """How many neurons the width's ``max_width`` still allows."""
        return self.width.max_width - self.size

    @torch.no_grad()
    def grow_(
        self,
        parents: Tensor,
        offsets: Tensor,
        new_incoming: Tensor,
        new_outgoing: Tensor,
        optimizer: Optimizer | None = None,
        optimizer_state: OptimizerStatePolicy = "carry",
    ) -> LayerGrowth:
        r"""Split ``parents`` and append new neurons, in one resize of the width.

        Neuron :math:`p = ` ``parents[i]`` becomes :math:`\theta_p + \delta_i`
        (in place) and a new neuron :math:`\theta_p - \delta_i` (appended),
        :math:`\theta = [w \,|\, b]`, :math:`\delta_i = ` ``offsets[i]``; both
        get half of :math:`p`'s outgoing column, so with :math:`\delta = 0` the
        output is unchanged. Then the brand-new neurons are appended with rows
        ``new_incoming`` and outgoing columns ``new_outgoing``.

        Parameters keep their identity; ``optimizer``'s state follows
        ``optimizer_state`` (see :meth:`AdaptiveWidth.resize_`): with
        ``"carry"`` a split parent keeps its state and every appended neuron
        starts from the optimizer's initial state.

        Args:
            parents: distinct neuron indices, shape ``(S,)``.
            offsets: :math:`\delta`, shape ``(S, d + 1)``.
            new_incoming: shape ``(A, d + 1)``.
            new_outgoing: shape ``(F_out, A)``.
        """
        check_choice("optimizer_state", optimizer_state, OPTIMIZER_STATE_POLICIES)
        old, inputs = self.size, self.linear.weight.shape[1] + 1
        parents = parents.to(torch.long).flatten()
        if parents.numel() and (parents.min() < 0 or parents.max() >= old or parents.unique().numel() != len(parents)):
            raise ValueError(f"parents must be distinct neuron indices in [0, {old - 1}], got {parents.tolist()}")
        if offsets.shape != (len(parents), inputs):
            raise ValueError(f"offsets must have shape {(len(parents), inputs)}, got {tuple(offsets.shape)}")
        added = new_incoming.shape[0] if new_incoming.dim() == 2 else -1
        if new_incoming.shape != (added, inputs) or new_outgoing.shape != (self.consumer.weight.shape[0], added):
            raise ValueError(
                f"new_incoming must have shape (A, {inputs}) and new_outgoing ({self.consumer.weight.shape[0]}, A), "
                f"got {tuple(new_incoming.shape)} and {tuple(new_outgoing.shape)}")
        new = old + len(parents) + added
        if new > self.width.max_width:
            raise ValueError(f"growing {self.name!r} to {new} neurons exceeds its max_width={self.width.max_width}")
        if new == old:
            return LayerGrowth(self.name, old, old, 0, 0)
        parent_rows = self.incoming[parents]
        half_columns = self.outgoing[:, parents] / 2
        self.width.resize_(new, optimizer, optimizer_state, reason="growth")
        weight, bias, outgoing = self.linear.weight, self.linear.bias, self.consumer.weight
        like = dict(dtype=weight.dtype, device=weight.device)
        offsets, new_incoming, new_outgoing = offsets.to(**like), new_incoming.to(**like), new_outgoing.to(**like)
        children = torch.arange(old, old + len(parents), device=weight.device)
        rows = torch.cat([parent_rows + offsets, parent_rows - offsets, new_incoming])
        targets = torch.cat([parents.to(weight.device), children, torch.arange(old + len(parents), new,
                                                                               device=weight.device)])
        weight[targets] = rows[:, :-1]
        bias[targets] = rows[:, -1]
        outgoing[:, targets] = torch.cat([half_columns, half_columns, new_outgoing], 1)
        return LayerGrowth(self.name, old, new, len(parents), added)


def growable_layers(model: nn.Module) -> list[GrowableLayer]:
    """Every hidden layer of an :class:`AdaptiveMLP` in ``model`` with an :class:`AdaptiveWidth`.

    For :class:`awgnn.models.AdaptiveGINClassifier` that is the node-wise block
    0 MLP and the MLP of every :class:`~awgnn.nn.AdaptiveGINConv`. The widths
    must be fixed (:func:`fix_hidden_widths_`).
    """
    return [GrowableLayer(mlp, index, f"{name}.{_position(mlp, linear)}" if name else str(_position(mlp, linear)))
            for name, mlp in model.named_modules() if isinstance(mlp, AdaptiveMLP)
            for index, linear in enumerate(mlp.linears[:-1]) if linear.output_width is not None]


@torch.no_grad()
def fix_hidden_widths_(model: nn.Module) -> None:
    """Fix (:meth:`AdaptiveWidth.fix_`) the hidden width of every layer :func:`growable_layers` finds."""
    for mlp in model.modules():
        if isinstance(mlp, AdaptiveMLP):
            for linear in mlp.linears[:-1]:
                if linear.output_width is not None:
                    linear.output_width.fix_()


def _position(mlp: AdaptiveMLP, linear: nn.Module) -> int:
    return next(i for i, m in enumerate(mlp) if m is linear)
