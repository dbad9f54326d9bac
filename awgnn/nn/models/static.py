"""The frozen form of an adaptive ``BasicGNN`` whose learned widths differ from layer to layer."""

# No ``from __future__ import annotations``: TorchScript must read the ``Final`` and forward annotations as
# objects, not strings.

import inspect
from collections.abc import Sequence
from typing import Final

import torch
from torch import Tensor, nn
from torch_geometric.nn import JumpingKnowledge, MessagePassing
from torch_geometric.typing import Adj, OptTensor
from torch_geometric.utils import trim_to_layer

from awgnn.width.validation import check_choice

JK_MODES: tuple[str | None, ...] = (None, "last", "cat", "max", "lstm")


class StaticBasicGNN(nn.Module):
    r"""The frozen form of the adaptive-width models of the `"Adaptive Width Neural Networks"
    <https://arxiv.org/abs/2501.15889>`_ paper, with one width per layer.

    PyG's :class:`~torch_geometric.nn.models.basic_gnn.BasicGNN` computation
    from upstream layers, where each layer may have its own width:

    .. math::
        \mathbf{h}^{(l)} = \mathrm{dropout}\Big(\mathrm{act}\big(
        \mathrm{norm}_l(\mathrm{conv}_l(\mathbf{h}^{(l-1)}, A))\big)\Big)

    (``act_first=True`` swaps norm and activation), except after the last
    convolution when there is no jumping knowledge. With ``jk`` set, the
    readout is ``lin(jk(xs))`` over every layer's output (``"cat"``,
    ``"max"``, ``"lstm"``) or ``lin`` of the last one (``"last"``).
    :func:`awgnn.freeze` returns one for a
    :class:`~awgnn.nn.models.AdaptiveGIN` or
    :class:`~awgnn.nn.models.AdaptiveGCN` whose learned widths PyG's
    :class:`~torch_geometric.nn.models.GIN` / :class:`~torch_geometric.nn.models.GCN`
    cannot express; its ``state_dict`` keys are those of PyG's model, and it
    scripts, compiles and exports to ONNX like it.

    Args:
        convs: one upstream convolution per layer, called as
            ``conv(x, edge_index)`` (``conv(x, edge_index, edge_weight=...)``
            with ``supports_edge_weight``).
        norms: one normalisation per convolution (``nn.Identity()`` for none,
            and for the last convolution when ``jk`` is ``None``).
        lin: the readout, ``None`` exactly when ``jk`` is ``None``.
        jk: the jumping-knowledge mode: ``None``, ``"last"``, ``"cat"``,
            ``"max"`` or ``"lstm"``.
        jk_module: the :class:`~torch_geometric.nn.JumpingKnowledge` that
            combines the layers, given exactly when ``jk`` is ``"cat"``,
            ``"max"`` or ``"lstm"``.
        act: the activation module, or ``None``.
        act_first: apply the activation before the normalisation.
        dropout: dropout probability after each hidden layer.
        supports_edge_weight: pass ``edge_weight`` to the convolutions.

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})`, edge
          indices :math:`(2, |\mathcal{E}|)` or a sparse adjacency, edge
          weights :math:`(|\mathcal{E}|)` *(optional)*
        - **output:** node features :math:`(|\mathcal{V}|, F_{out})`
    """

    supports_edge_weight: Final[bool]
    supports_norm_batch: Final[bool]

    def __init__(
        self,
        convs: Sequence[MessagePassing],
        norms: Sequence[nn.Module],
        lin: nn.Module | None,
        *,
        jk: str | None = None,
        jk_module: JumpingKnowledge | None = None,
        act: nn.Module | None = None,
        act_first: bool = False,
        dropout: float = 0.0,
        supports_edge_weight: bool = False,
    ) -> None:
        super().__init__()
        check_choice("jk", jk, JK_MODES)
        if not convs or len(norms) != len(convs):
            raise ValueError(
                f"need at least one convolution and one norm per convolution, got {len(convs)} convolutions "
                f"and {len(norms)} norms"
            )
        if (lin is None) != (jk is None):
            raise ValueError(f"lin must be given exactly when jk is set, got jk={jk!r} and lin={lin!r}")
        if (jk_module is None) != (jk in (None, "last")):
            raise ValueError(
                f"jk_module must be given exactly when jk is 'cat', 'max' or 'lstm', got jk={jk!r} and "
                f"jk_module={jk_module!r}"
            )
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
        self.num_layers = len(convs)
        self.jk_mode = jk
        self.act = act
        self.act_first = act_first
        self.dropout = nn.Dropout(p=dropout)
        self.convs = nn.ModuleList(convs)
        self.norms = nn.ModuleList(norms)
        self.supports_edge_weight = supports_edge_weight
        # Read by TorchScript as a constant: the norms that take no batch are never called with one.
        self.supports_norm_batch = "batch" in inspect.signature(self.norms[0].forward).parameters
        if jk_module is not None:
            self.jk = jk_module
        if lin is not None:
            self.lin = lin

    def forward(
        self,
        x: Tensor,
        edge_index: Adj,
        edge_weight: OptTensor = None,
        edge_attr: OptTensor = None,
        batch: OptTensor = None,
        batch_size: int | None = None,
        num_sampled_nodes_per_hop: list[int] | None = None,
        num_sampled_edges_per_hop: list[int] | None = None,
    ) -> Tensor:
        """As the adaptive model's ``forward``; ``edge_attr`` is accepted and unused, as in PyG's GCN and GIN."""
        xs: list[Tensor] = []
        for index, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            if not torch.jit.is_scripting() and num_sampled_nodes_per_hop is not None:
                x, edge_index, edge_weight = trim_to_layer(
                    index, num_sampled_nodes_per_hop, num_sampled_edges_per_hop, x, edge_index, edge_weight
                )
            if self.supports_edge_weight:
                x = conv(x, edge_index, edge_weight=edge_weight)
            else:
                x = conv(x, edge_index)
            if index < self.num_layers - 1 or self.jk_mode is not None:
                if self.act is not None and self.act_first:
                    x = self.act(x)
                if self.supports_norm_batch:
                    x = norm(x, batch, batch_size)
                else:
                    x = norm(x)
                if self.act is not None and not self.act_first:
                    x = self.act(x)
                x = self.dropout(x)
                xs.append(x)
        if hasattr(self, "jk"):
            x = self.jk(xs)
        if hasattr(self, "lin"):
            x = self.lin(x)
        return x
