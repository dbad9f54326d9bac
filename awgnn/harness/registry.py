"""The model classes a configuration may name, and what the harness needs to know of them.

A configuration's ``class`` is a registered name (:data:`MODEL_CLASSES`) or
the dotted path of any importable :class:`torch.nn.Module` subclass
(:func:`model_spec`). Every class is built and called under one of two
contracts:

* a graph classifier is built as ``cls(num_features, num_classes, **model_keys)``
  and called as ``model(x, edge_index, batch, num_graphs)``, returning logits
  of shape ``(num_graphs, num_classes)``: the registered graph classifiers
  (:mod:`awgnn.models`), and any class named by path that is not node-level;
* a node-level model (a subclass of PyG's ``BasicGNN`` or of
  :class:`~awgnn.nn.models.AdaptiveBasicGNN`: PyG's ``GIN``, ``GCN``, ...,
  awgnn's registered ``AdaptiveGIN``, ``AdaptiveGCN``) is built as
  ``cls(in_channels=num_features, out_channels=num_classes, **model_keys)``,
  called as ``model(x, edge_index, batch=batch, batch_size=num_graphs)``, and its
  node outputs are pooled per graph by the grid key ``pooling``
  (:class:`PooledNodeModel`).
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn
from torch.nn.parameter import is_lazy
from torch_geometric.nn.models.basic_gnn import BasicGNN

from awgnn.models import (
    AdaptiveFairGIN,
    AdaptiveGCNClassifier,
    AdaptiveGINClassifier,
    FairGIN,
    GCNClassifier,
    GINClassifier,
    GrowingFairGIN,
    GrowingGINClassifier,
)
from awgnn.models.base import POOLING_FUNCTIONS, graph_batch
from awgnn.nn.models import AdaptiveBasicGNN, AdaptiveGCN, AdaptiveGIN
from awgnn.width import adaptive_widths, width_report
from awgnn.width.validation import check_choice

# Node-level model families: their constructor and forward are PyG's BasicGNN's, their outputs are per node.
NODE_LEVEL_MODELS = (BasicGNN, AdaptiveBasicGNN)
# The AWN paper's readout, and the registered classifiers' default pooling.
DEFAULT_POOLING = "mean"
# A graph classifier's forward arguments, as train.py passes them.
FORWARD_ARGUMENTS = ("x", "edge_index", "batch", "num_graphs")


@dataclass(frozen=True)
class ModelSpec:
    """A model class and how the harness trains it.

    ``adaptive``: its widths are learned (ELBO by default, width updates after
    every step, presets allowed); ``None`` for a class named by path, which
    learns widths when the built model holds an :class:`~awgnn.AdaptiveWidth`
    (:meth:`learns_widths`). ``grows``: its hidden widths are fixed and
    change only by the growth steps of the ``growth*`` training keys.
    ``controllable``: an adaptive class whose hidden MLP widths the training
    key ``width_control`` may set instead of the rates. ``learned``:
    constructor arguments every grid sets to null, since the widths they
    would fix are learned (an adaptive node-level model's ``hidden_channels``).
    """

    cls: type[nn.Module]
    adaptive: bool | None
    grows: bool = False
    controllable: bool = False
    learned: tuple[str, ...] = ()

    @property
    def node_level(self) -> bool:
        """Whether the class computes node outputs, which the harness pools per graph."""
        return issubclass(self.cls, NODE_LEVEL_MODELS)

    @property
    def size_arguments(self) -> tuple[str, ...]:
        """The constructor arguments the data fills in: the input and output sizes."""
        return tuple(_bind_sizes(self.cls).arguments)

    @property
    def arguments(self) -> tuple[str, ...]:
        """Constructor arguments a grid may set (the data decides the input and output sizes)."""
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        sizes = self.size_arguments
        names = tuple(
            name for name, p in inspect.signature(self.cls).parameters.items() if p.kind in named and name not in sizes
        )
        return (*names, "pooling") if self.node_level else names

    @property
    def required(self) -> tuple[str, ...]:
        """Constructor arguments without a default: every grid must set them."""
        parameters = inspect.signature(self.cls).parameters
        return tuple(
            name
            for name in self.arguments
            if name in parameters and parameters[name].default is inspect.Parameter.empty
        )

    @property
    def takes_any_keyword(self) -> bool:
        """Whether the constructor takes ``**kwargs``: it may accept keys that its signature does not name."""
        return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(self.cls).parameters.values())

    def build(self, num_features: int, num_classes: int, arguments: dict[str, Any]) -> nn.Module:
        """The model of a grid point's constructor keys, as a graph classifier."""
        if not self.node_level:
            return self.cls(num_features, num_classes, **arguments)
        keys = {key: value for key, value in arguments.items() if key != "pooling"}
        node_model = self.cls(in_channels=num_features, out_channels=num_classes, **keys)
        return PooledNodeModel(node_model, arguments.get("pooling", DEFAULT_POOLING))

    def learns_widths(self, model: nn.Module) -> bool:
        """Whether ``model`` (built from this class) learns its widths with its rates."""
        return self.adaptive if self.adaptive is not None else bool(adaptive_widths(model))


MODEL_CLASSES: dict[str, ModelSpec] = {
    "AdaptiveGINClassifier": ModelSpec(AdaptiveGINClassifier, adaptive=True, controllable=True),
    "AdaptiveGCNClassifier": ModelSpec(AdaptiveGCNClassifier, adaptive=True),
    "GINClassifier": ModelSpec(GINClassifier, adaptive=False),
    "GCNClassifier": ModelSpec(GCNClassifier, adaptive=False),
    "FairGIN": ModelSpec(FairGIN, adaptive=False),
    "AdaptiveFairGIN": ModelSpec(AdaptiveFairGIN, adaptive=True, controllable=True),
    "GrowingGINClassifier": ModelSpec(GrowingGINClassifier, adaptive=False, grows=True),
    "GrowingFairGIN": ModelSpec(GrowingFairGIN, adaptive=False, grows=True),
    # PyG's BasicGNN models with learned widths, pooled per graph (for fixed widths, name PyG's own by path).
    "AdaptiveGIN": ModelSpec(AdaptiveGIN, adaptive=True, learned=("hidden_channels",)),
    "AdaptiveGCN": ModelSpec(AdaptiveGCN, adaptive=True, learned=("hidden_channels",)),
}


def model_spec(name: str) -> ModelSpec:
    """The spec of a registered class, or of the class at the dotted path ``name`` (``package.module.Class``).

    A path to a registered class gets its registered spec. Raises
    ``ValueError`` with a one-line reason when ``name`` is neither, cannot be
    imported, is not an :class:`~torch.nn.Module` subclass, or does not
    follow its contract (see the module's docstring).
    """
    if name in MODEL_CLASSES:
        return MODEL_CLASSES[name]
    module_name, _, attribute = name.rpartition(".")
    if not module_name or not attribute:
        raise ValueError(
            f"expected one of {', '.join(map(repr, MODEL_CLASSES))} or the dotted path of a model class "
            f"(package.module.Class), got {name!r}"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # importing runs the module's own code, which may raise anything
        raise ValueError(f"cannot import module {module_name!r} of {name!r}: {type(error).__name__}: {error}") from None
    cls = getattr(module, attribute, None)
    if cls is None:
        raise ValueError(f"module {module_name!r} has no attribute {attribute!r}")
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ValueError(f"{name} is not a torch.nn.Module subclass (got {cls!r})")
    registered = next((spec for spec in MODEL_CLASSES.values() if spec.cls is cls), None)
    if registered is not None:
        return registered
    spec = ModelSpec(cls, adaptive=None)
    _check_contract(spec, name)
    return spec


def _bind_sizes(cls: type[nn.Module]) -> inspect.BoundArguments:
    """The input and output sizes bound to ``cls``'s constructor as the harness passes them (``TypeError`` if it
    cannot take them)."""
    signature = inspect.signature(cls)
    if issubclass(cls, NODE_LEVEL_MODELS):
        return signature.bind_partial(in_channels=1, out_channels=1)
    return signature.bind_partial(1, 1)


def _check_contract(spec: ModelSpec, name: str) -> None:
    """The constructor takes the sizes, and a graph classifier's forward takes the batch, as the harness passes them."""
    try:
        _bind_sizes(spec.cls)
    except TypeError:
        sizes = "in_channels= and out_channels= keywords" if spec.node_level else "two positional arguments"
        raise ValueError(
            f"{name}'s constructor must take the input and output sizes as {sizes}, got {inspect.signature(spec.cls)}"
        ) from None
    if spec.node_level:
        return
    try:
        inspect.signature(spec.cls.forward).bind(None, *FORWARD_ARGUMENTS)
    except TypeError:
        raise ValueError(
            f"{name}.forward must take ({', '.join(FORWARD_ARGUMENTS)}) positionally and return logits of shape "
            f"(num_graphs, num_classes), got {inspect.signature(spec.cls.forward)}"
        ) from None


class PooledNodeModel(nn.Module):
    """A node-level model as a graph classifier: its node outputs pooled per graph.

    The harness's form of a ``BasicGNN`` (PyG's or awgnn's): ``node_model``
    maps every node to ``num_classes`` outputs, which ``pooling`` (``"sum"``,
    ``"mean"`` or ``"max"``) turns into each graph's logits. Widths, learned
    or fixed, are the node model's.
    """

    def __init__(self, node_model: nn.Module, pooling: str = DEFAULT_POOLING) -> None:
        super().__init__()
        check_choice("pooling", pooling, tuple(POOLING_FUNCTIONS))
        self.node_model = node_model
        self.pooling = pooling

    def forward(
        self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None, num_graphs: int | None = None
    ) -> Tensor:
        """Logits per graph; ``batch`` and ``num_graphs`` also reach the node model's graph-wise norms."""
        batch, num_graphs = graph_batch(x, batch, num_graphs)
        nodes = self.node_model(x, edge_index, batch=batch, batch_size=num_graphs)
        return POOLING_FUNCTIONS[self.pooling](nodes, batch, num_graphs)

    def layer_widths(self) -> dict[str, int]:
        """The node model's hidden widths, keyed ``layer<l>`` (and ``layer<l>.mlp`` for an adaptive GIN)."""
        if isinstance(self.node_model, AdaptiveBasicGNN):
            return self.node_model.layer_widths()
        # PyG's BasicGNN: every layer has hidden_channels outputs but the last, which maps to out_channels
        # unless jumping knowledge reads all layers out (AdaptiveBasicGNN.layer_widths' keys).
        model = self.node_model
        hidden = model.num_layers if model.jk_mode is not None else model.num_layers - 1
        return {f"layer{index}": model.hidden_channels for index in range(hidden)}

    def extra_repr(self) -> str:
        return f"pooling={self.pooling!r}"


def layer_widths(model: nn.Module) -> dict[str, int]:
    """A model's widths as the harness records them: its ``layer_widths()``, else its learned widths by name."""
    method = getattr(model, "layer_widths", None)
    return method() if callable(method) else width_report(model)


def num_parameters(model: nn.Module) -> int:
    """Scalar parameters at the current widths (a lazy parameter, not yet sized, counts none)."""
    return sum(p.numel() for p in model.parameters() if not is_lazy(p))
