"""Graph isomorphism convolution whose MLP learns its width."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.nn import GINConv, MessagePassing
from torch_geometric.typing import Adj, OptPairTensor, Size, SparseTensor
from torch_geometric.utils import spmm

from awgnn.nn.conv.utils import max_width_repr
from awgnn.width import AdaptiveMLP, AdaptiveWidth, AtomicLoad
from awgnn.width.linear import Size as Width
from awgnn.width.linear import check_size


class AdaptiveGINConv(AtomicLoad, MessagePassing):
    r"""The adaptive-width graph isomorphism operator from the `"Adaptive Width
    Neural Networks" <https://arxiv.org/abs/2501.15889>`_ paper and the `"How
    Powerful are Graph Neural Networks?" <https://arxiv.org/abs/1810.00826>`_
    paper, whose MLP learns its width.

    .. math::
        \mathbf{x}^{\prime}_i = \mathrm{MLP}_f \left( (1 + \epsilon) \cdot
        \mathbf{x}_i + \sum_{j \in \mathcal{N}(i)} \mathbf{x}_j \right)

    :math:`\mathrm{MLP}_f` is :class:`awgnn.AdaptiveMLP`: a hidden layer of
    learned width :math:`D` whose neurons are scaled by their importances
    after the activation, :math:`h = f \odot \sigma(W_1 m + b_1)`, then
    :math:`W_2 h + b_2`, followed by the optional ``norm`` and ``act``. When
    ``out_channels`` is an :class:`AdaptiveWidth`, the output (embedding)
    width is learned too and scaled by its own importances after ``act``;
    the layers that read this output must then follow that width (see
    :class:`awgnn.nn.models.AdaptiveGIN`).

    Call :func:`awgnn.update_widths` (or :func:`awgnn.auto_update_widths`)
    after each optimizer step; the forward pass never resizes.

    Args:
        in_channels: size of each input sample, ``-1`` to infer it lazily, or
            the previous layer's learned output :class:`AdaptiveWidth`.
        out_channels: output size: fixed ``int`` (default behaviour of GIN) or
            a learned :class:`AdaptiveWidth`.
        hidden_channels: the MLP's hidden size: a learned :class:`AdaptiveWidth`
            (default, :math:`\lambda_0 = 0.02`, 117 neurons) or a fixed ``int``
            (then the layer is a plain :class:`~torch_geometric.nn.GINConv`).
        eps: (initial) :math:`\epsilon`.
        train_eps: make :math:`\epsilon` trainable.
        activation: the MLP's hidden activation.
        norm: ``"batch_norm"`` after the MLP, or ``None``.
        hidden_norm: ``"batch_norm"`` between the MLP's hidden linear layer and
            its activation (as in the fair-comparison GIN), or ``None``.
        act: activation after the MLP (and ``norm``), or ``None``.
        **kwargs: arguments of :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})` or
          :math:`((|\mathcal{V_s}|, F_{in}), (|\mathcal{V_t}|, F_{in}))` if
          bipartite, edge indices :math:`(2, |\mathcal{E}|)` or a sparse
          adjacency
        - **output:** node features :math:`(|\mathcal{V}|, F_{out})` or
          :math:`(|\mathcal{V}_t|, F_{out})` if bipartite
    """

    def __init__(
        self,
        in_channels: Width,
        out_channels: Width,
        hidden_channels: Width | None = None,
        *,
        eps: float = 0.0,
        train_eps: bool = False,
        activation: str = "relu",
        norm: str | None = None,
        act: str | None = None,
        hidden_norm: str | None = None,
        **kwargs,
    ) -> None:
        # Checked here so that errors name these arguments, not the MLP's.
        check_size("in_channels", in_channels, lazy=True)
        check_size("out_channels", out_channels)
        hidden = AdaptiveWidth() if hidden_channels is None else hidden_channels
        check_size("hidden_channels", hidden)
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        self.initial_eps = eps
        self.mlp = AdaptiveMLP(
            in_channels,
            out_channels,
            hidden=[hidden],
            activation=activation,
            output_norm=norm,
            output_activation=act,
            hidden_norm=hidden_norm,
        )
        if train_eps:
            self.eps = torch.nn.Parameter(torch.empty(1))
        else:
            self.register_buffer("eps", torch.empty(1))
        self.reset_parameters()

    @property
    def in_channels(self) -> int:
        return self.mlp.linears[0].in_features

    @property
    def out_channels(self) -> int:
        return self.mlp.linears[-1].out_features

    @property
    def hidden_channels(self) -> int:
        return self.mlp.linears[0].out_features

    @property
    def hidden_width(self) -> AdaptiveWidth | None:
        """The learned hidden width, or ``None`` when it is fixed."""
        return self.mlp.linears[0].output_width

    @property
    def output_width(self) -> AdaptiveWidth | None:
        """The learned output width, or ``None`` when it is fixed."""
        return self.mlp.output_width

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.mlp.reset_parameters()
        self.eps.data.fill_(self.initial_eps)

    def forward(self, x: Tensor | OptPairTensor, edge_index: Adj, size: Size = None) -> Tensor:
        if isinstance(x, Tensor):
            x = (x, x)
        # propagate_type: (x: OptPairTensor)
        out = self.propagate(edge_index, x=x, size=size)
        x_r = x[1]
        if x_r is not None:
            out = out + (1 + self.eps) * x_r
        return self.mlp(out)

    def message(self, x_j: Tensor) -> Tensor:
        return x_j

    def message_and_aggregate(self, adj_t: Adj, x: OptPairTensor) -> Tensor:
        if isinstance(adj_t, SparseTensor):
            adj_t = adj_t.set_value(None, layout=None)
        return spmm(adj_t, x[0], reduce=self.aggr)

    def to_static(self) -> GINConv:
        """An upstream :class:`~torch_geometric.nn.GINConv` around this layer's MLP."""
        # Given as constructor argument, the MLP would be re-initialised by GINConv.
        static = GINConv(
            torch.nn.Identity(),
            eps=self.initial_eps,
            train_eps=isinstance(self.eps, torch.nn.Parameter),
            aggr=self.aggr,
            flow=self.flow,
            node_dim=self.node_dim,
        )
        static.nn = self.mlp
        static.eps.data.copy_(self.eps.data)
        return static

    def __repr__(self) -> str:
        text = f"{type(self).__name__}({self.in_channels}, {self.out_channels}, width={self.hidden_channels}"
        return text + max_width_repr(self.mlp.widths) + ")"
