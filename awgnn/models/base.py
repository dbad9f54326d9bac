"""Graph classifiers that read out every block and sum the logits."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool

from awgnn.width.validation import check_choice

# Every graph pooling by name (the harness pools node-level models with any of them).
POOLING_FUNCTIONS = {"sum": global_add_pool, "mean": global_mean_pool, "max": global_max_pool}
# The readouts of the block-readout classifiers.
POOLINGS = ("mean", "sum")


def graph_batch(x: Tensor, batch: Tensor | None, num_graphs: int | None) -> tuple[Tensor, int | None]:
    """``batch`` and ``num_graphs``, or, without a ``batch``, every node in one graph."""
    if batch is None:
        return torch.zeros(x.size(0), dtype=torch.long, device=x.device), 1
    return batch, num_graphs


class BlockReadoutClassifier(nn.Module, ABC):
    r"""An abstract class for the graph classifiers of the `"Adaptive Width
    Neural Networks" <https://arxiv.org/abs/2501.15889>`_ paper and the `"A Fair
    Comparison of Graph Neural Networks for Graph Classification"
    <https://arxiv.org/abs/1912.09893>`_ paper: one readout per block, logits
    summed.

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
        check_choice("pooling", pooling, POOLINGS)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if len(heads) != len(blocks) + (input_block is not None):
            raise ValueError("need one head per block, plus one for the input block")
        self.input_block = input_block
        self.blocks = nn.ModuleList(blocks)
        self.heads = nn.ModuleList(heads)
        self.pooling = pooling
        self.dropout = dropout
        # Per head: pool its output instead of its input; keep dropout on at evaluation.
        self.head_before_pooling = [False] * len(heads)
        self.eval_dropout = [False] * len(heads)

    def forward(
        self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None, num_graphs: int | None = None
    ) -> Tensor:
        """Logits per graph; pass ``num_graphs`` to avoid a device synchronisation."""
        batch, num_graphs = graph_batch(x, batch, num_graphs)
        states = self.node_states(x, edge_index)
        logits = torch.zeros(0, device=x.device)
        for index, head in enumerate(self.heads):
            if self.head_before_pooling[index]:
                out = self.pool(head(states[index]), batch, num_graphs)
            else:
                out = head(self.pool(states[index], batch, num_graphs))
            out = F.dropout(out, self.dropout, self.training or self.eval_dropout[index])
            logits = out if index == 0 else logits + out
        return logits

    def node_states(self, x: Tensor, edge_index: Tensor) -> list[Tensor]:
        """The node states that are read out: input block first, then every block."""
        states: list[Tensor] = []
        h = x
        if self.input_block is not None:
            h = self.input_block(h)
            states.append(h)
        for block in self.blocks:
            h = block(h, edge_index)
            states.append(h)
        return states

    def pool(self, h: Tensor, batch: Tensor, num_graphs: int | None) -> Tensor:
        # Explicit branches, not a lookup in POOLING_FUNCTIONS: TorchScript compiles this (frozen classifiers).
        if self.pooling == "sum":
            return global_add_pool(h, batch, num_graphs)
        return global_mean_pool(h, batch, num_graphs)

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
    """The frozen form of the adaptive graph classifiers of the `"Adaptive Width
    Neural Networks" <https://arxiv.org/abs/2501.15889>`_ paper: static layers,
    widths recorded when it was frozen.

    It scripts, compiles and exports to ONNX like the upstream layers it holds.
    """

    __jit_ignored_attributes__ = ["recorded_widths"]

    def __init__(self, model: BlockReadoutClassifier) -> None:
        super().__init__(model.input_block, list(model.blocks), list(model.heads), model.pooling, model.dropout)
        self.head_before_pooling = list(model.head_before_pooling)
        self.eval_dropout = list(model.eval_dropout)
        self.recorded_widths = model.layer_widths()

    @torch.jit.unused
    def layer_widths(self) -> dict[str, int]:
        return dict(self.recorded_widths)
