"""The GIN of the fair-comparison protocol (Errica et al., ICLR 2020), fixed and adaptive."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn
from torch_geometric.nn import GINConv

from awgnn.models.base import BlockReadoutClassifier
from awgnn.models.gin import AdaptiveGINWidths, adaptive_gin_parts, per_layer
from awgnn.width import AtomicLoad
from awgnn.width.adaptive_width import DEFAULT_MAX_WIDTH
from awgnn.width.importances import share_importances
from awgnn.width.validation import check_int_at_least


class FairGIN(BlockReadoutClassifier):
    r"""The GIN of the `"A Fair Comparison of Graph Neural Networks for Graph
    Classification" <https://arxiv.org/abs/1912.09893>`_ paper, as run in its
    benchmark (the protocol's fixed-width grid).

    * layer 0, node-wise: ``Linear, BN, ReLU, Linear, BN, ReLU`` to ``hidden_units[0]``;
    * one :class:`~torch_geometric.nn.GINConv` per entry :math:`h` of
      ``hidden_units``, wrapping ``Linear, BN, ReLU, Linear, BN, ReLU`` to :math:`h`;
    * a linear head per layer on the pooled node states, logits summed; dropout on
      each head's output. Layer 0 applies its head before pooling, as the
      reference code does (the same for mean pooling, not for sum: with sum
      pooling its bias counts once per node).

    Args:
        in_channels: node feature size.
        num_classes: number of graph classes.
        hidden_units: width of each GIN layer, e.g. ``[64, 64, 64, 64]``.
        train_eps: trainable :math:`\epsilon`.
        pooling: ``"mean"`` or ``"sum"``.
        dropout: dropout on the heads' outputs.
        gc_eval_dropout: keep dropout active on layer 0's head at evaluation,
            as the reference code does by accident (off by default).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        hidden_units: Sequence[int] = (64, 64, 64, 64),
        *,
        train_eps: bool = False,
        pooling: str = "mean",
        dropout: float = 0.0,
        gc_eval_dropout: bool = False,
    ) -> None:
        units = per_layer("hidden_units", hidden_units, len(hidden_units)) if hidden_units else []
        if not units:
            raise ValueError("hidden_units must hold at least one width")
        check_int_at_least("in_channels", in_channels, 1)
        check_int_at_least("num_classes", num_classes, 1)
        widths = [units[0], *units]
        input_block = batch_norm_mlp(in_channels, units[0])
        blocks = [GINConv(batch_norm_mlp(a, b), train_eps=train_eps) for a, b in zip(widths, units)]
        heads = [nn.Linear(width, num_classes) for width in widths]
        super().__init__(input_block, blocks, heads, pooling, dropout)
        self.hidden_units = widths
        self.head_before_pooling[0] = True
        self.eval_dropout[0] = gc_eval_dropout

    def layer_widths(self) -> dict[str, int]:
        return {f"block{index}": width for index, width in enumerate(self.hidden_units)}


class AdaptiveFairGIN(AdaptiveGINWidths, AtomicLoad, BlockReadoutClassifier):
    r"""The GIN of the `"A Fair Comparison of Graph Neural Networks for Graph
    Classification" <https://arxiv.org/abs/1912.09893>`_ paper with the learned
    widths of the `"Adaptive Width Neural Networks"
    <https://arxiv.org/abs/2501.15889>`_ paper: :class:`FairGIN`'s architecture
    with learned widths.

    ``num_layers`` blocks, each with its own learned hidden width :math:`D_l`:

    * block 0, node-wise: :math:`x \mapsto \mathrm{ReLU}(\mathrm{BN}(W_2 (f_0 \odot
      \mathrm{ReLU}(\mathrm{BN}(W_1 x + b_1))) + b_2))` (``in_channels``
      :math:`\to D_0 \to` ``embedding_channels``);
    * blocks :math:`l \ge 1`: :class:`~awgnn.nn.AdaptiveGINConv` whose MLP is
      ``Linear, BN, ReLU, importances, Linear, BN, ReLU`` (embedding
      :math:`\to D_l \to` embedding);
    * a linear head per block, logits summed, dropout on each head's output;
      block 0's head is applied before pooling, as in :class:`FairGIN`.

    Where :class:`FairGIN` uses one width per layer for the MLP's hidden and
    output sizes, here the hidden size is learned and the output (embedding)
    size is ``embedding_channels``, or learned as well with ``None``. At
    fixed widths with unit importances the model computes what
    :class:`FairGIN` computes.

    Args:
        in_channels: node feature size.
        num_classes: number of graph classes.
        num_layers: number of blocks :math:`L` (block 0 plus :math:`L-1` GIN layers).
        embedding_channels: fixed embedding size, or ``None`` to learn it.
        lambda0, initial_width, k, max_width: settings of every :class:`AdaptiveWidth`
            (as in :class:`~awgnn.models.AdaptiveGINClassifier`).
        train_eps: trainable :math:`\epsilon`.
        pooling: ``"mean"`` or ``"sum"``.
        dropout: dropout on the heads' outputs.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        num_layers: int = 5,
        embedding_channels: int | None = 64,
        *,
        lambda0: float | None = None,
        initial_width: int | None = None,
        k: float = 0.9,
        max_width: int = DEFAULT_MAX_WIDTH,
        train_eps: bool = False,
        pooling: str = "mean",
        dropout: float = 0.0,
    ) -> None:
        width_settings = {"lambda0": lambda0, "initial_width": initial_width, "k": k, "max_width": max_width}
        input_block, blocks, heads = adaptive_gin_parts(
            in_channels,
            num_classes,
            num_layers,
            embedding_channels,
            width_settings,
            train_eps=train_eps,
            mlp={"activation": "relu", "hidden_norm": "batch_norm"},
            input_tail={"output_norm": "batch_norm", "output_activation": "relu"},
        )
        super().__init__(input_block, blocks, heads, pooling, dropout)
        self.head_before_pooling[0] = True
        share_importances(self)


def batch_norm_mlp(in_channels: int, out_channels: int) -> nn.Sequential:
    """``Linear, BN, ReLU, Linear, BN, ReLU``."""
    return nn.Sequential(
        nn.Linear(in_channels, out_channels),
        nn.BatchNorm1d(out_channels),
        nn.ReLU(),
        nn.Linear(out_channels, out_channels),
        nn.BatchNorm1d(out_channels),
        nn.ReLU(),
    )
