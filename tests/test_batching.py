"""InMemoryLoader: batches equal to PyG's collation, epochs, shuffling and argument checks."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.loader import DataLoader

from awgnn.harness.batching import GraphStore, InMemoryLoader
from awgnn.harness.data import load_tu_dataset


def random_graphs(count: int, seed: int = 0, y_shape: tuple[int, ...] = (1,)) -> list[Data]:
    """Graphs of 1 to 12 nodes (some without edges), each with its own index as target ``y``."""
    generator = torch.Generator().manual_seed(seed)
    graphs = []
    for i in range(count):
        num_nodes = int(torch.randint(1, 13, (1,), generator=generator))
        num_edges = int(torch.randint(0, 3 * num_nodes, (1,), generator=generator))
        graphs.append(
            Data(
                x=torch.randn(num_nodes, 3, generator=generator),
                edge_index=torch.randint(0, num_nodes, (2, num_edges), generator=generator),
                edge_attr=torch.randn(num_edges, 2, generator=generator),
                y=torch.full(y_shape, i),
            )
        )
    return graphs


def assert_same_batch(batch: Batch, expected: Batch) -> None:
    """Field-by-field equality; PyG keeps a redundant ``num_nodes`` attribute when graphs store one."""
    assert set(batch.keys()) == set(expected.keys()) - {"num_nodes"}
    for key in batch.keys():
        assert batch[key].dtype == expected[key].dtype, key
        assert torch.equal(batch[key], expected[key]), key
    assert batch.num_graphs == expected.num_graphs
    assert batch.num_nodes == expected.num_nodes


def reference_batches(graphs, order: list[int], batch_size: int) -> list[Batch]:
    return [
        Batch.from_data_list([graphs[i] for i in order[start : start + batch_size]])
        for start in range(0, len(order), batch_size)
    ]


@pytest.fixture(scope="module")
def graphs() -> list[Data]:
    return random_graphs(50)


@pytest.mark.parametrize(
    ("indices", "batch_size"),
    [
        (list(range(50)), 8),  # sorted, last batch of 2
        (torch.randperm(50, generator=torch.Generator().manual_seed(1)).tolist(), 16),  # shuffled, last of 2
        ([7, 3, 3, 41], 3),  # repeated graph, last batch of 1
        ([12], 4),  # a single graph
        (list(range(49, -1, -2)), 100),  # one batch larger than the list
    ],
)
def test_batches_equal_pyg_collation(graphs, indices, batch_size):
    loader = InMemoryLoader(graphs, indices, batch_size)
    batches = list(loader)
    expected = reference_batches(graphs, indices, batch_size)
    assert len(batches) == len(loader) == len(expected)
    for batch, reference in zip(batches, expected):
        assert_same_batch(batch, reference)


def test_graph_level_targets_keep_their_shape():
    graphs = random_graphs(10, y_shape=(1, 1))  # as in OGB: one row per graph
    batch = next(iter(InMemoryLoader(graphs, [4, 2, 9], 3)))
    assert batch.y.shape == (3, 1)
    assert_same_batch(batch, Batch.from_data_list([graphs[4], graphs[2], graphs[9]]))


@pytest.mark.parametrize(("name", "features"), [("MUTAG", None), ("ENZYMES", None), ("IMDB-BINARY", "degree")])
def test_batches_equal_pyg_data_loader_on_tu_datasets(data_root, name, features):
    dataset = load_tu_dataset(name, data_root, features)
    indices = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[:150]
    loader = InMemoryLoader(dataset, indices, batch_size=32)
    pyg_loader = DataLoader(dataset[indices], batch_size=32)
    assert len(loader) == len(pyg_loader) == 5
    for batch, reference in zip(loader, pyg_loader, strict=True):
        assert_same_batch(batch, reference)
    if name == "MUTAG":
        assert batch.edge_attr.shape == (batch.num_edges, 4)


def test_an_epoch_covers_every_index_once(graphs):
    indices = list(range(5, 45))
    generator = torch.Generator().manual_seed(0)
    loader = InMemoryLoader(graphs, indices, batch_size=7, shuffle=True, generator=generator)
    for _ in range(2):
        seen = torch.cat([batch.y for batch in loader])
        assert sorted(seen.tolist()) == indices
        assert seen.tolist() != indices


def test_shuffling_is_deterministic_per_seed_and_changes_every_epoch(graphs):
    def epochs(seed: int) -> list[list[int]]:
        loader = InMemoryLoader(graphs, None, 10, shuffle=True, generator=torch.Generator().manual_seed(seed))
        return [torch.cat([batch.y for batch in loader]).tolist() for _ in range(3)]

    first = epochs(0)
    assert first == epochs(0)
    assert first != epochs(1)
    assert first[0] != first[1] != first[2]


def test_shuffled_batches_still_equal_pyg_collation(graphs):
    loader = InMemoryLoader(graphs, None, 12, shuffle=True, generator=torch.Generator().manual_seed(3))
    for batch in loader:
        assert_same_batch(batch, Batch.from_data_list([graphs[i] for i in batch.y.tolist()]))


def test_drop_last_drops_only_the_partial_batch(graphs):
    loader = InMemoryLoader(graphs, list(range(20)), 8, drop_last=True)
    assert len(loader) == 2
    assert [batch.num_graphs for batch in loader] == [8, 8]
    assert len(InMemoryLoader(graphs, list(range(20)), 8)) == 3
    too_few = InMemoryLoader(graphs, [0, 1, 2], 8, drop_last=True)
    assert len(too_few) == 0 and list(too_few) == []


def test_batches_do_not_alias_the_store(graphs):
    loader = InMemoryLoader(graphs, [0, 1], 2)
    next(iter(loader)).x.zero_()
    assert_same_batch(next(iter(loader)), Batch.from_data_list(graphs[:2]))


def test_one_store_serves_several_loaders(graphs):
    store = GraphStore.from_dataset(graphs)
    train, test = InMemoryLoader(store, range(40), 16), InMemoryLoader(store, range(40, 50), 16)
    assert train.store is test.store
    assert torch.cat([b.y for b in train] + [b.y for b in test]).tolist() == list(range(50))


def test_store_moves_once_and_reports_itself(graphs):
    store = GraphStore.from_dataset(graphs)
    assert store.to("cpu") is store
    loader = InMemoryLoader(store, [1, 2, 3], 2, shuffle=True)
    assert loader.to("cpu") is loader
    assert repr(loader) == (
        "InMemoryLoader(graphs=3, batch_size=2, batches=2, shuffle=True, drop_last=False, device=cpu)"
    )
    assert repr(store).startswith(f"GraphStore(graphs=50, x=[{store.x.size(0)}, 3], edges=")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_batches_are_assembled_on_the_store_device(graphs):
    loader = InMemoryLoader(graphs, None, 16, shuffle=True, generator=torch.Generator().manual_seed(0)).to("cuda")
    for batch in loader:
        assert batch.x.is_cuda and batch.edge_index.is_cuda and batch.ptr.is_cuda
        assert_same_batch(batch.cpu(), Batch.from_data_list([graphs[i] for i in batch.y.tolist()]))


@pytest.mark.parametrize(
    ("indices", "kwargs", "problem"),
    [
        ([0, 50], {}, r"indices must lie in 0..49"),
        ([-1], {}, r"indices must lie in 0..49"),
        ([], {}, "indices must be a non-empty 1-D sequence"),
        ([[0, 1]], {}, "indices must be a non-empty 1-D sequence"),
        ([0.0, 1.0], {}, "dtype torch.float"),
        ([0, 1], {"batch_size": 0}, "batch_size must be an integer >= 1"),
        ([0, 1], {"generator": 0}, "generator must be a CPU torch.Generator"),
    ],
)
def test_arguments_are_checked(graphs, indices, kwargs, problem):
    store = GraphStore.from_dataset(graphs)
    with pytest.raises(ValueError, match=problem):
        InMemoryLoader(store, indices, **{"batch_size": 4, **kwargs})


def test_unsupported_graph_attributes_are_refused_not_dropped():
    edge = torch.tensor([[0], [1]])
    graphs = [Data(x=torch.ones(2, 1), edge_index=edge, y=torch.tensor([0]), pos=torch.ones(2, 3))]
    with pytest.raises(ValueError, match=r"unsupported \['pos'\]"):
        GraphStore.from_dataset(graphs)
    with pytest.raises(ValueError, match=r"missing \['x'\]"):
        GraphStore.from_dataset(
            [Data(edge_index=torch.zeros(2, 0, dtype=torch.long), y=torch.tensor([0]), num_nodes=3)]
        )
