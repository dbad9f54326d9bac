"""GCN graph classifiers, with learned and with fixed channels."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn
from torch_geometric.nn import GCNConv

from awgnn.models.base import BlockReadoutClassifier, StaticClassifier
from awgnn.models.gin import per_layer
from awgnn.nn import ActivatedGCNConv, AdaptiveGCNConv
from awgnn.width import AdaptiveLinear, AdaptiveWidth, AtomicLoad
from awgnn.width.activations import make_activation
from awgnn.width.adaptive_width import DEFAULT_MAX_WIDTH
from awgnn.width.importances import share_importances
from awgnn.width.linear import Size
from awgnn.width.validation import check_int_at_least


class AdaptiveGCNClassifier(AtomicLoad, BlockReadoutClassifier):
    r"""An adaptive-width GCN graph classifier from the `"Adaptive Width Neural
    Networks" <https://arxiv.org/abs/2501.15889>`_ paper and the
    `"Semi-supervised Classification with Graph Convolutional Networks"
    <https://arxiv.org/abs/1609.02907>`_ paper: a stack of
    :class:`~awgnn.nn.AdaptiveGCNConv` layers with learned channels.

    .. math::
        h^{(l)} = f_l \odot \mathrm{ReLU}\big(\hat A h^{(l-1)} \Theta_l + b_l\big),
        \qquad \hat y = \sum_{l=1}^{L} \mathrm{head}_l\big(\mathrm{pool}(h^{(l)})\big)

    Every layer learns its number of output channels :math:`D_l`; the next
    layer's input and the layer's readout head follow it.

    Args:
        in_channels: node feature size.
        num_classes: number of graph classes.
        num_layers: number of GCN layers.
        lambda0, initial_width, k, max_width: settings of every :class:`AdaptiveWidth`
            (the start is ``lambda0``, default 0.02, i.e. 117 neurons, or ``initial_width``).
        activation: activation inside each layer, before the importance scaling.
        pooling: ``"mean"`` or ``"sum"``.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        num_layers: int = 3,
        *,
        lambda0: float | None = None,
        initial_width: int | None = None,
        k: float = 0.9,
        max_width: int = DEFAULT_MAX_WIDTH,
        activation: str = "relu",
        pooling: str = "mean",
    ) -> None:
        check_int_at_least("num_layers", num_layers, 1)
        check_int_at_least("num_classes", num_classes, 1)
        blocks, heads = [], []
        previous: Size = in_channels
        for _ in range(num_layers):
            width = AdaptiveWidth(lambda0, initial_width=initial_width, k=k, max_width=max_width)
            blocks.append(AdaptiveGCNConv(previous, width, act=activation))
            heads.append(AdaptiveLinear(width, num_classes))
            previous = width
        super().__init__(None, blocks, heads, pooling)
        share_importances(self)

    def layer_widths(self) -> dict[str, int]:
        return {f"block{index}": conv.out_channels for index, conv in enumerate(self.blocks)}

    def to_static(self) -> StaticClassifier:
        """The frozen form (see :func:`awgnn.freeze`)."""
        return StaticClassifier(self)


class GCNClassifier(BlockReadoutClassifier):
    r"""The GCN graph classifier of the `"Semi-supervised Classification with
    Graph Convolutional Networks" <https://arxiv.org/abs/1609.02907>`_ paper at
    fixed widths: the counterpart of :class:`AdaptiveGCNClassifier`, from
    upstream PyG layers.

    Args:
        in_channels: node feature size.
        num_classes: number of graph classes.
        num_layers: number of GCN layers.
        hidden_channels: output channels of every layer, or one per layer.
        activation, pooling: as in :class:`AdaptiveGCNClassifier`.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        num_layers: int = 3,
        hidden_channels: int | Sequence[int] = 64,
        *,
        activation: str = "relu",
        pooling: str = "mean",
    ) -> None:
        hidden = per_layer("hidden_channels", hidden_channels, num_layers)
        if in_channels != -1:  # GCNConv infers -1 at the first forward
            check_int_at_least("in_channels", in_channels, 1)
        check_int_at_least("num_classes", num_classes, 1)
        sizes = [in_channels, *hidden]
        blocks = [ActivatedGCNConv(GCNConv(a, b), make_activation(activation)) for a, b in zip(sizes, hidden)]
        heads = [nn.Linear(width, num_classes) for width in hidden]
        super().__init__(None, blocks, heads, pooling)
        self.hidden_channels = hidden

    def layer_widths(self) -> dict[str, int]:
        return {f"block{index}": width for index, width in enumerate(self.hidden_channels)}
