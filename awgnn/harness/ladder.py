"""A synthetic graph-classification ladder whose difficulty is the capacity it takes.

**Family: pattern lookup graphs.** Every node has one of ``T`` types (a
one-hot feature). A *pattern* is an unordered pair of distinct types, and a
fixed random table (:data:`PATTERN_TABLE`) gives each of the ``T (T - 1) / 2``
patterns one of :data:`NUM_CLASSES` classes. A graph of class ``c`` is a random
bipartite graph between the nodes of the two types of one class-``c`` pattern:
every edge joins a node of type ``a`` to a node of type ``b``, and every node
has at least one neighbour. So a node's own type and its neighbours' type are
its pattern, every node of a graph sees the same pattern, and the graph's
label is ``table[a, b]`` for any of its edges: a clean function of the graph,
with no label noise.

**Why it is learnable, and what it costs.** One GIN layer sees a node's type
and the multiset of its neighbours' types, which is the pattern; a node-wise
map from patterns to classes, mean pooling and a linear head then classify
every graph exactly. But the table is random, so it has no structure to
compress: the node-wise map has to store the class of every pattern. A level
with more types has quadratically more patterns to store, while the number
of classes, and so chance level (``1 / NUM_CLASSES``), stays the same. That
is the sense in which the levels differ in difficulty: a narrow network (8
hidden neurons a block) fits the patterns of the low levels within the
ladder's budget and falls short on the high ones, a wide network (64 a
block) fits them all (``benchmarks/width_vs_difficulty.py --fixed-curves``;
the numbers are in ``benchmarks/RESULTS.md``).

The difficulty is capacity *at a training budget*: the ladder is sized for
60 epochs of 800 training graphs (batch 32, learning rate 0.01): seconds a
run on one CPU thread (``benchmarks/RESULTS.md`` has the measured cost). With more epochs a narrow network fits more
of the high levels' patterns (at 200 epochs, 8 neurons a block still fall at
every level, though less far), so widths learned on the ladder are comparable
only at a stated budget.

**Design choices and why.**

* *One pattern per graph.* A graph whose edges showed several patterns of its
  class would let a network that knows most patterns outvote the ones it
  does not, and every level would look solved. With one pattern, a graph is
  classified right exactly when its pattern is.
* *Balanced patterns.* Within a class the generator cycles through that
  class's patterns in a random order, so every pattern occurs equally often
  (give or take one graph) and 1000 graphs show each of the top level's 276
  patterns three or four times; a pattern absent from training could only
  be guessed.
* *Four classes at every level.* A pattern then holds two bits, so a narrow
  network runs short at fewer patterns than with two classes; in trials with
  two classes it ran short only with more patterns than 1000 graphs show
  often enough for a wide network to learn them all.
* *Nested tables.* Level ``l + 1`` keeps the types of level ``l`` and their
  patterns' classes and adds new types, so a higher level contains every
  pattern of the lower ones; classes stay balanced over the patterns of every
  level (their counts differ by at most one).
* *No shortcut through counts.* Graph sizes, the split of nodes between the
  two types and the degrees are drawn the same way for every class, so only
  the pair of types identifies the class. A linear function of the type
  frequencies (what mean pooling of the input features gives a linear head)
  is additive over the two types and cannot represent a random table: it
  fits part of the table, less of it the higher the level, and the rest
  takes message passing.

The feature is always a one-hot over :data:`NUM_TYPES` columns (the types of
the top level), so the input dimension is the same at every level; lower
levels leave the last columns empty. Graphs are small (:data:`NUM_NODES`),
generated in memory from the seed, and nothing is written to disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch_geometric.data import Data, InMemoryDataset

from awgnn.harness.data import LoadedDataset
from awgnn.width.validation import check_int_at_least

# Classes of every level; chance level is one over this.
NUM_CLASSES = 4
# Seed of the pattern table, the same for every dataset seed: the task of a level is fixed,
# a dataset seed only draws its graphs.
TABLE_SEED = 20261130


@dataclass(frozen=True)
class LadderLevel:
    """The generator parameters of one level: the number of node types."""

    num_types: int

    @property
    def num_classes(self) -> int:
        return NUM_CLASSES

    @property
    def num_patterns(self) -> int:
        """Unordered pairs of distinct types, each a pattern with its own class."""
        return self.num_types * (self.num_types - 1) // 2

    def table(self) -> np.ndarray:
        """This level's ``num_types x num_types`` block of :data:`PATTERN_TABLE`."""
        return PATTERN_TABLE[: self.num_types, : self.num_types]


LEVELS: tuple[LadderLevel, ...] = tuple(LadderLevel(num_types) for num_types in (12, 15, 18, 21, 24))
LADDER_LEVELS: int = len(LEVELS)
# One-hot feature columns at every level: the types of the top level.
NUM_TYPES = max(level.num_types for level in LEVELS)

# Inclusive range of the number of nodes per graph, the same at every level.
NUM_NODES = (6, 16)
# Expected degree of a node before isolated nodes are linked.
MEAN_DEGREE = 2.5
# Each class gets at least this many graphs, so that 10-fold stratified splits have one per fold.
MIN_GRAPHS_PER_CLASS = 10


class GraphList(InMemoryDataset):
    """An in-memory PyG dataset over a list of graphs, with no files behind it."""

    def __init__(self, graphs: list[Data]) -> None:
        super().__init__()
        self.data, self.slices = self.collate(graphs)


def _pattern_table() -> np.ndarray:
    """The class of every pattern of the top level: a symmetric ``NUM_TYPES x NUM_TYPES`` array.

    Entry ``[a, b]`` is the class of the pattern ``{a, b}``; the diagonal is
    ``-1`` (two nodes of one type are never joined). Patterns are listed
    newest type last (``{0, 1}``, ``{0, 2}``, ``{1, 2}``, ``{0, 3}``, ...) and
    given classes from a stream of random permutations of the classes, so the
    patterns of every level are a prefix of the list with balanced classes.
    """
    rng = np.random.default_rng(TABLE_SEED)
    pairs = [(a, b) for b in range(NUM_TYPES) for a in range(b)]
    blocks = -(-len(pairs) // NUM_CLASSES)
    classes = np.concatenate([rng.permutation(NUM_CLASSES) for _ in range(blocks)])
    table = np.full((NUM_TYPES, NUM_TYPES), -1, dtype=np.int64)
    for (a, b), label in zip(pairs, classes):
        table[a, b] = table[b, a] = label
    table.flags.writeable = False  # shared by every level and dataset
    return table


PATTERN_TABLE: np.ndarray = _pattern_table()


def ladder_level(level: int) -> LadderLevel:
    """The generator parameters of ``level`` (``0 .. LADDER_LEVELS - 1``)."""
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level < LADDER_LEVELS:
        raise ValueError(f"level must be an integer in 0..{LADDER_LEVELS - 1}, got {level!r}")
    return LEVELS[level]


def ladder_dataset(level: int, num_graphs: int = 1000, seed: int = 0) -> LoadedDataset:
    """The ``num_graphs`` graphs of ladder level ``level``, generated from ``seed``.

    Classes are balanced (their sizes differ by at most one), so are the
    patterns within a class, and the graph order is shuffled. The same
    arguments always give the same graphs, features and labels. Raises
    ``ValueError`` for a level out of range, a negative seed, or fewer than
    ``MIN_GRAPHS_PER_CLASS`` graphs per class.
    """
    spec = ladder_level(level)
    seed = check_int_at_least("seed", seed, 0)
    minimum = MIN_GRAPHS_PER_CLASS * spec.num_classes
    if isinstance(num_graphs, bool) or not isinstance(num_graphs, int) or num_graphs < minimum:
        raise ValueError(
            f"num_graphs must be an integer >= {minimum} at level {level} "
            f"({MIN_GRAPHS_PER_CLASS} per class, {spec.num_classes} classes), got {num_graphs!r}"
        )
    rng = np.random.default_rng([seed, level])
    labels = rng.permutation(np.arange(num_graphs) % spec.num_classes)
    patterns = _patterns_per_graph(spec, labels, rng)
    graphs = [_graph(a, b, int(label), rng) for (a, b), label in zip(patterns, labels)]
    return LoadedDataset(
        name=f"ladder-{level}",
        features="synthetic",
        dataset=GraphList(graphs),
        num_features=NUM_TYPES,
        num_classes=spec.num_classes,
        labels=torch.as_tensor(labels, dtype=torch.long),
        metric="accuracy",
    )


def _patterns_per_graph(spec: LadderLevel, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The pattern ``(a, b)`` of every graph: each class cycles through its patterns in a random order."""
    table = spec.table()
    upper = np.triu(np.ones_like(table, dtype=bool), k=1)
    patterns = np.empty((len(labels), 2), dtype=np.int64)
    for label in range(spec.num_classes):
        own = np.argwhere(upper & (table == label))
        graphs = np.flatnonzero(labels == label)
        patterns[graphs] = own[np.resize(rng.permutation(len(own)), len(graphs))]
    return patterns


def _graph(a: int, b: int, label: int, rng: np.random.Generator) -> Data:
    """A random bipartite graph between nodes of type ``a`` and of type ``b``, as a PyG graph."""
    n = int(rng.integers(NUM_NODES[0], NUM_NODES[1] + 1))
    # Both types occur; the rest of the nodes take either at random.
    of_b = rng.permutation(np.concatenate([[False, True], rng.random(n - 2) < 0.5]))
    allowed = of_b[:, None] != of_b[None, :]
    num_b = int(of_b.sum())
    probability = min(1.0, MEAN_DEGREE * n / (2 * num_b * (n - num_b)))
    upper = np.triu(allowed & (rng.random((n, n)) < probability), k=1)
    adjacency = upper | upper.T
    for node in np.flatnonzero(~adjacency.any(axis=1)):
        if not adjacency[node].any():  # an earlier repair may have linked it already
            partner = rng.choice(np.flatnonzero(allowed[node]))
            adjacency[node, partner] = adjacency[partner, node] = True
    types = torch.as_tensor(np.where(of_b, b, a))
    x = torch.zeros(n, NUM_TYPES)
    x[torch.arange(n), types] = 1.0
    edge_index = torch.as_tensor(np.stack(np.nonzero(adjacency)), dtype=torch.long)
    return Data(x=x, edge_index=edge_index, y=torch.tensor([label]))
