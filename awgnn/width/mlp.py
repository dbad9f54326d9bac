"""Multi-layer perceptron whose hidden (and optionally output) widths are learned."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from awgnn.width.activations import check_activation, is_positively_homogeneous, make_activation
from awgnn.width.adaptive_width import AdaptiveWidth
from awgnn.width.checkpoint import AtomicLoad
from awgnn.width.linear import AdaptiveLinear, Size, check_size
from awgnn.width.validation import check_choice

NORMS: tuple[str, ...] = ("batch_norm",)


class AdaptiveMLP(AtomicLoad, nn.Sequential):
    r"""MLP with learned widths (AWN, Errica et al. 2025).

    .. math::
        h^{(l)} = f_l \odot \sigma\big(N_l(W_l h^{(l-1)} + b_l)\big), \quad l = 1..L,
        \qquad y = g\big(W_{L+1} h^{(L)} + b_{L+1}\big)

    Each hidden layer whose size is an :class:`AdaptiveWidth` scales its
    neurons by their importances :math:`f_l` after the activation
    :math:`\sigma`; a hidden layer given as an ``int`` has that fixed width
    and no scaling. :math:`N_l` is the identity, or with
    ``hidden_norm="batch_norm"`` a batch norm of the hidden layer's width
    (its parameters and statistics follow the width), as in the
    fair-comparison GIN's MLP. The output map :math:`g` is, in order, the optional
    ``output_norm``, the optional ``output_activation`` and, when
    ``out_features`` is an :class:`AdaptiveWidth`, its importance scaling.

    Args:
        in_features: input size, or ``-1`` to infer it at the first forward.
        out_features: output size, fixed (``int``) or learned (:class:`AdaptiveWidth`).
        hidden: sizes of the hidden layers; default one learned width,
            ``[AdaptiveWidth()]``.
        activation: hidden activation (see :data:`awgnn.width.ACTIVATION_NAMES`).
        hidden_norm: ``"batch_norm"`` between each hidden linear layer and its
            activation, or ``None``.
        output_norm: ``"batch_norm"`` or ``None``.
        output_activation: activation after the output layer, or ``None``.

    Shapes:
        - **input:** :math:`(N, F_{in})`
        - **output:** :math:`(N, F_{out})`
    """

    def __init__(
        self,
        in_features: int,
        out_features: Size,
        hidden: Sequence[Size] | None = None,
        activation: str = "relu",
        output_norm: str | None = None,
        output_activation: str | None = None,
        hidden_norm: str | None = None,
    ) -> None:
        check_activation(activation)
        if output_activation is not None:
            check_activation(output_activation)
        if output_norm is not None:
            check_choice("output_norm", output_norm, NORMS)
        if hidden_norm is not None:
            check_choice("hidden_norm", hidden_norm, NORMS)
        if hidden is not None and not isinstance(hidden, Sequence):
            raise ValueError(f"hidden must be a list of sizes (integers or AdaptiveWidths), got {hidden!r}")
        hidden = [AdaptiveWidth()] if hidden is None else list(hidden)
        check_size("in_features", in_features, lazy=True)
        check_size("out_features", out_features)
        for index, size in enumerate(hidden):
            check_size(f"hidden[{index}]", size)
        _check_distinct_widths([*hidden, out_features])
        layers: list[nn.Module] = []
        previous: Size = in_features
        for size in hidden:
            layers.append(AdaptiveLinear(previous, size, nonlinearity=activation))
            if hidden_norm is not None:
                layers.append(_batch_norm(size))
            layers.append(make_activation(activation))
            if isinstance(size, AdaptiveWidth):
                layers.append(size)
            previous = size
        layers.append(AdaptiveLinear(previous, out_features, nonlinearity=output_activation))
        if output_norm is not None:
            layers.append(_batch_norm(out_features))
        if output_activation is not None:
            layers.append(make_activation(output_activation))
        if isinstance(out_features, AdaptiveWidth):
            layers.append(out_features)
        super().__init__(*layers)
        self.fused_starts = _fusable_starts(layers)

    def forward(self, x: Tensor) -> Tensor:
        """The layers in order; a linear, ReLU-type activation and importance scaling run fused.

        Since the activation is positively homogeneous, scaling after it equals
        scaling the linear layer's rows and bias before it
        (``AdaptiveLinear(x, scale=f)``): the same function, without a
        pass over every node's activations.
        """
        layers = list(self)
        index = 0
        while index < len(layers):
            if index in self.fused_starts:
                linear, activation = layers[index], layers[index + 1]
                x = activation(linear(x, scale=linear.output_width.importances()))
                index += 3
            else:
                x = layers[index](x)
                index += 1
        return x

    @property
    def widths(self) -> list[AdaptiveWidth]:
        """The learned widths, from input to output."""
        return [m for m in self if isinstance(m, AdaptiveWidth)]

    @property
    def linears(self) -> list[AdaptiveLinear]:
        """The linear maps, from input to output."""
        return [m for m in self if isinstance(m, AdaptiveLinear)]

    @property
    def output_width(self) -> AdaptiveWidth | None:
        """The learned output width, or ``None`` when the output size is fixed."""
        return self.linears[-1].output_width

    def reset_parameters(self) -> None:
        for module in self:
            if isinstance(module, AdaptiveWidth):
                module.reset_parameters()
        for module in self:
            if not isinstance(module, AdaptiveWidth) and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def to_static(self) -> nn.Sequential:
        """Plain ``nn.Sequential`` of the same layers (freezing converts them next)."""
        return nn.Sequential(*self)


def _fusable_starts(layers: Sequence[nn.Module]) -> frozenset[int]:
    """Positions of ``linear, ReLU-type activation, the linear's own width`` triples."""
    return frozenset(
        i
        for i in range(len(layers) - 2)
        if isinstance(layers[i], AdaptiveLinear)
        and layers[i].output_width is not None
        and layers[i + 2] is layers[i].output_width
        and is_positively_homogeneous(layers[i + 1])
    )


def _batch_norm(size: Size) -> nn.BatchNorm1d:
    """A batch norm of ``size`` features that follows it when it is learned."""
    norm = nn.BatchNorm1d(size.width if isinstance(size, AdaptiveWidth) else size)
    if isinstance(size, AdaptiveWidth):
        size.follow_batch_norm(norm)
    return norm


def _check_distinct_widths(sizes: Sequence[Size]) -> None:
    widths = [s for s in sizes if isinstance(s, AdaptiveWidth)]
    if len({id(w) for w in widths}) != len(widths) or any(w.followers for w in widths):
        raise ValueError(
            "each layer needs its own AdaptiveWidth; one instance was given twice or already belongs to another layer"
        )
