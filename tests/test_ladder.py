"""The synthetic difficulty ladder: determinism, level structure, balance and argument checks."""
from __future__ import annotations

import pytest
import torch
from torch_geometric.data import InMemoryDataset

from awgnn.harness.data import LoadedDataset
from awgnn.harness.ladder import (
    LADDER_LEVELS,
    MIN_GRAPHS_PER_CLASS,
    NUM_NODES,
    NUM_TYPES,
    ladder_dataset,
    ladder_level,
)

ALL_LEVELS = range(LADDER_LEVELS)


def smallest(level: int) -> int:
    """The fewest graphs a level accepts, which keeps these tests fast."""
    return MIN_GRAPHS_PER_CLASS * ladder_level(level).num_classes


def same_graphs(a: LoadedDataset, b: LoadedDataset) -> bool:
    if len(a.dataset) != len(b.dataset) or not torch.equal(a.labels, b.labels):
        return False
    return all(torch.equal(a.dataset[i].x, b.dataset[i].x)
               and torch.equal(a.dataset[i].edge_index, b.dataset[i].edge_index)
               and torch.equal(a.dataset[i].y, b.dataset[i].y) for i in range(len(a.dataset)))


def test_at_least_five_levels():
    assert isinstance(LADDER_LEVELS, int) and LADDER_LEVELS >= 5


@pytest.mark.parametrize("level", ALL_LEVELS)
def test_loaded_dataset_fields(level):
    data = ladder_dataset(level, smallest(level), seed=0)
    assert isinstance(data, LoadedDataset) and isinstance(data.dataset, InMemoryDataset)
    assert (data.name, data.features, data.metric) == (f"ladder-{level}", "synthetic", "accuracy")
    assert data.num_classes == ladder_level(level).num_classes
    assert data.labels.dtype == torch.long and data.labels.shape == (len(data.dataset),)
    assert torch.equal(data.labels, torch.cat([data.dataset[i].y for i in range(len(data.dataset))]))
    subset = data.dataset[[0, 2, 5]]
    assert len(subset) == 3 and torch.equal(subset[1].x, data.dataset[2].x)


def test_same_seed_same_graphs_other_seed_other_graphs():
    level = 2
    first, again = (ladder_dataset(level, smallest(level), seed=7) for _ in range(2))
    assert same_graphs(first, again)
    assert not same_graphs(first, ladder_dataset(level, smallest(level), seed=8))


def test_levels_are_distinct_and_harder():
    specs = [ladder_level(level) for level in ALL_LEVELS]
    for easier, harder in zip(specs, specs[1:]):
        assert harder.num_types > easier.num_types and harder.num_classes > easier.num_classes
    datasets = [ladder_dataset(level, 60, seed=0) for level in ALL_LEVELS]
    assert all(not same_graphs(a, b) for a, b in zip(datasets, datasets[1:]))


@pytest.mark.parametrize("level", ALL_LEVELS)
def test_classes_are_balanced(level):
    num_graphs = smallest(level) + 1  # not a multiple of the number of classes
    counts = ladder_dataset(level, num_graphs, seed=1).labels.bincount()
    assert len(counts) == ladder_level(level).num_classes and counts.sum() == num_graphs
    assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("level", ALL_LEVELS)
def test_graphs_follow_the_level_design(level):
    """One-hot types of the level; every edge joins types whose difference is the class's jump."""
    spec = ladder_level(level)
    data = ladder_dataset(level, smallest(level), seed=2)
    assert data.num_features == NUM_TYPES
    for graph in data.dataset:
        assert graph.x.shape == (graph.num_nodes, NUM_TYPES) and graph.x.dtype == torch.float
        assert torch.equal(graph.x.sum(dim=1), torch.ones(graph.num_nodes))
        assert NUM_NODES[0] <= graph.num_nodes <= NUM_NODES[1]
        assert graph.is_undirected() and not graph.has_self_loops() and not graph.has_isolated_nodes()
        types = graph.x.argmax(dim=1)
        assert types.max() < spec.num_types
        difference = (types[graph.edge_index[0]] - types[graph.edge_index[1]]) % spec.num_types
        jump = spec.jump(int(graph.y))
        assert set(difference.tolist()) <= {jump, spec.num_types - jump}


def test_type_graphs_of_a_level_share_no_pair():
    """No pair of types is allowed in two classes, so a single edge decides the class."""
    for level in ALL_LEVELS:
        spec = ladder_level(level)
        pairs = [{frozenset(edge) for edge in spec.type_graph(c).edges} for c in range(spec.num_classes)]
        assert sum(map(len, pairs)) == len(set().union(*pairs))


def test_every_type_has_a_partner_in_every_class():
    """So the type frequencies cannot give a class away."""
    for level in ALL_LEVELS:
        spec = ladder_level(level)
        for label in range(spec.num_classes):
            graph = spec.type_graph(label)
            assert graph.number_of_nodes() == spec.num_types
            assert min(degree for _, degree in graph.degree) >= 1


@pytest.mark.parametrize("level", [-1, LADDER_LEVELS, 1.0, True, "0", None])
def test_invalid_level(level):
    with pytest.raises(ValueError, match="level"):
        ladder_dataset(level, 100)


@pytest.mark.parametrize("num_graphs", [0, 19, -5, 50.0, True])
def test_invalid_num_graphs(num_graphs):
    with pytest.raises(ValueError, match="num_graphs"):
        ladder_dataset(0, num_graphs)


@pytest.mark.parametrize("seed", [-1, 0.5, None])
def test_invalid_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        ladder_dataset(0, 100, seed=seed)
