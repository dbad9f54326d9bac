"""Graph classifiers that read out every block and sum the logits."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch_geometric.nn import global_add_pool, global_mean_pool
from torch_geometric.typing import Adj

from awgnn.width.validation import check_choice

POOLINGS = {"mean": global_mean_pool, "sum": global_add_pool}


class BlockReadoutClassifier(nn.Module, ABC):
    r"""Graph classifier with one readout per block, logits summed.

    .. math::
        h^{(0)} = \mathrm{input}(x), \quad
        h^{(l)} = \mathrm{block}_l(h^{(l-1)}, A), \qquad
        \hat y = \sum_{l} \mathrm{head}_l\big(\mathrm{pool}(h^{(l)})\big)

    The readout of the paper's GIN and of the fair-comparison GIN. Subclasses
    build the blocks; this class runs them and reports their widths.

    Args:
        input_block: node-wise module applied to ``x`` before any message
            passing (its output is read out too), or ``None``.
        blocks: message-passing blocks called as ``block(h, edge_index)``.
        heads: one linear head per read-out state (input block first).
        pooling: ``"mean"`` or ``"sum"``.
        dropout: dropout on each head's output during training.

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})`, edge indices
          :math:`(2, |\mathcal{E}|)`, batch vector :math:`(|\mathcal{V}|)`
        - **output:** logits :math:`(B, C)`
    """

    def __init__(
        self,
        input_block: nn.Module | None,
        blocks: Sequence[nn.Module],
        heads: Sequence[nn.Module],
        pooling: str = "mean",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_choice("pooling", pooling, tuple(POOLINGS))
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if len(heads) != len(blocks) + (input_block is not None):
            raise ValueError("need one head per block, plus one for the input block")
        self.input_block = input_block
        self.blocks = nn.ModuleList(blocks)
        self.heads = nn.ModuleList(heads)
        self.pooling = pooling
        self.dropout = dropout

    def forward(self, x: Tensor, edge_index: Adj, batch: Tensor | None = None,
                num_graphs: int | None = None) -> Tensor:
        """Logits per graph; pass ``num_graphs`` to avoid a device synchronisation."""
        if batch is None:
            batch = x.new_zeros(x.size(0), dtype=torch.long)
            num_graphs = 1
        states = self.node_states(x, edge_index)
        logits = self.read_out(0, states[0], batch, num_graphs)
        for index, h in enumerate(states[1:], start=1):
            logits = logits + self.read_out(index, h, batch, num_graphs)
        return logits

    def node_states(self, x: Tensor, edge_index: Adj) -> list[Tensor]:
        """The node states that are read out: input block first, then every block."""
        states = []
        h = x
        if self.input_block is not None:
            h = self.input_block(h)
            states.append(h)
        for block in self.blocks:
            h = block(h, edge_index)
            states.append(h)
        return states

    def read_out(self, index: int, h: Tensor, batch: Tensor, num_graphs: int | None) -> Tensor:
        pooled = POOLINGS[self.pooling](h, batch, num_graphs)
        return nn.functional.dropout(self.heads[index](pooled), self.dropout, self.training)

    @abstractmethod
    def layer_widths(self) -> dict[str, int]:
        """Current hidden width of every layer, learned or fixed, keyed ``block<l>``."""

    def total_width(self) -> int:
        """Sum of :meth:`layer_widths` (the AWN "total width")."""
        return sum(self.layer_widths().values())

    def num_parameters(self) -> int:
        """Number of scalar parameters at the current widths."""
        return sum(p.numel() for p in self.parameters())


class StaticClassifier(BlockReadoutClassifier):
    """A frozen adaptive classifier: static layers, widths recorded when it was frozen."""

    def __init__(self, model: BlockReadoutClassifier) -> None:
        super().__init__(model.input_block, list(model.blocks), list(model.heads), model.pooling,
                         model.dropout)
        self._layer_widths = model.layer_widths()

    def layer_widths(self) -> dict[str, int]:
        return dict(self._layer_widths)
