"""The GIN classifiers of the growing baselines: fixed hidden widths that only growth changes."""

from __future__ import annotations

from awgnn.growth import fix_hidden_widths_
from awgnn.models.fair_gin import AdaptiveFairGIN
from awgnn.models.gin import AdaptiveGINClassifier
from awgnn.width.validation import check_int_at_least

# the growth papers' reference settings: the growing baselines start at 8 neurons a hidden layer and are capped at 256.
DEFAULT_START_WIDTH = 8
DEFAULT_GROWTH_CAP = 256


class GrowingGINClassifier(AdaptiveGINClassifier):
    r"""The graph classifier of the `"Adaptive Width Neural Networks"
    <https://arxiv.org/abs/2501.15889>`_ paper with every hidden width fixed,
    for growth: :class:`AdaptiveGINClassifier` after
    :func:`~awgnn.growth.fix_hidden_widths_`.

    Each block's MLP hidden layer starts with ``start_width`` neurons and is a
    plain layer (importances 1, rate frozen): training never changes its
    width, only a growth step (:class:`~awgnn.growth.S2DGrowth`,
    :class:`~awgnn.growth.FireflyGrowth`) does, up to ``max_width``. The
    embedding size is fixed, so the growth targets are exactly the
    :func:`~awgnn.growth.growable_layers` of the model, and checkpoints of any
    grown size load into it (the shapes set the widths).

    Every weight keeps :class:`AdaptiveGINClassifier`'s initialisation: the
    layer after a hidden layer was drawn (Kaiming+) for the importances of
    ``start_width`` learned neurons, so its weights are several times plain
    Kaiming (about 6x at 8 neurons) now that the importances are 1; a batch
    norm follows every GIN layer's output.

    The harness trains it with plain cross-entropy and grows it on the
    schedule of the ``growth*`` training keys (see
    :class:`awgnn.harness.train.GrowthSchedule`).

    Args:
        in_channels: node feature size.
        num_classes: number of graph classes.
        num_layers: number of blocks :math:`L` (block 0 plus :math:`L-1` GIN layers).
        embedding_channels: fixed embedding size.
        start_width: neurons of every hidden layer before any growth (>= 2).
        max_width: the most neurons growth may give a hidden layer.
        activation, pooling, train_eps: as in :class:`AdaptiveGINClassifier`.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        num_layers: int = 3,
        embedding_channels: int = 64,
        *,
        start_width: int = DEFAULT_START_WIDTH,
        max_width: int = DEFAULT_GROWTH_CAP,
        activation: str = "leaky_relu",
        pooling: str = "mean",
        train_eps: bool = True,
    ) -> None:
        check_growth_widths(embedding_channels, start_width, max_width)
        super().__init__(
            in_channels,
            num_classes,
            num_layers,
            embedding_channels,
            initial_width=start_width,
            max_width=max_width,
            activation=activation,
            pooling=pooling,
            train_eps=train_eps,
        )
        fix_hidden_widths_(self)


class GrowingFairGIN(AdaptiveFairGIN):
    r"""The GIN of the `"A Fair Comparison of Graph Neural Networks for Graph
    Classification" <https://arxiv.org/abs/1912.09893>`_ paper, grown: an
    :class:`AdaptiveFairGIN` with every hidden width fixed.

    The fair-comparison GIN (batch norms inside every MLP, ReLU, dropout on
    the heads) whose MLP hidden layers start with ``start_width`` neurons and
    change only by growth steps, up to ``max_width``. The batch norm after each
    grown layer follows it (:class:`~awgnn.growth.GrowableLayer`). Where
    :class:`FairGIN` gives each MLP one width, here the MLPs' outputs keep
    ``embedding_channels`` and their hidden sizes grow. The weights keep
    :class:`AdaptiveFairGIN`'s initialisation, as in
    :class:`GrowingGINClassifier`; a batch norm follows every MLP's output.

    Args:
        in_channels: node feature size.
        num_classes: number of graph classes.
        num_layers: number of blocks :math:`L` (block 0 plus :math:`L-1` GIN layers).
        embedding_channels: fixed embedding size.
        start_width: neurons of every hidden layer before any growth (>= 2).
        max_width: the most neurons growth may give a hidden layer.
        train_eps, pooling, dropout: as in :class:`AdaptiveFairGIN`.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        num_layers: int = 5,
        embedding_channels: int = 64,
        *,
        start_width: int = DEFAULT_START_WIDTH,
        max_width: int = DEFAULT_GROWTH_CAP,
        train_eps: bool = False,
        pooling: str = "mean",
        dropout: float = 0.0,
    ) -> None:
        check_growth_widths(embedding_channels, start_width, max_width)
        super().__init__(
            in_channels,
            num_classes,
            num_layers,
            embedding_channels,
            initial_width=start_width,
            max_width=max_width,
            train_eps=train_eps,
            pooling=pooling,
            dropout=dropout,
        )
        fix_hidden_widths_(self)


def check_growth_widths(embedding_channels: int, start_width: int, max_width: int) -> None:
    """The width arguments of a growing classifier, checked at its boundary."""
    # A learned embedding width (None) would scale the grown layers' outputs by importances.
    check_int_at_least("embedding_channels", embedding_channels, 1)
    check_int_at_least("start_width", start_width, 2)
    check_int_at_least("max_width", max_width, start_width)
