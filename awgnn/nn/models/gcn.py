"""PyG's GCN model with learned hidden widths."""

from __future__ import annotations

from typing import Any

from torch import nn
from torch_geometric.nn import GCNConv
from torch_geometric.nn.models import GCN

from awgnn.nn.models.basic_gnn import AdaptiveBasicGNN, PyGFrozenForm
from awgnn.width import AdaptiveWidth
from awgnn.width.linear import Size


class AdaptiveGCN(PyGFrozenForm, AdaptiveBasicGNN):
    r"""The adaptive-width Graph Neural Network from the `"Adaptive Width Neural
    Networks" <https://arxiv.org/abs/2501.15889>`_ paper and the
    `"Semi-supervised Classification with Graph Convolutional Networks"
    <https://arxiv.org/abs/1609.02907>`_ paper: PyG's
    :class:`~torch_geometric.nn.models.GCN` with learned widths.

    Layer :math:`l` computes, with :math:`\hat A = \mathbf{\hat D}^{-1/2}
    (\mathbf{A} + \mathbf{I}) \mathbf{\hat D}^{-1/2}`,

    .. math::
        \mathbf{H}^{(l)} = \mathrm{dropout}\Big(f_l \odot \mathrm{act}\big(
        \mathrm{norm}(\hat A \mathbf{H}^{(l-1)} \Theta_l + \mathbf{b}_l)\big)\Big)

    with :math:`D_l` learned output channels and their importances
    :math:`f_l`; the last layer is :math:`\hat A \mathbf{H}^{(L-1)} \Theta_L +
    \mathbf{b}_L` with ``out_channels`` columns (or a JumpingKnowledge
    readout). Each layer is an upstream :class:`~torch_geometric.nn.GCNConv`
    whose linear map is an :class:`awgnn.AdaptiveLinear` when one of its sizes
    is learned (rows follow :math:`D_l`, columns :math:`D_{l-1}`; PyG's Glorot
    initialisation over the effective fan-in, see :class:`awgnn.AdaptiveLinear`);
    with an integer ``hidden_channels`` it is PyG's model exactly. Constructor,
    ``forward``, learned widths and ``jk``/``norm`` rules: :class:`AdaptiveBasicGNN`; ``**kwargs`` go to ``GCNConv``
    (``improved``, ``cached``, ``add_self_loops``, ``normalize``, ``bias``).

    ``GCNConv.in_channels``/``out_channels`` keep the construction sizes (PyG
    reads them only in the layer's ``repr``); :meth:`layer_widths` and this
    model's ``repr`` give the current ones.

    Example::

        model = AdaptiveGCN(dataset.num_features, None, num_layers=2,
                            out_channels=dataset.num_classes, dropout=0.5)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        awgnn.auto_update_widths(model, optimizer)

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})`, edge
          indices :math:`(2, |\mathcal{E}|)` or a sparse adjacency, edge
          weights :math:`(|\mathcal{E}|)` *(optional)*
        - **output:** node features :math:`(|\mathcal{V}|, F_{out})`
    """

    supports_edge_weight = True
    pyg_model = GCN
    weight_init = "glorot"  # PyG's GCNConv initialises its linear map by Glorot

    def init_conv(self, in_size: Size, out_size: Size, **kwargs: Any) -> GCNConv:
        conv = GCNConv(_current(in_size), _current(out_size), **kwargs)
        if isinstance(in_size, AdaptiveWidth) or isinstance(out_size, AdaptiveWidth):
            conv.lin = self.linear(in_size, out_size, bias=False)
            if isinstance(out_size, AdaptiveWidth) and conv.bias is not None:
                out_size.follow(conv, "bias", 0, role="producer")
            conv.reset_parameters()
        return conv

    def conv_output(self, conv: nn.Module) -> nn.Module:
        return conv.lin

    def conv_input(self, conv: nn.Module) -> nn.Module:
        return conv.lin

    def static_conv(self, conv: nn.Module, act: nn.Module | None) -> GCNConv:
        out_channels, in_channels = conv.lin.weight.shape
        return GCNConv(in_channels, out_channels, **self._conv_kwargs)


def _current(size: Size) -> int:
    return size.width if isinstance(size, AdaptiveWidth) else size
