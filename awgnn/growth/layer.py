"""The hidden layer of an MLP (:class:`~awgnn.width.AdaptiveMLP`, ``AdaptiveGINMLP``) as the target of a growth step."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.optim import Optimizer
from torch_geometric.nn import Linear as PyGLinear
from torch_geometric.nn.norm import BatchNorm as PyGBatchNorm

from awgnn.nn.models.gin import AdaptiveGINMLP
from awgnn.width import AdaptiveLinear, AdaptiveMLP, AdaptiveWidth
from awgnn.width.activations import ACTIVATION_NAMES, make_activation
from awgnn.width.adaptive_width import BATCH_NORM_FILLS
from awgnn.width.resize import OPTIMIZER_STATE_POLICIES, OptimizerStatePolicy
from awgnn.width.validation import check_choice

GrowableMLP = AdaptiveMLP | AdaptiveGINMLP
# The activations AdaptiveMLP builds, for each of which SecondDerivative has a sigma'' (ReLU-type kinks through a
# softplus surrogate, the smooth ones by autograd), and none at all.
GROWABLE_ACTIVATIONS: tuple[type[nn.Module], ...] = (
    *dict.fromkeys(type(make_activation(name)) for name in ACTIVATION_NAMES),
    nn.Identity,
)


@dataclass(frozen=True)
class LayerGrowth:
    """One growth step on one layer: ``old`` neurons, ``split`` of them split, ``added`` new: ``new`` in all."""

    name: str
    old: int
    new: int
    split: int
    added: int


@dataclass(frozen=True)
class HiddenLayer:
    r"""The parts of one hidden layer of an MLP, whichever kind holds it (:func:`hidden_layers`).

    The layer computes :math:`h = \mathrm{act}(\mathrm{norm}(W_1 x + b_1))`,
    read by :math:`u = W_2 h + b_2`; :class:`GrowableLayer` sees the MLP only
    through this view.

    Attributes:
        linear: :math:`W_1, b_1`.
        norm: the normalisation as the MLP holds it, ``None`` for none.
        activation: the activation as the MLP holds it (a module or, from PyG's
            resolver, a plain function), ``nn.Identity()`` for none.
        act_first: whether the activation runs before the norm.
        consumer: :math:`W_2`, the next linear.
        consumer_width: the width whose importances scale :math:`u` inside the
            MLP, where the statistics read it, so it must be fixed too; ``None``
            when :math:`u` leaves the MLP unscaled.
        path: the name of ``linear`` inside the MLP.
    """

    linear: AdaptiveLinear
    norm: nn.Module | None
    activation: Callable[[Tensor], Tensor]
    act_first: bool
    consumer: AdaptiveLinear
    consumer_width: AdaptiveWidth | None
    path: str


def hidden_layers(mlp: nn.Module) -> list[HiddenLayer]:
    """Every hidden layer of an :class:`AdaptiveMLP` or :class:`AdaptiveGINMLP`, input first, fixed-size ones too.

    An :class:`AdaptiveMLP` holds ``linear, [BatchNorm1d], activation,
    [width]`` per hidden layer and scales a hidden consumer's output by its
    width's importances (fused into the consumer); an :class:`AdaptiveGINMLP`
    holds PyG ``MLP``'s ``lins[0]``, ``norms[0]``, ``act`` (``act_first``),
    ``width``, ``lins[1]``, whose output leaves it unscaled.
    """
    if isinstance(mlp, AdaptiveGINMLP):
        norm = None if isinstance(mlp.norms[0], nn.Identity) else mlp.norms[0]
        activation = nn.Identity() if mlp.act is None else mlp.act
        return [HiddenLayer(mlp.lins[0], norm, activation, mlp.act_first, mlp.lins[1], None, "lins.0")]
    if not isinstance(mlp, AdaptiveMLP):
        raise ValueError(f"mlp must be an AdaptiveMLP or an AdaptiveGINMLP, got {type(mlp).__name__}")
    modules, linears = list(mlp), mlp.linears
    layers = []
    for linear, consumer in zip(linears[:-1], linears[1:]):
        position = next(i for i, m in enumerate(modules) if m is linear)
        following = modules[position + 1]
        norm = following if isinstance(following, _BatchNorm) else None
        layers.append(
            HiddenLayer(
                linear,
                norm,
                modules[position + (1 if norm is None else 2)],
                False,
                consumer,
                None if consumer is linears[-1] else consumer.output_width,
                str(position),
            )
        )
    return layers


class GrowableLayer:
    r"""One hidden layer :math:`h = \sigma(W_1 x + b_1)` of an MLP, read by :math:`u = W_2 h + b_2`.

    The MLP is an :class:`~awgnn.width.AdaptiveMLP` or the PyG-style
    :class:`~awgnn.nn.models.AdaptiveGINMLP` of
    :class:`~awgnn.nn.models.AdaptiveGIN`; :func:`hidden_layers` finds the
    parts in either. ``W_1`` (shape ``(D, d)``) and ``b_1`` are the rows and
    bias of the hidden linear, ``W_2`` (shape ``(F_{out}, D)``) the weight of
    the next linear; :math:`D` is set by the layer's :class:`AdaptiveWidth`.
    Growth is a resize of that width (so every follower and the optimizer state
    follow it, see :meth:`AdaptiveWidth.resize_`) after which the new neurons
    get chosen values instead of the default ones.

    A batch norm between the linear and the activation (``AdaptiveMLP(...,
    hidden_norm="batch_norm")``, ``AdaptiveGIN(..., norm="batch_norm")``) is
    supported: :math:`h = \sigma(\mathrm{BN}(a))`,
    :math:`a = W_1 x + b_1`. The growth methods see it as it acts in eval mode,
    a per-neuron affine map :math:`z = s a + t` (:meth:`normalisation`); the
    offspring of a split copy their parent's norm entries, so a split with zero
    offset keeps the function in training and in eval mode, and a brand-new
    neuron's entries are set to pass its pre-activation through unchanged (see
    :meth:`grow_`). The activation is one of :data:`GROWABLE_ACTIVATIONS`
    (every activation :class:`AdaptiveMLP` builds, or none), whose
    :math:`\sigma''` S2D knows.

    The width must be fixed (:meth:`AdaptiveWidth.fix_`, or
    :func:`fix_hidden_widths_`): its importances are then 1, so the layer is a
    plain fixed-width layer whose width only growth changes, and a neuron copied
    with half its outgoing column computes exactly half of its parent's
    contribution, wherever it sits in the layer. With learned importances a new
    neuron at the tail would be scaled differently from its parent and every
    importance would change with the width, breaking function preservation.

    Args:
        mlp: the MLP holding the layer.
        index: which of its :func:`hidden_layers` (an :class:`AdaptiveGINMLP` has one).
        name: the layer's name in reports and errors.

    Raises:
        ValueError: another norm than a batch norm, a batch norm after the
            activation (``act_first=True``) or without running statistics,
            another activation, a fixed ``int`` or a learned width.

    Shapes:
        - :attr:`incoming`: :math:`(D, d + 1)`, the rows of :math:`[W_1 \,|\, b_1]`
        - :attr:`outgoing`: :math:`(F_{out}, D)`
    """

    def __init__(self, mlp: GrowableMLP, index: int = 0, name: str = "") -> None:
        layers = hidden_layers(mlp)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(layers):
            raise ValueError(
                f"index must be an integer in [0, {len(layers) - 1}] (a hidden layer of "
                f"{type(mlp).__name__}), got {index!r}"
            )
        parts = layers[index]
        self.mlp, self.name = mlp, name
        self.linear, self.consumer = parts.linear, parts.consumer
        self.norm, self.activation = _norm_and_activation(parts, name)
        width = self.linear.output_width
        if width is None:
            raise ValueError(f"hidden layer {name!r} has a fixed int width; growth needs an AdaptiveWidth")
        if not width.fixed:
            raise ValueError(
                f"the hidden width of {name!r} is learned; call AdaptiveWidth.fix_() on it "
                "(or awgnn.growth.fix_hidden_widths_(model)) before growing it"
            )
        if self.linear.bias is None:
            raise ValueError(f"hidden layer {name!r} has no bias; growth needs one")
        expected = {
            (id(self.linear), "weight", 0),
            (id(self.linear), "bias", 0),
            (id(self.consumer), "weight", 1),
            *((id(self.norm), key, 0) for key in BATCH_NORM_FILLS if getattr(self.norm, key, None) is not None),
        }
        found = {(id(f.module), f.name, f.dim) for f in width.followers}
        if found != expected:
            raise ValueError(
                f"the hidden width of {name!r} must be followed only by its linear's rows and bias, a batch "
                "norm's entries and the next linear's columns"
            )
        if parts.consumer_width is not None and not parts.consumer_width.fixed:
            raise ValueError(f"the layer after {name!r} scales its outputs by learned importances; fix its width too")
        self.width: AdaptiveWidth = width

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

    def normalisation(self) -> tuple[Tensor, Tensor]:
        r"""The hidden norm in eval mode as :math:`z = s a + t` per neuron: :math:`(s, t)`, shapes ``(D,)``.

        :math:`s = \gamma / \sqrt{v + \epsilon}`, :math:`t = \beta - s \mu`
        from the norm's weight :math:`\gamma`, bias :math:`\beta` and running
        statistics :math:`(\mu, v)`; :math:`(1, 0)` without a norm.
        """
        like = self.linear.weight
        if self.norm is None:
            ones = torch.ones(self.size, dtype=like.dtype, device=like.device)
            return ones, torch.zeros_like(ones)
        norm = self.norm
        scale = torch.rsqrt(norm.running_var.detach() + norm.eps)
        if norm.weight is not None:
            scale = scale * norm.weight.detach()
        shift = -scale * norm.running_mean.detach()
        if norm.bias is not None:
            shift = shift + norm.bias.detach()
        return scale.to(like.dtype), shift.to(like.dtype)

    @torch.no_grad()
    def grow_(
        self,
        parents: Tensor,
        offsets: Tensor,
        new_incoming: Tensor,
        new_outgoing: Tensor,
        optimizer: Optimizer | None = None,
        optimizer_state: OptimizerStatePolicy = "carry",
        *,
        input_moment: Tensor | None = None,
    ) -> LayerGrowth:
        r"""Split ``parents`` and append new neurons, in one resize of the width.

        Neuron :math:`p = ` ``parents[i]`` becomes :math:`\theta_p + \delta_i`
        (in place) and a new neuron :math:`\theta_p - \delta_i` (appended),
        :math:`\theta = [w \,|\, b]`, :math:`\delta_i = ` ``offsets[i]``; both
        get half of :math:`p`'s outgoing column, so with :math:`\delta = 0` the
        output is unchanged. Then the brand-new neurons are appended with rows
        ``new_incoming`` and outgoing columns ``new_outgoing``.

        With a hidden batch norm, a split's new neuron copies its parent's
        entries (weight, bias, running statistics). A brand-new neuron
        :math:`\phi` gets running mean :math:`m = \phi^\top \mathbb E[b]` and
        variance :math:`v = \phi^\top \mathbb E[b b^\top] \phi - m^2` over
        the rows :math:`b = [x \,|\, 1]` that ``input_moment`` summarises, bias
        :math:`m` and weight :math:`\sqrt{v + \epsilon}`: the norm then passes
        its pre-activation through unchanged in eval mode, and in training mode
        on a batch with those moments, so it computes :math:`\sigma(\phi^\top
        b)` as the growth methods assume.

        Parameters keep their identity; ``optimizer``'s state follows
        ``optimizer_state`` (see :meth:`AdaptiveWidth.resize_`): with
        ``"carry"`` a split parent keeps its state and every appended neuron
        starts from the optimizer's initial state.

        Args:
            parents: distinct neuron indices, shape ``(S,)``.
            offsets: :math:`\delta`, shape ``(S, d + 1)``.
            new_incoming: shape ``(A, d + 1)``.
            new_outgoing: shape ``(F_out, A)``.
            input_moment: :math:`\mathbb E[b b^\top]`, shape ``(d + 1, d + 1)``
                (:func:`input_moment`); required when the layer has a batch
                norm and ``A > 0``.
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
                f"got {tuple(new_incoming.shape)} and {tuple(new_outgoing.shape)}"
            )
        new = old + len(parents) + added
        if new > self.width.max_width:
            raise ValueError(f"growing {self.name!r} to {new} neurons exceeds its max_width={self.width.max_width}")
        if self.norm is not None and added > 0 and (input_moment is None or input_moment.shape != (inputs, inputs)):
            raise ValueError(
                f"{self.name!r} has a batch norm: adding new neurons needs input_moment of shape "
                f"{(inputs, inputs)}, got {None if input_moment is None else tuple(input_moment.shape)}"
            )
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
        targets = torch.cat(
            [parents.to(weight.device), children, torch.arange(old + len(parents), new, device=weight.device)]
        )
        weight[targets] = rows[:, :-1]
        bias[targets] = rows[:, -1]
        outgoing[:, targets] = torch.cat([half_columns, half_columns, new_outgoing], 1)
        if self.norm is not None:
            self._set_norm_entries(parents.to(weight.device), children, new_incoming, input_moment)
        return LayerGrowth(self.name, old, new, len(parents), added)

    def _set_norm_entries(
        self, parents: Tensor, children: Tensor, new_incoming: Tensor, input_moment: Tensor | None
    ) -> None:
        """Offspring copy their parents' norm entries; brand-new neurons get pass-through ones (see :meth:`grow_`)."""
        norm = self.norm
        entries = {key: getattr(norm, key) for key in BATCH_NORM_FILLS if getattr(norm, key, None) is not None}
        for tensor in entries.values():
            tensor[children] = tensor[parents]
        if not len(new_incoming):
            return
        moment = input_moment.to(dtype=new_incoming.dtype, device=new_incoming.device)
        mean = new_incoming @ moment[:, -1]  # the last coordinate of b is 1, so E[b] is the last column
        variance = ((new_incoming @ moment) * new_incoming).sum(1) - mean.square()
        variance = variance.clamp_min(0)
        start = self.size - len(new_incoming)
        values = {
            "running_mean": mean,
            "running_var": variance,
            "bias": mean,
            "weight": torch.sqrt(variance + norm.eps),
        }
        for key, tensor in entries.items():
            tensor[start:] = values[key].to(tensor.dtype)


def input_moment(inputs: Iterable[Tensor]) -> Tensor:
    r""":math:`\mathbb E[b b^\top]` over every row of ``inputs`` (each ``(N, d + 1)``, rows :math:`b = [x \,|\, 1]`)."""
    total, rows = None, 0
    for b in inputs:
        total = b.T @ b if total is None else total + b.T @ b
        rows += b.shape[0]
    if total is None or rows == 0:
        raise ValueError("input_moment needs at least one row")
    return total / rows


def growable_layers(model: nn.Module) -> list[GrowableLayer]:
    """Every hidden layer with an :class:`AdaptiveWidth` of an :class:`AdaptiveMLP` or ``AdaptiveGINMLP`` in ``model``.

    For :class:`awgnn.models.AdaptiveGINClassifier` that is the node-wise block
    0 MLP and the MLP of every :class:`~awgnn.nn.AdaptiveGINConv`; for
    :class:`awgnn.nn.models.AdaptiveGIN` the MLP of every conv (named
    ``convs.<l>.nn.lins.0``). The widths must be fixed
    (:func:`fix_hidden_widths_`); an unsupported layer raises (see :class:`GrowableLayer`).
    """
    return [GrowableLayer(mlp, index, name) for name, mlp, index, _ in _adaptive_hidden_layers(model)]


@torch.no_grad()
def fix_hidden_widths_(model: nn.Module) -> None:
    """Fix (:meth:`AdaptiveWidth.fix_`) the hidden width of every layer :func:`growable_layers` finds.

    A norm or an activation that growth does not support raises the
    :class:`GrowableLayer` error before any width is fixed. The weights are
    left as they are: the layer after each fixed width keeps an initialisation
    (Kaiming+) made for the learned importances, which are now 1, so on a
    freshly built model call ``model.reset_parameters()`` afterwards to
    initialise it as in a plain network.
    """
    layers = list(_adaptive_hidden_layers(model))
    for name, _, _, parts in layers:
        _norm_and_activation(parts, name)
    for _, _, _, parts in layers:
        parts.linear.output_width.fix_()


@torch.no_grad()
def reinitialise_(model: nn.Module) -> None:
    """Draw every linear map and norm of ``model`` afresh, at its current widths, as in a plain network.

    After :func:`fix_hidden_widths_` the importances are 1, so a linear map
    that reads a fixed width is drawn with plain Kaiming scaling instead of
    the Kaiming+ scaling made for learned importances. Widths, GIN's
    epsilon and every other parameter are left as they are.
    """
    for module in model.modules():
        if isinstance(module, (nn.Linear, PyGLinear, AdaptiveLinear, _BatchNorm)):
            module.reset_parameters()


def _adaptive_hidden_layers(model: nn.Module) -> Iterator[tuple[str, GrowableMLP, int, HiddenLayer]]:
    """``(name, mlp, index, parts)`` of every hidden layer with an :class:`AdaptiveWidth` in ``model``."""
    for prefix, mlp in model.named_modules():
        if isinstance(mlp, (AdaptiveMLP, AdaptiveGINMLP)):
            for index, parts in enumerate(hidden_layers(mlp)):
                if parts.linear.output_width is not None:
                    yield f"{prefix}.{parts.path}" if prefix else parts.path, mlp, index, parts


def _norm_and_activation(parts: HiddenLayer, name: str) -> tuple[_BatchNorm | None, nn.Module]:
    """The layer's batch norm (``None`` for none) and activation, or ``ValueError`` when growth cannot read them."""
    norm = parts.norm.module if isinstance(parts.norm, PyGBatchNorm) else parts.norm
    if norm is not None and not isinstance(norm, _BatchNorm):
        raise ValueError(
            f"the hidden norm of {name!r} is {type(norm).__name__}; growth supports no norm "
            "(nn.Identity) or a batch norm (norm='batch_norm')"
        )
    if norm is not None and norm.running_mean is None:
        raise ValueError(f"the batch norm of {name!r} keeps no running statistics; growth needs them")
    if not isinstance(parts.activation, GROWABLE_ACTIVATIONS):
        raise ValueError(
            f"the activation of {name!r} is {parts.activation!r}; growth supports "
            f"{', '.join(ACTIVATION_NAMES)} or none, whose second derivative S2D knows"
        )
    if norm is not None and parts.act_first and not isinstance(parts.activation, nn.Identity):
        raise ValueError(
            f"{name!r} applies its activation before its batch norm (act_first=True); growth "
            "supports a batch norm only between the linear and the activation (act_first=False)"
        )
    return norm, parts.activation
