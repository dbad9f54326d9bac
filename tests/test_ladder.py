"""The synthetic difficulty ladder: determinism, the pattern table, labels recomputed from the
graphs, balance and argument checks."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch_geometric.data import InMemoryDataset

from awgnn.harness.data import LoadedDataset
from awgnn.harness.ladder import (
    LADDER_LEVELS,
    MIN_GRAPHS_PER_CLASS,
    NUM_CLASSES,
    NUM_NODES,
    NUM_TYPES,
    PATTERN_TABLE,
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
    return all(
        torch.equal(a.dataset[i].x, b.dataset[i].x)
        and torch.equal(a.dataset[i].edge_index, b.dataset[i].edge_index)
        and torch.equal(a.dataset[i].y, b.dataset[i].y)
        for i in range(len(a.dataset))
    )


def pattern(graph) -> tuple[int, int]:
    """The two node types of a graph, smaller first."""
    a, b = torch.unique(graph.x.argmax(dim=1)).tolist()
    return a, b


def test_at_least_five_levels():
    assert isinstance(LADDER_LEVELS, int) and LADDER_LEVELS >= 5


@pytest.mark.parametrize("level", ALL_LEVELS)
def test_loaded_dataset_fields(level):
    data = ladder_dataset(level, smallest(level), seed=0)
    assert isinstance(data, LoadedDataset) and isinstance(data.dataset, InMemoryDataset)
    assert (data.name, data.features, data.metric) == (f"ladder-{level}", "synthetic", "accuracy")
    assert data.num_classes == NUM_CLASSES and data.num_features == NUM_TYPES
    assert data.labels.dtype == torch.long and data.labels.shape == (len(data.dataset),)
    assert torch.equal(data.labels, torch.cat([data.dataset[i].y for i in range(len(data.dataset))]))
    subset = data.dataset[[0, 2, 5]]
    assert len(subset) == 3 and torch.equal(subset[1].x, data.dataset[2].x)


def test_same_seed_same_graphs_other_seed_other_graphs():
    level = 2
    first, again = (ladder_dataset(level, smallest(level), seed=7) for _ in range(2))
    assert same_graphs(first, again)
    assert not same_graphs(first, ladder_dataset(level, smallest(level), seed=8))


def test_levels_add_types_and_patterns_with_the_same_classes():
    """Chance level is the same at every level; only the number of patterns to store grows."""
    specs = [ladder_level(level) for level in ALL_LEVELS]
    assert all(spec.num_classes == NUM_CLASSES for spec in specs)
    assert specs[-1].num_types == NUM_TYPES
    for easier, harder in zip(specs, specs[1:]):
        assert harder.num_types > easier.num_types and harder.num_patterns > easier.num_patterns
    for spec in specs:
        assert spec.num_patterns == len([(a, b) for a in range(spec.num_types) for b in range(a)])
    datasets = [ladder_dataset(level, smallest(level), seed=0) for level in ALL_LEVELS]
    assert all(not same_graphs(a, b) for a, b in zip(datasets, datasets[1:]))


def test_pattern_table():
    """Symmetric, no same-type pattern, fixed (read-only) and nested: every level keeps the classes of
    the level below and adds patterns of new types."""
    assert PATTERN_TABLE.shape == (NUM_TYPES, NUM_TYPES) and not PATTERN_TABLE.flags.writeable
    assert np.array_equal(PATTERN_TABLE, PATTERN_TABLE.T)
    assert (np.diag(PATTERN_TABLE) == -1).all()
    off_diagonal = PATTERN_TABLE[~np.eye(NUM_TYPES, dtype=bool)]
    assert set(off_diagonal.tolist()) == set(range(NUM_CLASSES))
    for level in ALL_LEVELS:
        spec = ladder_level(level)
        table = spec.table()
        assert np.array_equal(table, PATTERN_TABLE[: spec.num_types, : spec.num_types])
        if level > 0:
            below = ladder_level(level - 1).table()
            assert np.array_equal(table[: len(below), : len(below)], below)


@pytest.mark.parametrize("level", ALL_LEVELS)
def test_classes_are_balanced_over_the_patterns_of_a_level(level):
    spec = ladder_level(level)
    classes = spec.table()[np.triu_indices(spec.num_types, k=1)]
    counts = np.bincount(classes, minlength=NUM_CLASSES)
    assert counts.sum() == spec.num_patterns and counts.max() - counts.min() <= 1


@pytest.mark.parametrize("level", ALL_LEVELS)
def test_classes_are_balanced(level):
    num_graphs = smallest(level) + 1  # not a multiple of the number of classes
    counts = ladder_dataset(level, num_graphs, seed=1).labels.bincount()
    assert len(counts) == NUM_CLASSES and counts.sum() == num_graphs
    assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("level", ALL_LEVELS)
def test_label_is_the_class_of_the_pattern_every_node_sees(level):
    """Recompute every label from the graph: two node types, every edge joins them, every node has a
    neighbour (so sees the pattern), and the label is the table's class of that pair."""
    spec = ladder_level(level)
    table = spec.table()
    data = ladder_dataset(level, smallest(level), seed=2)
    for graph in data.dataset:
        assert graph.x.shape == (graph.num_nodes, NUM_TYPES) and graph.x.dtype == torch.float
        assert torch.equal(graph.x.sum(dim=1), torch.ones(graph.num_nodes))
        assert NUM_NODES[0] <= graph.num_nodes <= NUM_NODES[1]
        assert graph.is_undirected() and not graph.has_self_loops() and not graph.has_isolated_nodes()
        types = graph.x.argmax(dim=1)
        a, b = pattern(graph)
        assert b < spec.num_types
        ends = types[graph.edge_index].T.tolist()
        assert {tuple(sorted(edge)) for edge in ends} == {(a, b)}
        assert {table[u, v] for u, v in ends} == {int(graph.y)}


@pytest.mark.parametrize("num_graphs", [ladder_level(0).num_patterns, 3 * ladder_level(0).num_patterns + 5])
def test_patterns_are_balanced_within_a_class(num_graphs):
    """Each class cycles through its patterns: every one occurs, as often as the others within one."""
    spec = ladder_level(0)
    table = spec.table()
    data = ladder_dataset(0, num_graphs, seed=3)
    for label in range(NUM_CLASSES):
        graphs = [graph for graph in data.dataset if int(graph.y) == label]
        own = {(a, b) for b in range(spec.num_types) for a in range(b) if table[a, b] == label}
        occurrences = Counter(pattern(graph) for graph in graphs)
        if len(graphs) >= len(own):
            assert set(occurrences) == own
        assert set(occurrences) <= own and max(occurrences.values()) - min(occurrences.values()) <= 1


@pytest.mark.parametrize("level", [-1, LADDER_LEVELS, 1.0, True, "0", None])
def test_invalid_level(level):
    with pytest.raises(ValueError, match="level"):
        ladder_dataset(level, 100)


@pytest.mark.parametrize("num_graphs", [0, MIN_GRAPHS_PER_CLASS * NUM_CLASSES - 1, -5, 50.0, True])
def test_invalid_num_graphs(num_graphs):
    with pytest.raises(ValueError, match="num_graphs must be an integer >= 40"):
        ladder_dataset(0, num_graphs)


@pytest.mark.parametrize("seed", [-1, 0.5, None])
def test_invalid_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        ladder_dataset(0, 100, seed=seed)
