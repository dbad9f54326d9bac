"""Graph convolution whose output channels are learned."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import Parameter
from torch_geometric.nn import GCNConv, MessagePassing
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.typing import Adj, OptPairTensor, OptTensor, SparseTensor
from torch_geometric.utils import spmm

from awgnn.nn.conv.utils import max_width_repr
from awgnn.width import AdaptiveLinear, AdaptiveWidth, AtomicLoad
from awgnn.width.activations import is_positively_homogeneous, make_activation
from awgnn.width.linear import Size as Width
from awgnn.width.linear import check_size


class AdaptiveGCNConv(AtomicLoad, MessagePassing):
    r"""The adaptive-width graph convolutional operator from the `"Adaptive Width
    Neural Networks" <https://arxiv.org/abs/2501.15889>`_ paper and the
    `"Semi-supervised Classification with Graph Convolutional Networks"
    <https://arxiv.org/abs/1609.02907>`_ paper, with a learned number of output
    channels.

    .. math::
        \mathbf{X}^{\prime} = f \odot \sigma\left(\mathbf{\hat{D}}^{-1/2}
        \mathbf{\hat{A}} \mathbf{\hat{D}}^{-1/2} \mathbf{X} \mathbf{\Theta}
        + \mathbf{b}\right)

    with :math:`\mathbf{\hat{A}} = \mathbf{A} + \mathbf{I}` as in
    :class:`~torch_geometric.nn.GCNConv`. The :math:`D` output channels are
    scaled by their importances :math:`f` *after* the activation
    :math:`\sigma` (``act``), which this layer therefore applies itself: a
    model written for ``GCNConv`` that applies ReLU after the conv gets the
    same result, since :math:`\mathrm{ReLU}(f \odot \mathrm{ReLU}(z)) = f
    \odot \mathrm{ReLU}(z)`. The next layer must follow the width: pass this
    layer's :attr:`width` as its ``in_channels`` (an
    :class:`AdaptiveGCNConv` or :class:`awgnn.AdaptiveLinear` does the rest).

    The normalisation depends on the graph only, so ``cached=True`` is safe
    across resizes. Call :func:`awgnn.update_widths` after each optimizer step.

    Args:
        in_channels: input size, ``-1`` (lazy), or the previous layer's
            :class:`AdaptiveWidth` (then :math:`\Theta` starts as Kaiming+).
        out_channels: learned (:class:`AdaptiveWidth`, default
            ``AdaptiveWidth()``: 117 channels at the start) or fixed (``int``;
            no scaling, and with ``act=None`` exactly ``GCNConv``).
        act: activation applied before the importance scaling, or ``None``.
        improved, cached, add_self_loops, normalize, bias: as in
            :class:`~torch_geometric.nn.GCNConv`.
        **kwargs: arguments of :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})`, edge indices
          :math:`(2, |\mathcal{E}|)` or a sparse adjacency, edge weights
          :math:`(|\mathcal{E}|)` *(optional)*
        - **output:** node features :math:`(|\mathcal{V}|, D)`
    """

    _cached_edge_index: OptPairTensor | None
    _cached_adj_t: SparseTensor | None

    def __init__(
        self,
        in_channels: Width,
        out_channels: Width | None = None,
        act: str | None = "relu",
        improved: bool = False,
        cached: bool = False,
        add_self_loops: bool | None = None,
        normalize: bool = True,
        bias: bool = True,
        **kwargs,
    ) -> None:
        # Checked here so that errors name these arguments, not the linear map's.
        check_size("in_channels", in_channels, lazy=True)
        out = AdaptiveWidth() if out_channels is None else out_channels
        check_size("out_channels", out)
        kwargs.setdefault("aggr", "add")
        super().__init__(**kwargs)
        if add_self_loops is None:
            add_self_loops = normalize
        if add_self_loops and not normalize:
            raise ValueError(f"{type(self).__name__} cannot add self-loops without normalize=True")
        self.improved = improved
        self.cached = cached
        self.add_self_loops = add_self_loops
        self.normalize = normalize
        self._cached_edge_index = None
        self._cached_adj_t = None
        self.lin = AdaptiveLinear(in_channels, out, bias=False, nonlinearity=act)
        self.bias = Parameter(torch.empty(self.lin.out_features)) if bias else None
        if isinstance(out, AdaptiveWidth) and bias:
            out.follow(self, "bias", 0, role="producer")
        self.act = make_activation(act) if act is not None else None
        self.width = out if isinstance(out, AdaptiveWidth) else None
        self.fused = is_positively_homogeneous(self.act)
        self.reset_parameters()

    @property
    def in_channels(self) -> int:
        return self.lin.in_features

    @property
    def out_channels(self) -> int:
        return self.lin.out_features

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.width is not None:
            self.width.reset_parameters()
        self.lin.reset_parameters()
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self._cached_edge_index = None
        self._cached_adj_t = None

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: OptTensor = None) -> Tensor:
        if isinstance(x, (tuple, list)):
            raise ValueError(
                f"{type(self).__name__} received a tuple of node features, but GCN "
                "normalisation needs a square adjacency: bipartite input is not supported"
            )
        if self.normalize:
            edge_index, edge_weight = self._normalised(x, edge_index, edge_weight)
        # With a ReLU-type activation the importances scale the weights and the bias
        # before it, the same function without a pass over every node's channels.
        scale = self.width.importances() if self.width is not None and self.fused else None
        x = self.lin(x, scale=scale)
        # propagate_type: (x: Tensor, edge_weight: OptTensor)
        out = self.propagate(edge_index, x=x, edge_weight=edge_weight)
        if self.bias is not None:
            out = out + (self.bias if scale is None else self.bias * scale)
        if self.act is not None:
            out = self.act(out)
        if self.width is not None and not self.fused:
            out = self.width(out)
        return out

    def _normalised(self, x: Tensor, edge_index: Adj, edge_weight: OptTensor) -> tuple[Adj, OptTensor]:
        num_nodes = x.size(self.node_dim)
        if isinstance(edge_index, SparseTensor):
            if self._cached_adj_t is None:
                adj_t = gcn_norm(
                    edge_index, edge_weight, num_nodes, self.improved, self.add_self_loops, self.flow, x.dtype
                )
                if self.cached:
                    self._cached_adj_t = adj_t
                return adj_t, None
            return self._cached_adj_t, None
        if self._cached_edge_index is None:
            normalised = gcn_norm(
                edge_index, edge_weight, num_nodes, self.improved, self.add_self_loops, self.flow, x.dtype
            )
            if self.cached:
                self._cached_edge_index = normalised
            return normalised
        return self._cached_edge_index

    def message(self, x_j: Tensor, edge_weight: OptTensor) -> Tensor:
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j

    def message_and_aggregate(self, adj_t: Adj, x: Tensor) -> Tensor:
        return spmm(adj_t, x, reduce=self.aggr)

    def to_static(self) -> nn.Module:
        """Upstream :class:`~torch_geometric.nn.GCNConv` (followed by ``act`` when set)."""
        conv = GCNConv(
            self.in_channels,
            self.out_channels,
            improved=self.improved,
            cached=self.cached,
            add_self_loops=self.add_self_loops,
            normalize=self.normalize,
            bias=self.bias is not None,
            aggr=self.aggr,
            flow=self.flow,
            node_dim=self.node_dim,
        )
        conv = conv.to(device=self.lin.weight.device, dtype=self.lin.weight.dtype)
        with torch.no_grad():
            conv.lin.weight.copy_(self.lin.weight)
            if self.bias is not None:
                conv.bias.copy_(self.bias)
        return conv if self.act is None else ActivatedGCNConv(conv, self.act)

    def __repr__(self) -> str:
        widths = [self.width] if self.width is not None else []
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}{max_width_repr(widths)})"


class ActivatedGCNConv(nn.Module):
    """The frozen graph convolutional operator of the `"Adaptive Width Neural
    Networks" <https://arxiv.org/abs/2501.15889>`_ paper and the
    `"Semi-supervised Classification with Graph Convolutional Networks"
    <https://arxiv.org/abs/1609.02907>`_ paper, followed by an activation.

    A static :class:`~torch_geometric.nn.GCNConv` and the activation: the
    frozen form of an :class:`AdaptiveGCNConv` with ``act`` set; it scripts,
    compiles and exports like the upstream layer it wraps.
    """

    def __init__(self, conv: GCNConv, act: nn.Module) -> None:
        super().__init__()
        self.conv = conv
        self.act = act

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: OptTensor = None) -> Tensor:
        return self.act(self.conv(x, edge_index, edge_weight))
