"""PyG's GIN model with learned hidden widths."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn
from torch_geometric.nn import GINConv
from torch_geometric.nn.models import GIN, MLP

from awgnn.nn.models.basic_gnn import AdaptiveBasicGNN, PyGFrozenForm
from awgnn.width import AdaptiveLinear, AdaptiveWidth
from awgnn.width.linear import Size


class AdaptiveGINMLP(nn.Module):
    r"""The two-layer MLP of the adaptive-width GIN from the `"Adaptive Width
    Neural Networks" <https://arxiv.org/abs/2501.15889>`_ paper and the `"How
    Powerful are Graph Neural Networks?" <https://arxiv.org/abs/1810.00826>`_
    paper, with learned or fixed sizes.

    .. math::
        \mathbf{x} \mapsto W_2 \Big(f \odot \mathrm{act}\big(\mathrm{norm}(W_1
        \mathbf{x} + \mathbf{b}_1)\big)\Big) + \mathbf{b}_2

    PyG's ``MLP([in, hidden, out], act, act_first, norm)`` with ``plain_last``
    and the importances :math:`f` of a learned hidden width (no scaling when
    ``hidden`` is an ``int``). Attribute names match PyG's ``MLP``
    (``lins``, ``norms``), so with fixed sizes its ``state_dict`` loads into
    PyG's and back.

    Args:
        first: :math:`W_1`, ``in -> hidden``.
        norm: the hidden normalisation (``nn.Identity()`` for none), already
            following ``hidden`` when that is learned.
        act: hidden activation module, or ``None``.
        act_first: activation before the normalisation.
        hidden: the learned hidden :class:`AdaptiveWidth`, or its fixed size.
        second: :math:`W_2`, ``hidden -> out``.

    Shapes:
        - **input:** :math:`(N, F_{in})`
        - **output:** :math:`(N, F_{out})`
    """

    def __init__(
        self,
        first: AdaptiveLinear,
        norm: nn.Module,
        act: nn.Module | None,
        act_first: bool,
        hidden: Size,
        second: AdaptiveLinear,
    ) -> None:
        super().__init__()
        self.lins = nn.ModuleList([first, second])
        self.norms = nn.ModuleList([norm])
        self.act = act
        self.act_first = act_first
        self.width = hidden if isinstance(hidden, AdaptiveWidth) else nn.Identity()

    @property
    def hidden_channels(self) -> int:
        return self.lins[0].out_features

    def reset_parameters(self) -> None:
        if isinstance(self.width, AdaptiveWidth):
            self.width.reset_parameters()
        for module in (*self.lins, *self.norms):
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        x = self.lins[0](x)
        if self.act is not None and self.act_first:
            x = self.act(x)
        x = self.norms[0](x)
        if self.act is not None and not self.act_first:
            x = self.act(x)
        return self.lins[1](self.width(x))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.lins[0].in_features}, {self.hidden_channels}, {self.lins[1].out_features})"


class AdaptiveGIN(PyGFrozenForm, AdaptiveBasicGNN):
    r"""The adaptive-width Graph Neural Network from the `"Adaptive Width Neural
    Networks" <https://arxiv.org/abs/2501.15889>`_ paper and the `"How Powerful
    are Graph Neural Networks?" <https://arxiv.org/abs/1810.00826>`_ paper:
    PyG's :class:`~torch_geometric.nn.models.GIN` with learned widths.

    Layer :math:`l` is an upstream :class:`~torch_geometric.nn.GINConv`
    around an :class:`AdaptiveGINMLP`,

    .. math::
        \mathbf{x}^{(l)}_i = \mathrm{MLP}_l\Big((1 + \epsilon)\,\mathbf{x}^{(l-1)}_i
        + \sum_{j \in \mathcal{N}(i)} \mathbf{x}^{(l-1)}_j\Big), \qquad
        \mathrm{MLP}_l(\mathbf{m}) = W_{l,2}\big(g_l \odot \mathrm{act}(
        \mathrm{norm}(W_{l,1}\mathbf{m} + \mathbf{b}_{l,1}))\big) + \mathbf{b}_{l,2}

    followed (except after the last layer) by
    :math:`\mathbf{h}^{(l)} = \mathrm{dropout}(f_l \odot \mathrm{act}(\mathrm{norm}(\mathbf{x}^{(l)})))`.
    With ``hidden_channels=None`` both the MLP's hidden width (importances
    :math:`g_l`, in every layer, the last included) and the embedding width
    :math:`D_l` (importances :math:`f_l`) are learned; with an integer both are
    ``hidden_channels`` (the last MLP's hidden size is ``out_channels``, as in
    PyG) and the model is PyG's exactly. Constructor, ``forward``, learned
    widths and ``jk``/``norm`` rules: :class:`AdaptiveBasicGNN`;
    ``**kwargs`` go to ``GINConv`` (``eps``, ``train_eps``).

    For graph-level tasks, pool the node outputs with the PyG readout of your
    choice, e.g. ``global_add_pool(model(x, edge_index), batch)``; with
    ``jk="cat"`` and ``out_channels`` the number of classes this is the GIN
    graph classifier (a linear readout of every layer, summed over nodes).

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})`, edge
          indices :math:`(2, |\mathcal{E}|)` or a sparse adjacency
        - **output:** node features :math:`(|\mathcal{V}|, F_{out})`
    """

    pyg_model = GIN

    def init_conv(self, in_size: Size, out_size: Size, **kwargs: Any) -> GINConv:
        # PyG's GIN: MLP([in, out, out]); the MLP's hidden width is learned on its own.
        hidden = self.new_width() if self.hidden_channels is None else out_size
        norm = self.make_norm(hidden) if self.norm is not None else nn.Identity()
        mlp = AdaptiveGINMLP(
            self.linear(in_size, hidden), norm, self.act, self.act_first, hidden, self.linear(hidden, out_size)
        )
        return GINConv(mlp, **kwargs)

    def conv_output(self, conv: nn.Module) -> nn.Module:
        return conv.nn.lins[1]

    def conv_input(self, conv: nn.Module) -> nn.Module:
        return conv.nn.lins[0]

    def static_conv(self, conv: nn.Module, act: nn.Module | None) -> GINConv:
        first, second = conv.nn.lins
        mlp = MLP(
            [first.weight.shape[1], first.out_features, second.out_features],
            act=act,
            act_first=self.act_first,
            norm=self.norm,
            norm_kwargs=self.norm_kwargs,
        )
        return GINConv(mlp, **self._conv_kwargs)

    def fits_pyg_model(self) -> bool:
        """Also every MLP's hidden width equals its layer's output width, as in PyG's ``MLP([in, out, out])``."""
        return super().fits_pyg_model() and all(
            conv.nn.hidden_channels == conv.nn.lins[1].out_features for conv in self.convs
        )

    def layer_widths(self) -> dict[str, int]:
        """Width of every hidden layer: ``layer<l>`` (embedding) and ``layer<l>.mlp`` (MLP hidden)."""
        widths = super().layer_widths()
        for index, conv in enumerate(self.convs):
            widths[f"layer{index}.mlp"] = conv.nn.hidden_channels
        return dict(sorted(widths.items(), key=lambda item: (int(item[0][5:].split(".")[0]), item[0])))
