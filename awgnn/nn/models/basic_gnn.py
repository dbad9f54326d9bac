"""PyG's ``BasicGNN`` models (GCN, GIN) with learned hidden widths."""

from __future__ import annotations

import copy
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parameter import is_lazy
from torch_geometric.nn import JumpingKnowledge, MessagePassing
from torch_geometric.nn.models.basic_gnn import BasicGNN
from torch_geometric.nn.norm import (
    BatchNorm,
    GraphNorm,
    GraphSizeNorm,
    InstanceNorm,
    LayerNorm,
    MeanSubtractionNorm,
    PairNorm,
)
from torch_geometric.nn.resolver import activation_resolver, normalization_resolver
from torch_geometric.typing import Adj, OptTensor
from torch_geometric.utils import trim_to_layer

from awgnn.nn.models.static import JK_MODES, StaticBasicGNN
from awgnn.width import AdaptiveLinear, AdaptiveWidth
from awgnn.width.adaptive_width import DEFAULT_MAX_WIDTH
from awgnn.width.importances import share_importances
from awgnn.width.linear import Size
from awgnn.width.validation import check_choice, check_int_at_least

# Modes that combine the layers' outputs elementwise: every layer needs the same, fixed width.
FIXED_WIDTH_JK_MODES = ("max", "lstm")

# Per-channel tensors of PyG's normalisations and the value new channels start from
# (an identity normalisation). Norms with no per-channel state follow trivially.
_NORM_TENSORS: dict[type, tuple[tuple[str, float], ...]] = {
    GraphNorm: (("weight", 1.0), ("bias", 0.0), ("mean_scale", 1.0)),
    PairNorm: (),
    MeanSubtractionNorm: (),
    GraphSizeNorm: (),
}
RESIZABLE_NORMS = (
    "batch_norm",
    "instance_norm",
    "layer_norm",
    "graph_norm",
    "pair_norm",
    "mean_subtraction_norm",
    "graph_size_norm",
)


def follow_norm(width: AdaptiveWidth, norm: nn.Module) -> None:
    """Make a PyG normalisation layer's per-channel tensors follow ``width``.

    New channels start as an identity normalisation (weight 1, bias 0, running
    mean 0, running variance 1). Supported: ``BatchNorm``, ``InstanceNorm``,
    ``LayerNorm`` in its default ``mode="graph"``, ``GraphNorm``, and the norms
    without per-channel state (``PairNorm``, ``MeanSubtractionNorm``,
    ``GraphSizeNorm``). PyG keeps the construction size in the ``in_channels``
    attribute of ``LayerNorm`` and ``GraphNorm`` and reads it only in their
    ``repr``; their tensors hold the current width.

    Raises ``ValueError`` for any other norm: ``LayerNorm(mode="node")`` reads
    its size from that attribute in ``forward``, and ``DiffGroupNorm`` and the
    heterogeneous norms hold more than one tensor per channel.
    """
    if isinstance(norm, BatchNorm):
        width.follow_batch_norm(norm.module)
    elif isinstance(norm, InstanceNorm):
        width.follow_batch_norm(norm)
    elif isinstance(norm, LayerNorm) and norm.mode == "graph":
        for name, fill in (("weight", 1.0), ("bias", 0.0)):
            if getattr(norm, name) is not None:
                width.follow(norm, name, 0, role="producer", fill=fill)
    elif type(norm) in _NORM_TENSORS:
        for name, fill in _NORM_TENSORS[type(norm)]:
            width.follow(norm, name, 0, role="producer", fill=fill)
    else:
        raise ValueError(
            f"norm {norm!r} cannot follow a learned width; with hidden_channels=None use one of "
            f"{', '.join(RESIZABLE_NORMS)} (LayerNorm in mode='graph'), or give hidden_channels an integer"
        )


class ConcatLinear(nn.Module):
    r"""The readout of the concatenated layers (jumping knowledge ``"cat"``) from the
    `"Representation Learning on Graphs with Jumping Knowledge Networks"
    <https://arxiv.org/abs/1806.03536>`_ paper, computed block by block so that
    each block follows a learned width of the `"Adaptive Width Neural Networks"
    <https://arxiv.org/abs/2501.15889>`_ paper.

    A linear map of the concatenation of several inputs:

    .. math::
        y = W \left[\mathbf{x}_1 \,\Vert\, \cdots \,\Vert\, \mathbf{x}_L\right] + b
          = \sum_{l=1}^{L} W_l \mathbf{x}_l + b

    This is ``JumpingKnowledge("cat")`` followed by ``Linear``, the readout of
    ``BasicGNN(jk="cat")``. Since each block :math:`W_l` is its own
    :class:`awgnn.AdaptiveLinear`, its columns follow the learned width of
    input :math:`l`, which a single matrix over the concatenation could not.

    Args:
        in_sizes: the size of each input, an ``int`` or the
            :class:`AdaptiveWidth` it follows.
        out_channels: output size.

    Shapes:
        - **input:** a list of :math:`L` tensors :math:`(N, F_l)`
        - **output:** :math:`(N, F_{out})`
    """

    def __init__(self, in_sizes: Sequence[Size], out_channels: int) -> None:
        super().__init__()
        if not in_sizes:
            raise ValueError("in_sizes must name at least one input, got an empty sequence")
        self.blocks = nn.ModuleList(
            AdaptiveLinear(size, out_channels, bias=index == 0) for index, size in enumerate(in_sizes)
        )
        self.reset_parameters()

    @property
    def in_channels(self) -> list[int]:
        return [block.in_features for block in self.blocks]

    @property
    def out_channels(self) -> int:
        return self.blocks[0].out_features

    @torch.no_grad()
    def reset_parameters(self) -> None:
        r"""PyTorch's default initialisation of one ``Linear`` over the concatenation: weights
        :math:`\mathcal U(\pm 1/\sqrt{\mathrm{fan}})` over the blocks' summed effective fan-in, bias
        :math:`\mathcal U(\pm 1/\sqrt{F_{in}})` over all inputs."""
        if any(block.in_features <= 0 for block in self.blocks):
            return  # a lazy block: initialised at its first forward
        fan = sum(block.effective_fan_in() for block in self.blocks)
        for block in self.blocks:
            block.weight.uniform_(-1.0 / math.sqrt(fan), 1.0 / math.sqrt(fan))
        bound = 1.0 / math.sqrt(sum(self.in_channels))
        self.blocks[0].bias.uniform_(-bound, bound)

    def forward(self, xs: list[Tensor]) -> Tensor:
        if len(xs) != len(self.blocks):
            raise ValueError(f"{type(self).__name__} expects {len(self.blocks)} inputs, got {len(xs)}")
        out = self.blocks[0](xs[0])
        for block, x in zip(self.blocks[1:], xs[1:]):
            out = out + block(x)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"


class AdaptiveBasicGNN(nn.Module, ABC):
    r"""An abstract class for the adaptive-width GNN models of the `"Adaptive
    Width Neural Networks" <https://arxiv.org/abs/2501.15889>`_ paper: PyG's
    ``BasicGNN`` with every hidden width learned (``hidden_channels=None``).

    Same constructor and ``forward`` as
    :class:`torch_geometric.nn.models.basic_gnn.BasicGNN`; each hidden layer
    computes

    .. math::
        \mathbf{h}^{(l)} = \mathrm{dropout}\Big(f_l \odot
        \mathrm{act}\big(\mathrm{norm}(\mathrm{conv}_l(\mathbf{h}^{(l-1)}, A))\big)\Big)

    where :math:`f_l` are the importances of the layer's learned width
    :math:`D_l` (AWN, Errica et al. 2025), applied after norm and activation as in
    AWN (``act_first=True`` swaps norm and activation, as in PyG). The next
    convolution's input, the norm's parameters and statistics and the readout
    follow every resize made by :func:`awgnn.update_widths`.

    With an integer ``hidden_channels`` nothing is learned and the model
    computes exactly what PyG's model computes with the same weights; its
    ``state_dict`` has PyG's keys, except that ``jk="cat"`` keeps its readout
    as :class:`ConcatLinear` blocks. :func:`awgnn.freeze` returns PyG's own
    model when it can express the widths, else a :class:`StaticBasicGNN` of
    upstream layers (:class:`PyGFrozenForm`).

    Learned widths and ``jk``:

    - ``None`` / ``"last"``: every hidden width is learned; the last
      convolution (or ``lin``) maps to the fixed ``out_channels``.
    - ``"cat"``: every width is learned; the readout is :class:`ConcatLinear`,
      whose blocks follow each layer's width.
    - ``"max"`` / ``"lstm"`` combine the layers' outputs elementwise, so those
      widths must be equal and fixed (AWN, Errica et al. 2025): ``ValueError`` with
      ``hidden_channels=None``.

    The output width must not change, so ``hidden_channels=None`` needs
    ``out_channels``. ``norm`` is resolved per layer at the layer's width and
    follows it (see :func:`follow_norm` for the supported norms).

    Args:
        in_channels: size of each input sample, or ``-1`` (lazy).
        hidden_channels: ``None`` to learn every hidden width, or a fixed ``int``.
        num_layers: number of message-passing layers.
        out_channels: output size; ``None`` keeps ``hidden_channels`` (only
            with a fixed width).
        dropout, act, act_first, act_kwargs, norm, norm_kwargs, jk: as in
            ``BasicGNN``.
        lambda0, initial_width, k, max_width: settings of every learned
            :class:`AdaptiveWidth` (default: :math:`\lambda_0 = 0.02`, 117
            neurons at the start).
        **kwargs: arguments of the underlying convolution.

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})`, edge
          indices :math:`(2, |\mathcal{E}|)` or a sparse adjacency
        - **output:** node features :math:`(|\mathcal{V}|, F_{out})`
    """

    supports_edge_weight: bool = False

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int | None,
        num_layers: int,
        out_channels: int | None = None,
        dropout: float = 0.0,
        act: str | Callable | None = "relu",
        act_first: bool = False,
        act_kwargs: dict[str, Any] | None = None,
        norm: str | Callable | None = None,
        norm_kwargs: dict[str, Any] | None = None,
        jk: str | None = None,
        *,
        lambda0: float | None = None,
        initial_width: int | None = None,
        k: float = 0.9,
        max_width: int = DEFAULT_MAX_WIDTH,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        _check_arguments(in_channels, hidden_channels, num_layers, out_channels, dropout, jk)
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.out_channels = out_channels if out_channels is not None else hidden_channels
        self.dropout = nn.Dropout(p=dropout)
        self.act = _resolve("act", act, activation_resolver, **(act_kwargs or {}))
        self.act_first = act_first
        self.jk_mode = jk
        self.norm = norm if isinstance(norm, str) else None
        self.norm_kwargs = norm_kwargs
        self._norm_argument = norm
        self._conv_kwargs = dict(kwargs)  # rebuilt as upstream convolutions by to_static()
        self._width_settings = {"lambda0": lambda0, "initial_width": initial_width, "k": k, "max_width": max_width}
        if hidden_channels is None:
            self.new_width()  # validates the width settings once, before any layer is built

        conv_to_out = out_channels is not None and jk is None
        sizes = [self.hidden_size() for _ in range(num_layers - conv_to_out)] + [out_channels] * conv_to_out
        self.widths = nn.ModuleList(s if isinstance(s, AdaptiveWidth) else nn.Identity() for s in sizes)
        self.convs = nn.ModuleList()
        previous: Size = in_channels
        for size in sizes:
            self.convs.append(self.init_conv(previous, size, **kwargs))
            previous = size
        self.norms = nn.ModuleList(
            self.make_norm(size) if index < num_layers - 1 or jk is not None else nn.Identity()
            for index, size in enumerate(sizes)
        )
        self.supports_norm_batch = "batch" in inspect.signature(self.norms[0].forward).parameters
        if jk in FIXED_WIDTH_JK_MODES:
            self.jk = JumpingKnowledge(jk, hidden_channels, num_layers)
        if jk == "cat":
            self.lin = ConcatLinear(sizes, self.out_channels)
        elif jk is not None:
            self.lin = AdaptiveLinear(
                sizes[-1] if jk == "last" else hidden_channels, self.out_channels, weight_init="pytorch"
            )
        self.reset_parameters()
        share_importances(self)

    # -- building blocks (subclasses build their convolutions from these) ---------------

    @abstractmethod
    def init_conv(self, in_size: Size, out_size: Size, **kwargs: Any) -> MessagePassing:
        """The convolution of one layer; ``AdaptiveWidth`` sizes must be followed."""

    def new_width(self) -> AdaptiveWidth:
        """A fresh learned width with the model's settings."""
        return AdaptiveWidth(**self._width_settings)

    def hidden_size(self) -> Size:
        """One hidden layer's size: a fresh learned width, or the fixed ``hidden_channels``."""
        return self.new_width() if self.hidden_channels is None else self.hidden_channels

    def make_norm(self, size: Size) -> nn.Module:
        """The normalisation of a layer of ``size`` channels, following it when learned."""
        norm = self._norm_argument
        if norm is None:
            return nn.Identity()
        if not isinstance(size, AdaptiveWidth):
            if isinstance(norm, str):
                return _resolve("norm", norm, normalization_resolver, size, **(self.norm_kwargs or {}))
            return copy.deepcopy(norm)
        if not isinstance(norm, str):
            raise ValueError(
                f"with hidden_channels=None, norm must be a name (one of {', '.join(RESIZABLE_NORMS)}) "
                f"so that each layer gets its own at its width, got {norm!r}"
            )
        layer = _resolve("norm", norm, normalization_resolver, size.width, **(self.norm_kwargs or {}))
        follow_norm(size, layer)
        return layer

    #: How the convolutions' linear layers draw their weights (:class:`~awgnn.AdaptiveLinear`'s ``weight_init``):
    #: PyG's own initialisation over the effective fan-in, so a layer passes on the signal scale of the PyG layer
    #: it replaces, at any learned width.
    weight_init = "pytorch"

    def linear(self, in_size: Size, out_size: Size, bias: bool = True) -> AdaptiveLinear:
        """An :class:`AdaptiveLinear` with the model's :attr:`weight_init`."""
        return AdaptiveLinear(in_size, out_size, bias=bias, weight_init=self.weight_init)

    # -- parameters, forward ------------------------------------------------------------

    def reset_parameters(self) -> None:
        """Initial widths first (the layers' initialisation reads their importances), then weights."""
        for module in self.modules():
            if isinstance(module, AdaptiveWidth):
                module.reset_parameters()
        for conv in self.convs:
            conv.reset_parameters()
        for norm in self.norms:
            if hasattr(norm, "reset_parameters"):
                norm.reset_parameters()
        if hasattr(self, "jk"):
            self.jk.reset_parameters()
        if hasattr(self, "lin"):
            self.lin.reset_parameters()

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
        """As ``BasicGNN.forward``; ``edge_attr`` is accepted and unused, as in PyG's GCN and GIN."""
        self._check_features(x)
        xs: list[Tensor] = []
        for index, (conv, norm, width) in enumerate(zip(self.convs, self.norms, self.widths)):
            if num_sampled_nodes_per_hop is not None:
                x, edge_index, edge_weight = trim_to_layer(
                    index, num_sampled_nodes_per_hop, num_sampled_edges_per_hop, x, edge_index, edge_weight
                )
            x = conv(x, edge_index, edge_weight=edge_weight) if self.supports_edge_weight else conv(x, edge_index)
            if index < self.num_layers - 1 or self.jk_mode is not None:
                if self.act is not None and self.act_first:
                    x = self.act(x)
                x = norm(x, batch, batch_size) if self.supports_norm_batch else norm(x)
                if self.act is not None and not self.act_first:
                    x = self.act(x)
                x = self.dropout(width(x))
                xs.append(x)
        if self.jk_mode == "cat":
            return self.lin(xs)
        if hasattr(self, "jk"):
            x = self.jk(xs)
        return self.lin(x) if hasattr(self, "lin") else x

    def _check_features(self, x: Tensor) -> None:
        if x.dim() != 2:
            raise ValueError(
                f"{type(self).__name__}: x must be a 2-D tensor [num_nodes, in_channels], got shape {tuple(x.shape)}"
            )
        if self.in_channels != -1 and x.size(-1) != self.in_channels:
            raise ValueError(
                f"{type(self).__name__}: x has {x.size(-1)} features per node, but the model "
                f"was built with in_channels={self.in_channels}"
            )

    # -- widths -------------------------------------------------------------------------

    def layer_widths(self) -> dict[str, int]:
        """Current width of every hidden layer, learned or fixed, keyed ``layer<l>``."""
        return {
            f"layer{index}": _out_size(self.conv_output(conv))
            for index, conv in enumerate(self.convs)
            if index < self.num_layers - 1 or self.jk_mode is not None
        }

    @abstractmethod
    def conv_output(self, conv: nn.Module) -> nn.Module:
        """The linear map that produces a convolution's output channels."""

    def total_width(self) -> int:
        """Sum of :meth:`layer_widths` (the AWN "total width")."""
        return sum(self.layer_widths().values())

    def embedding_widths(self) -> list[int]:
        """Current output width of every hidden layer (each one followed by norm and activation), in order."""
        widths = [_out_size(self.conv_output(conv)) for conv in self.convs]
        return widths if self.jk_mode is not None else widths[:-1]

    def num_parameters(self) -> int:
        """Number of scalar parameters at the current widths."""
        return sum(p.numel() for p in self.parameters() if not is_lazy(p))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.in_channels}, {self.out_channels}, num_layers={self.num_layers}, "
            f"widths={self.layer_widths()})"
        )


class PyGFrozenForm(ABC):
    """The frozen form of the adaptive-width models of the `"Adaptive Width Neural Networks"
    <https://arxiv.org/abs/2501.15889>`_ paper whose architecture PyG has a model for.

    Mixed in before :class:`AdaptiveBasicGNN` (``class AdaptiveGIN(PyGFrozenForm,
    AdaptiveBasicGNN)``): :func:`awgnn.freeze` then returns :attr:`pyg_model`
    (PyG's ``GIN``, ``GCN``) when it expresses the learned widths
    (:meth:`fits_pyg_model`), else a :class:`StaticBasicGNN` of upstream
    layers. A subclass provides :attr:`pyg_model`, :meth:`conv_input` and
    :meth:`static_conv`; one that sets :attr:`pyg_model` to ``None`` is frozen
    in place, as an :class:`AdaptiveBasicGNN` without this mixin is (its
    adaptive parts made static, its forward kept).
    """

    #: PyG's model of the same architecture, the frozen form when it can express the widths.
    pyg_model: type[BasicGNN] | None

    @abstractmethod
    def conv_input(self, conv: nn.Module) -> nn.Module:
        """The linear map that reads a convolution's input channels."""

    @abstractmethod
    def static_conv(self, conv: nn.Module, act: nn.Module | None) -> MessagePassing:
        """A fresh upstream convolution of ``conv``'s current sizes and the model's options.

        ``act`` is the frozen model's activation module, for convolutions that
        apply it inside.
        """

    def fits_pyg_model(self) -> bool:
        """Whether :attr:`pyg_model` expresses this model at its current widths: all hidden widths are equal."""
        return len(set(self.embedding_widths())) <= 1

    @torch.no_grad()
    def to_static(self) -> nn.Module:
        """The frozen form: :func:`awgnn.freeze` calls it once the importances are folded into the weights.

        PyG's own model (:attr:`pyg_model`, ``GIN`` or ``GCN``) with this
        model's options when :meth:`fits_pyg_model`, otherwise a
        :class:`StaticBasicGNN` of upstream layers at the current widths. The
        weights are copied (on their device, in their dtype), and every module
        keeps its training mode, so the outputs are the same. Called on a model
        whose importances are not folded, it drops them: use :func:`awgnn.freeze`.
        Without a :attr:`pyg_model`, the model itself.
        """
        if self.pyg_model is None:
            return self
        first = self.conv_input(self.convs[0])
        if is_lazy(first.weight):
            raise RuntimeError(
                f"cannot freeze {type(self).__name__} before its input size is known (in_channels=-1): "
                "run one forward first"
            )
        # A copy: the frozen model must not share a parametrised activation (PReLU) with this one.
        act = copy.deepcopy(self.act)
        hidden = self.embedding_widths()
        if self.fits_pyg_model():
            static = self.pyg_model(
                first.weight.shape[1],
                hidden[0] if hidden else self.out_channels,  # one layer and no jk: PyG reads no hidden size
                self.num_layers,
                self.out_channels,
                dropout=self.dropout.p,
                act=act,
                act_first=self.act_first,
                norm=self._norm_argument,
                norm_kwargs=self.norm_kwargs,
                jk=self.jk_mode,
                **self._conv_kwargs,
            )
        else:
            static = self._static_basic_gnn(hidden, act)
        reference = self.conv_output(self.convs[0]).weight
        static.to(device=reference.device, dtype=reference.dtype)
        static.load_state_dict(self._static_state_dict(), strict=True)
        modes = {name: module.training for name, module in self.named_modules(remove_duplicate=False)}
        for name, module in static.named_modules():
            module.training = modes.get(name, self.training)
        return static

    def _static_basic_gnn(self, hidden: list[int], act: nn.Module | None) -> StaticBasicGNN:
        """Upstream layers at the current widths, in the structure (and under the keys) of PyG's model."""
        norms = [self.make_norm(width) for width in hidden] + [nn.Identity()] * (self.num_layers - len(hidden))
        jk_module = (
            None if self.jk_mode in (None, "last") else JumpingKnowledge(self.jk_mode, hidden[0], self.num_layers)
        )
        lin = None
        if self.jk_mode is not None:
            lin = nn.Linear(sum(hidden) if self.jk_mode == "cat" else hidden[-1], self.out_channels)
        return StaticBasicGNN(
            [self.static_conv(conv, act) for conv in self.convs],
            norms,
            lin,
            jk=self.jk_mode,
            jk_module=jk_module,
            act=act,
            act_first=self.act_first,
            dropout=self.dropout.p,
            supports_edge_weight=self.supports_edge_weight,
        )

    def _static_state_dict(self) -> dict[str, Tensor]:
        """This model's state under the keys of PyG's model: no widths, and ``ConcatLinear`` as one ``Linear``."""
        widths = tuple(
            f"{name}."
            for name, module in self.named_modules(remove_duplicate=False)
            if isinstance(module, AdaptiveWidth)
        )
        state = {key: value for key, value in self.state_dict().items() if not key.startswith(widths)}
        if isinstance(getattr(self, "lin", None), ConcatLinear):
            state = {key: value for key, value in state.items() if not key.startswith("lin.blocks.")}
            # PyG's readout of jk="cat" is one Linear over the concatenation: the blocks side by side.
            state["lin.weight"] = torch.cat([block.weight for block in self.lin.blocks], dim=1)
            state["lin.bias"] = self.lin.blocks[0].bias
        return state


def _out_size(linear: nn.Module) -> int:
    """Output size of an AdaptiveLinear, a torch Linear (frozen) or a PyG Linear, lazy or not."""
    if hasattr(linear, "out_features"):
        return linear.out_features
    return linear.out_channels


def _resolve(name: str, query: Any, resolver: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return resolver(query, *args, **kwargs)
    except ValueError as error:
        raise ValueError(f"{name}={query!r}: {error}") from None


def _check_arguments(
    in_channels: object, hidden_channels: object, num_layers: object, out_channels: object, dropout: object, jk: object
) -> None:
    if isinstance(in_channels, bool) or not isinstance(in_channels, int) or (in_channels < 1 and in_channels != -1):
        raise ValueError(f"in_channels must be an integer >= 1 or -1 (lazy), got {in_channels!r}")
    if hidden_channels is not None:
        check_int_at_least("hidden_channels", hidden_channels, 1)
    check_int_at_least("num_layers", num_layers, 1)
    if out_channels is not None:
        check_int_at_least("out_channels", out_channels, 1)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
    check_choice("jk", jk, JK_MODES)
    if hidden_channels is None:
        if out_channels is None:
            raise ValueError(
                "hidden_channels=None learns the hidden widths, so the output width must be "
                "fixed: give out_channels (e.g. the number of classes)"
            )
        if jk in FIXED_WIDTH_JK_MODES:
            raise ValueError(
                f"jk={jk!r} combines the layers' outputs elementwise, so their widths must be "
                "equal and fixed: give hidden_channels an integer, or learn the widths with "
                "jk=None, 'last' or 'cat'"
            )
