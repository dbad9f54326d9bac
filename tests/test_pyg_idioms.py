"""Adaptive layers through PyG's own idioms: ``Sequential``, ``to_hetero`` and ``NeighborLoader``.

Each test trains a few steps on the ELBO and resizes on the way, as docs/pyg_models.rst ("PyG idioms") shows.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
import torch_geometric.typing
from graph_helpers import random_graphs
from torch import Tensor, nn
from torch_geometric.data import Batch, Data, HeteroData
from torch_geometric.loader import NeighborLoader
from torch_geometric.nn import Linear, Sequential, global_add_pool, to_hetero
from torch_geometric.sampler import BaseSampler, NodeSamplerInput, SamplerOutput

import awgnn
from awgnn import AdaptiveLinear, AdaptiveWidth, ELBOLoss
from awgnn.loader import SampledNeighborLoader
from awgnn.nn import AdaptiveGCNConv, AdaptiveGINConv
from awgnn.nn.models import AdaptiveGIN

STEPS = 6
# The rates' own learning rate: large enough that a few steps move every width.
RATE_LR = 0.5


def train(model: nn.Module, loss: Callable[[], Tensor], *, auto: bool) -> list[dict[str, int]]:
    """``STEPS`` optimizer steps on ``loss``, the widths updated by the optimizer's hook (``auto``) or by
    ``update_widths`` after each step; the widths after every step."""
    optimizer = torch.optim.Adam(awgnn.parameter_groups(model, rate_lr=RATE_LR), lr=0.01)
    if auto:
        awgnn.auto_update_widths(model, optimizer)
    history = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
        if not auto:
            awgnn.update_widths(model, optimizer)
        history.append(awgnn.width_report(model))
    return history


def assert_resized(before: dict[str, int], history: list[dict[str, int]]) -> None:
    assert before and all(set(widths) == set(before) for widths in history)
    assert any(widths != before for widths in history), f"no width changed from {before}"


# -- torch_geometric.nn.Sequential ---------------------------------------------------------------


def test_sequential_trains_layers_that_share_learned_widths():
    torch.manual_seed(0)
    embedding = AdaptiveWidth(initial_width=8)  # the GIN layer's output and the GCN layer's input
    gin = AdaptiveGINConv(5, embedding, AdaptiveWidth(initial_width=8), act="relu")  # built first: it produces it
    gcn = AdaptiveGCNConv(embedding, AdaptiveWidth(initial_width=8))
    model = Sequential(
        "x, edge_index, batch",
        [
            (gin, "x, edge_index -> x"),
            (gcn, "x, edge_index -> x"),
            (global_add_pool, "x, batch -> x"),
            (AdaptiveLinear(gcn.width, 3), "x -> x"),  # the readout follows the GCN layer's learned width
        ],
    )
    batch = Batch.from_data_list(random_graphs(count=12))
    objective = ELBOLoss(n_observations=12)
    before = awgnn.width_report(model)

    def loss() -> Tensor:
        return objective(model, model(batch.x, batch.edge_index, batch.batch), batch.y).total

    assert_resized(before, train(model, loss, auto=False))
    assert model(batch.x, batch.edge_index, batch.batch).shape == (12, 3)


# -- to_hetero -----------------------------------------------------------------------------------


def hetero_graph(seed: int = 0) -> HeteroData:
    """Papers (5 features, 3 classes) cite papers; authors (3 features) write papers."""
    generator = torch.Generator().manual_seed(seed)
    data = HeteroData()
    data["paper"].x = torch.randn(20, 5, generator=generator)
    data["paper"].y = torch.randint(0, 3, (20,), generator=generator)
    data["author"].x = torch.randn(12, 3, generator=generator)
    writes = torch.stack(
        [torch.randint(0, 12, (40,), generator=generator), torch.randint(0, 20, (40,), generator=generator)]
    )
    data["author", "writes", "paper"].edge_index = writes
    data["paper", "rev_writes", "author"].edge_index = writes.flip(0)
    data["paper", "cites", "paper"].edge_index = torch.randint(0, 20, (2, 50), generator=generator)
    return data


class HomogeneousGNN(nn.Module):
    """The model a user writes for one node type; ``to_hetero`` copies each layer per node or edge type.

    ``embedding`` learned: the first layer's output width is the second layer's input, a width two layers share.
    """

    def __init__(self, embedding: int | None = 16) -> None:
        super().__init__()
        self.encode = Linear(-1, 16)  # node types have different feature sizes: a lazy encoder per type
        out = AdaptiveWidth(initial_width=8) if embedding is None else embedding
        self.conv1 = AdaptiveGINConv(16, out, AdaptiveWidth(initial_width=8), act="relu")
        self.conv2 = AdaptiveGINConv(out, 3, AdaptiveWidth(initial_width=8))

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        x = self.encode(x).relu()
        return self.conv2(self.conv1(x, edge_index), edge_index)


def test_to_hetero_learns_a_hidden_width_per_edge_type():
    torch.manual_seed(0)
    data = hetero_graph()
    model = to_hetero(HomogeneousGNN(), data.metadata(), aggr="sum")
    model(data.x_dict, data.edge_index_dict)  # sizes the lazy encoders before the optimizer sees them
    before = awgnn.width_report(model)
    # Every GIN layer's MLP width, copied once per edge type, is learned by each copy on its own.
    assert len(before) == 2 * len(data.edge_types)
    assert all(any(f"__{relation}__" in name for relation in ("writes", "rev_writes", "cites")) for name in before)
    objective = ELBOLoss(n_observations=20)

    def loss() -> Tensor:
        logits = model(data.x_dict, data.edge_index_dict)["paper"]
        return objective(model, logits, data["paper"].y).total

    assert_resized(before, train(model, loss, auto=True))
    assert model(data.x_dict, data.edge_index_dict)["paper"].shape == (20, 3)


def test_to_hetero_refuses_a_width_shared_between_layers_with_a_clear_error():
    data = hetero_graph()
    model = to_hetero(HomogeneousGNN(embedding=None), data.metadata(), aggr="sum")
    model(data.x_dict, data.edge_index_dict)
    optimizer = torch.optim.Adam(model.parameters())
    # The first layer of the second convolution's first copy reads a copy of the first convolution's output width.
    message = (
        r"layer 'conv2\.author__writes__paper\.mlp\.0' follows a learned width that is not part of the model, "
        r"so no width update would reach it: layers that share a learned width were copied apart"
    )
    with pytest.raises(ValueError, match=message) as error:
        awgnn.auto_update_widths(model, optimizer)
    assert "to_hetero" in str(error.value) and "integer" in str(error.value)
    with pytest.raises(ValueError, match=message):
        awgnn.update_widths(model, optimizer)


# -- NeighborLoader ------------------------------------------------------------------------------


class TorchNeighborSampler(BaseSampler):
    """NeighborLoader's sampling kernel in plain torch, for machines without ``pyg-lib`` or ``torch-sparse``.

    It samples with :class:`awgnn.loader.SampledNeighborLoader`; everything else (seed batching, the
    subgraph's attributes, ``batch_size``, ``num_sampled_nodes``) is PyG's ``NeighborLoader``'s own.
    """

    def __init__(self, data: Data, num_neighbors: list[int], generator: torch.Generator) -> None:
        self.sampler = SampledNeighborLoader(data, num_neighbors, generator=generator)

    def sample_from_nodes(self, index: NodeSamplerInput, **kwargs) -> SamplerOutput:
        sampled = self.sampler.sample(index.node)
        return SamplerOutput(
            node=sampled.n_id,
            row=sampled.edge_index[0],
            col=sampled.edge_index[1],
            edge=sampled.e_id,
            num_sampled_nodes=sampled.num_sampled_nodes,
            num_sampled_edges=sampled.num_sampled_edges,
            metadata=(index.input_id, index.time),
        )

    def sample_from_edges(self, index, neg_sampling=None):
        raise NotImplementedError("node-level sampling only")

    @property
    def edge_permutation(self) -> None:
        return None  # edge ids are the graph's own


def test_neighbor_loader_batches_train_and_resize_an_adaptive_model():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    data = Data(
        x=torch.randn(60, 5, generator=generator),
        edge_index=torch.randint(0, 60, (2, 240), generator=generator),
        y=torch.randint(0, 3, (60,), generator=generator),
    )
    num_neighbors = [5, 5]
    # PyG's own sampler where pyg-lib or torch-sparse provides one; the plain-torch kernel elsewhere.
    native = torch_geometric.typing.WITH_PYG_LIB or torch_geometric.typing.WITH_TORCH_SPARSE
    loader = NeighborLoader(
        data,
        num_neighbors=num_neighbors,
        batch_size=16,
        shuffle=True,
        neighbor_sampler=None if native else TorchNeighborSampler(data, num_neighbors, generator),
    )
    model = AdaptiveGIN(5, None, num_layers=2, out_channels=3, initial_width=8)
    objective = ELBOLoss(n_observations=60)
    before = awgnn.width_report(model)
    batches = iter(loader)

    def loss() -> Tensor:
        nonlocal batches
        batch = next(batches, None)
        if batch is None:
            batches = iter(loader)
            batch = next(batches)
        out = model(
            batch.x,
            batch.edge_index,
            num_sampled_nodes_per_hop=batch.num_sampled_nodes,
            num_sampled_edges_per_hop=batch.num_sampled_edges,
        )[: batch.batch_size]
        assert out.shape == (batch.batch_size, 3)
        return objective(model, out, batch.y[: batch.batch_size]).total

    assert_resized(before, train(model, loss, auto=True))
    batch = next(iter(loader))
    assert F.softmax(model(batch.x, batch.edge_index)[: batch.batch_size], -1).shape == (batch.batch_size, 3)
