"""A synthetic graph-classification ladder whose difficulty rises with the level.

**Family: circulant type graphs.** Every node has one of ``T`` types (a
one-hot feature). A graph of class ``c`` is a random blow-up of the
circulant graph ``C_T(c + 1)`` built by networkx: two nodes may be joined only
if their types differ by exactly ``±(c + 1)`` modulo ``T``, and such pairs
are joined at random with a probability that gives every class and level the
same mean degree (:data:`MEAN_DEGREE`). So every edge carries the class, a
node of type ``a`` only ever sees neighbours of types ``a ± (c + 1)``, and
the label is the "jump" between a node's type and its neighbours' types. At
level ``l`` there are ``T`` types and ``T // 2`` classes, the jumps
``1 .. T // 2`` (see :data:`LEVELS`).

**Why it is learnable.** One round of 1-WL (one GIN layer) sees a node's
type and the multiset of its neighbours' types, which decides the class, and
every node of a graph points to the same class: a node-wise map followed by
mean pooling and a linear head classifies every graph exactly, with no label
noise. The type frequencies and the degree distribution are the same in
every class, so no count of types or degrees gives the class away.

**What changes with the level and why it is harder.** The level raises the
number of types ``T`` and with it the number of classes. A node must map its
(own type, neighbour type) pair to one of ``T // 2`` classes: ``T`` times
``T // 2`` patterns to tell apart, which grows quadratically with ``T``, and
the node's own type and its neighbours' types have to be compared, not just
counted, which is a multiplicative interaction that a ReLU-type network
builds from hidden units. (A network can also place the types on a circle and
compare angles; that route needs ever finer resolution as ``T`` grows.) The
feature is always a one-hot over :data:`NUM_TYPES` columns, so the input
dimension is the same at every level; lower levels leave the last columns
empty.

What the adaptive GIN does with it (``benchmarks/width_vs_difficulty.py``):
started narrow, its learned width rises from level 0 to level 3 and levels
off at level 4 (``T = 12``; a trial ``T = 14`` level was no wider), while
accuracy stays near 100%; the width is noisy from seed to seed.

Graphs are small (:data:`NUM_NODES`), generated in memory from the seed, and
nothing is written to disk.
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import torch
from torch_geometric.data import Data, InMemoryDataset

from awgnn.harness.data import LoadedDataset
from awgnn.width.validation import check_int_at_least


@dataclass(frozen=True)
class LadderLevel:
    """The generator parameters of one level: the number of node types (and so of classes)."""

    num_types: int

    @property
    def num_classes(self) -> int:
        return self.num_types // 2

    def jump(self, label: int) -> int:
        """The type difference every edge of a class-``label`` graph has."""
        return label + 1

    def type_graph(self, label: int) -> nx.Graph:
        """Which types a class-``label`` graph may join: the circulant graph ``C_T(jump)``."""
        return nx.circulant_graph(self.num_types, [self.jump(label)])


LEVELS: tuple[LadderLevel, ...] = tuple(LadderLevel(num_types) for num_types in (4, 6, 8, 10, 12))
LADDER_LEVELS: int = len(LEVELS)
# One-hot feature columns at every level: the types of the top level.
NUM_TYPES = max(level.num_types for level in LEVELS)

# Inclusive range of the number of nodes per graph, the same at every level.
NUM_NODES = (10, 40)
# Expected degree of a node before isolated nodes are attached (small graphs with many
# types reach a little less, since a node cannot have more partners than exist).
MEAN_DEGREE = 3.0
# Each class gets at least this many graphs, so that 10-fold stratified splits have one per fold.
MIN_GRAPHS_PER_CLASS = 10


class GraphList(InMemoryDataset):
    """An in-memory PyG dataset over a list of graphs, with no files behind it."""

    def __init__(self, graphs: list[Data]) -> None:
        super().__init__()
        self.data, self.slices = self.collate(graphs)


def ladder_level(level: int) -> LadderLevel:
    """The generator parameters of ``level`` (``0 .. LADDER_LEVELS - 1``)."""
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level < LADDER_LEVELS:
        raise ValueError(f"level must be an integer in 0..{LADDER_LEVELS - 1}, got {level!r}")
    return LEVELS[level]


def ladder_dataset(level: int, num_graphs: int = 1000, seed: int = 0) -> LoadedDataset:
    """The ``num_graphs`` graphs of ladder level ``level``, generated from ``seed``.

    Classes are balanced (their sizes differ by at most one) and the graph
    order is shuffled. The same arguments always give the same graphs,
    features and labels. Raises ``ValueError`` for a level out of range, a
    negative seed, or fewer than ``MIN_GRAPHS_PER_CLASS`` graphs per class.
    """
    spec = ladder_level(level)
    seed = check_int_at_least("seed", seed, 0)
    minimum = MIN_GRAPHS_PER_CLASS * spec.num_classes
    if isinstance(num_graphs, bool) or not isinstance(num_graphs, int) or num_graphs < minimum:
        raise ValueError(f"num_graphs must be an integer >= {minimum} at level {level} "
                         f"({MIN_GRAPHS_PER_CLASS} per class, {spec.num_classes} classes), got {num_graphs!r}")
    rng = np.random.default_rng([seed, level])
    labels = rng.permutation(np.arange(num_graphs) % spec.num_classes)
    partners = [nx.to_numpy_array(spec.type_graph(c), dtype=bool) for c in range(spec.num_classes)]
    graphs = [_graph(partners[label], int(label), rng) for label in labels]
    return LoadedDataset(name=f"ladder-{level}", features="synthetic", dataset=GraphList(graphs),
                         num_features=NUM_TYPES, num_classes=spec.num_classes,
                         labels=torch.as_tensor(labels, dtype=torch.long), metric="accuracy")


def _graph(partners: np.ndarray, label: int, rng: np.random.Generator) -> Data:
    """A random blow-up of the type graph with adjacency ``partners``, as a PyG graph."""
    types, allowed = _node_types(partners, rng)
    n, num_types = len(types), len(partners)
    probability = min(1.0, MEAN_DEGREE * num_types / (partners[0].sum() * (n - 1)))
    upper = np.triu(allowed & (rng.random((n, n)) < probability), k=1)
    adjacency = upper | upper.T
    for node in np.flatnonzero(~adjacency.any(axis=1)):
        if not adjacency[node].any():  # an earlier repair may have linked it already
            partner = rng.choice(np.flatnonzero(allowed[node]))
            adjacency[node, partner] = adjacency[partner, node] = True
    x = torch.zeros(n, NUM_TYPES)
    x[torch.arange(n), torch.as_tensor(types)] = 1.0
    edge_index = torch.as_tensor(np.stack(np.nonzero(adjacency)), dtype=torch.long)
    return Data(x=x, edge_index=edge_index, y=torch.tensor([label]))


def _node_types(partners: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Node types on a random number of nodes, and which node pairs they allow.

    Redrawn until every node has a possible partner, so that no node is
    isolated and every node sees its class.
    """
    while True:
        n = int(rng.integers(NUM_NODES[0], NUM_NODES[1] + 1))
        types = rng.integers(len(partners), size=n)
        allowed = partners[types[:, None], types[None, :]]
        if allowed.any(axis=1).all():
            return types, allowed
