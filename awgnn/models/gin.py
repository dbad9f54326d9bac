"""The AWN paper's GIN graph classifier, adaptive and with fixed widths."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn
from torch_geometric.nn import GINConv

from awgnn.models.base import BlockReadoutClassifier, StaticClassifier
from awgnn.nn import AdaptiveGINConv
from awgnn.width import AdaptiveLinear, AdaptiveMLP, AdaptiveWidth, AtomicLoad
from awgnn.width.activations import make_activation
from awgnn.width.adaptive_width import DEFAULT_MAX_WIDTH
from awgnn.width.importances import share_importances
from awgnn.width.linear import Size, check_size
from awgnn.width.validation import check_int_at_least


class AdaptiveGINWidths:
    """Widths and frozen form of a classifier of an :class:`~awgnn.AdaptiveMLP` input block and
    :class:`~awgnn.nn.AdaptiveGINConv` blocks."""

    input_block: AdaptiveMLP
    blocks: nn.ModuleList

    def layer_widths(self) -> dict[str, int]:
        widths = {"block0": self.input_block.linears[0].out_features}
        widths.update({f"block{index}": conv.hidden_channels for index, conv in enumerate(self.blocks, start=1)})
        if self.input_block.output_width is not None:
            widths["block0.embedding"] = self.input_block.output_width.width
            widths.update(
                {f"block{index}.embedding": conv.out_channels for index, conv in enumerate(self.blocks, start=1)}
            )
        return widths

    def to_static(self) -> StaticClassifier:
        """The frozen form (see :func:`awgnn.freeze`)."""
        return StaticClassifier(self)


class AdaptiveGINClassifier(AdaptiveGINWidths, AtomicLoad, BlockReadoutClassifier):
    r"""The graph classifier of the `"Adaptive Width Neural Networks"
    <https://arxiv.org/abs/2501.15889>`_ paper (Errica et al. 2025).

    ``num_layers`` blocks, each with its own learned width :math:`D_l`:

    * block 0, node-wise: :math:`x \mapsto W_2 (f_0 \odot \sigma(W_1 x + b_1)) + b_2`
      (``in_channels`` :math:`\to D_0 \to` ``embedding_channels``);
    * blocks :math:`l \ge 1`: :class:`~awgnn.nn.AdaptiveGINConv` with trainable
      :math:`\epsilon` and an MLP ``embedding`` :math:`\to D_l \to` ``embedding``,
      followed by ReLU(BatchNorm);
    * readout: mean pooling of every block's node states, one linear head per
      block, logits summed.

    With ``embedding_channels=None`` the embedding width of every block is
    learned as well (scaled by its importances after BatchNorm and ReLU), so
    the model has no width hyper-parameter at all; the next block and the
    block's head follow each embedding width.

    Args:
        in_channels: node feature size.
        num_classes: number of graph classes.
        num_layers: number of blocks :math:`L` (block 0 plus :math:`L-1` GIN layers).
        embedding_channels: fixed embedding size (64 in the paper) or ``None``
            to learn it.
        lambda0, initial_width, k, max_width: settings of every :class:`AdaptiveWidth`
            (the start is ``lambda0``, default 0.02, i.e. 117 neurons, or ``initial_width``).
        activation: activation of the MLP hidden layers (``leaky_relu`` in the paper).
        pooling: ``"mean"`` (paper) or ``"sum"``.
        train_eps: trainable GIN :math:`\epsilon` (paper: yes).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        num_layers: int = 3,
        embedding_channels: int | None = 64,
        *,
        lambda0: float | None = None,
        initial_width: int | None = None,
        k: float = 0.9,
        max_width: int = DEFAULT_MAX_WIDTH,
        activation: str = "leaky_relu",
        pooling: str = "mean",
        train_eps: bool = True,
    ) -> None:
        width_settings = {"lambda0": lambda0, "initial_width": initial_width, "k": k, "max_width": max_width}
        input_block, blocks, heads = adaptive_gin_parts(
            in_channels,
            num_classes,
            num_layers,
            embedding_channels,
            width_settings,
            train_eps=train_eps,
            mlp={"activation": activation},
            input_tail={},
        )
        super().__init__(input_block, blocks, heads, pooling)
        share_importances(self)


def adaptive_gin_parts(
    in_channels: int,
    num_classes: int,
    num_layers: int,
    embedding_channels: int | None,
    width_settings: Mapping[str, Any],
    *,
    train_eps: bool,
    mlp: Mapping[str, Any],
    input_tail: Mapping[str, Any],
) -> tuple[AdaptiveMLP, list[AdaptiveGINConv], list[AdaptiveLinear]]:
    """Input block, GIN blocks and heads of an adaptive GIN classifier, each block with its own learned width.

    ``width_settings`` are the :class:`AdaptiveWidth` arguments of every
    width; ``embedding_channels=None`` learns the embedding widths too.
    ``mlp`` holds the :class:`AdaptiveMLP` options of every block
    (``activation``, ``hidden_norm``); ``input_tail`` the input block's
    ``output_norm`` and ``output_activation`` (the GIN blocks end with batch
    norm and ReLU).
    """
    check_size("in_channels", in_channels, lazy=True)
    check_int_at_least("num_layers", num_layers, 1)
    check_int_at_least("num_classes", num_classes, 1)

    def new_width() -> AdaptiveWidth:
        return AdaptiveWidth(**width_settings)

    def new_embedding() -> Size:
        if embedding_channels is None:
            return new_width()
        return check_int_at_least("embedding_channels", embedding_channels, 1)

    embedding = new_embedding()
    input_block = AdaptiveMLP(in_channels, embedding, hidden=[new_width()], **mlp, **input_tail)
    blocks, heads = [], [AdaptiveLinear(embedding, num_classes)]
    for _ in range(num_layers - 1):
        previous, embedding = embedding, new_embedding()
        blocks.append(
            AdaptiveGINConv(previous, embedding, new_width(), train_eps=train_eps, **mlp, norm="batch_norm", act="relu")
        )
        heads.append(AdaptiveLinear(embedding, num_classes))
    return input_block, blocks, heads


class GINClassifier(BlockReadoutClassifier):
    r"""The GIN graph classifier of the `"Adaptive Width Neural Networks"
    <https://arxiv.org/abs/2501.15889>`_ paper at fixed widths: the counterpart
    of :class:`AdaptiveGINClassifier`, from upstream PyG layers.

    Same blocks, readout and activations, with fixed hidden widths and
    :class:`~torch_geometric.nn.GINConv`; PyTorch's default initialisation.

    Args:
        in_channels: node feature size.
        num_classes: number of graph classes.
        num_layers: number of blocks :math:`L`.
        hidden_channels: MLP hidden width of every block, or one per block.
        embedding_channels: embedding size.
        activation, pooling, train_eps: as in :class:`AdaptiveGINClassifier`.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        num_layers: int = 3,
        hidden_channels: int | Sequence[int] = 64,
        embedding_channels: int = 64,
        *,
        activation: str = "leaky_relu",
        pooling: str = "mean",
        train_eps: bool = True,
    ) -> None:
        hidden = per_layer("hidden_channels", hidden_channels, num_layers)
        check_int_at_least("in_channels", in_channels, 1)
        check_int_at_least("num_classes", num_classes, 1)
        check_int_at_least("embedding_channels", embedding_channels, 1)
        input_block = two_layer_mlp(in_channels, hidden[0], embedding_channels, activation)
        blocks = [
            GINConv(
                two_layer_mlp(
                    embedding_channels,
                    width,
                    embedding_channels,
                    activation,
                    tail=[nn.BatchNorm1d(embedding_channels), nn.ReLU()],
                ),
                train_eps=train_eps,
            )
            for width in hidden[1:]
        ]
        heads = [nn.Linear(embedding_channels, num_classes) for _ in hidden]
        super().__init__(input_block, blocks, heads, pooling)
        self.hidden_channels = hidden

    def layer_widths(self) -> dict[str, int]:
        return {f"block{index}": width for index, width in enumerate(self.hidden_channels)}


def two_layer_mlp(
    in_channels: int, hidden: int, out_channels: int, activation: str, tail: Sequence[nn.Module] = ()
) -> nn.Sequential:
    """``Linear, activation, Linear`` followed by ``tail``."""
    return nn.Sequential(
        nn.Linear(in_channels, hidden), make_activation(activation), nn.Linear(hidden, out_channels), *tail
    )


def per_layer(name: str, value: int | Sequence[int], num_layers: int) -> list[int]:
    """One integer per layer from an integer or a sequence of ``num_layers`` integers."""
    check_int_at_least("num_layers", num_layers, 1)
    values = [value] * num_layers if isinstance(value, int) else list(value)
    if len(values) != num_layers:
        raise ValueError(f"{name} must be an integer or a list of {num_layers} integers, got {value!r}")
    return [check_int_at_least(name, v, 1) for v in values]
