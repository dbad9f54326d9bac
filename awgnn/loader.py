"""Mini-batches of sampled neighbourhoods for node-level tasks, in plain torch.

PyG's ``NeighborLoader`` needs ``pyg-lib`` or ``torch-sparse``, and neither has
a wheel for torch 2.13 on PyPI (both build from source for many minutes).
:class:`SampledNeighborLoader` samples with torch operations only and yields
the same batches for homogeneous graphs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data

from awgnn.width.validation import check_int_at_least


class SampledNeighborLoader:
    r"""Seed nodes with uniformly sampled multi-hop neighbourhoods, as PyG's ``NeighborLoader``.

    For each mini-batch of ``batch_size`` seed nodes, hop :math:`h` samples
    for every node added at hop :math:`h-1` (the seeds at hop 1) up to
    ``num_neighbors[h-1]`` of its incoming edges uniformly without
    replacement (``-1``: all of them). Each batch is a
    :class:`~torch_geometric.data.Data` holding the sampled subgraph:

    - node attributes (``x``, ``y``, masks, ...) of the sampled nodes, the
      ``batch_size`` seeds first, then the nodes of hop 1, hop 2, ...;
    - ``edge_index`` in local indices, the edges of hop 1 first, edge
      attributes sliced alike; ``n_id`` and ``e_id``, the global node and
      edge ids; ``batch_size``; ``num_sampled_nodes`` and
      ``num_sampled_edges`` per hop, which a model's
      ``num_sampled_nodes_per_hop`` / ``num_sampled_edges_per_hop`` use to
      skip the nodes a layer no longer needs.

    A model's output for the seeds is ``out[:batch.batch_size]``. With
    ``num_neighbors=[-1] * L`` an ``L``-layer sum-aggregating model (GIN)
    gives every seed exactly its full-graph output; GCN's normalisation sees
    the sampled degrees, as with PyG's loader.

    Args:
        data: a homogeneous graph.
        num_neighbors: neighbours sampled per node at each hop (``-1``: all).
        input_nodes: the seeds: a boolean mask or an index tensor (default:
            every node).
        batch_size: seeds per batch.
        shuffle: reshuffle the seeds at every epoch.
        drop_last: drop the last, smaller batch.
        generator: random generator for shuffling and sampling.
    """

    def __init__(
        self,
        data: Data,
        num_neighbors: Sequence[int],
        input_nodes: Tensor | None = None,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        if not isinstance(data, Data) or data.edge_index is None:
            raise ValueError(f"data must be a torch_geometric.data.Data with an edge_index, got {type(data).__name__}")
        if isinstance(num_neighbors, (str, bytes)) or not isinstance(num_neighbors, Sequence) or not num_neighbors:
            raise ValueError(f"num_neighbors must be a non-empty list of integers (-1 or >= 1), got {num_neighbors!r}")
        for count in num_neighbors:
            if count != -1:
                check_int_at_least("num_neighbors entries", count, 1)
        self.data = data
        self.num_neighbors = list(num_neighbors)
        self.batch_size = check_int_at_least("batch_size", batch_size, 1)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        self.input_nodes = _seed_index(input_nodes, data.num_nodes)
        # Incoming edges grouped by target: the sources of node v are sources[ptr[v]:ptr[v + 1]].
        target = data.edge_index[1]
        self._edge_order = torch.argsort(target, stable=True)
        self._sources = data.edge_index[0, self._edge_order]
        self._ptr = torch.zeros(data.num_nodes + 1, dtype=torch.long)
        self._ptr[1:] = torch.bincount(target, minlength=data.num_nodes).cumsum(0)

    def __len__(self) -> int:
        full, rest = divmod(self.input_nodes.numel(), self.batch_size)
        return full + (rest > 0 and not self.drop_last)

    def __iter__(self) -> Iterator[Data]:
        seeds = self.input_nodes
        if self.shuffle:
            seeds = seeds[torch.randperm(seeds.numel(), generator=self.generator)]
        for start in range(0, seeds.numel(), self.batch_size):
            batch = seeds[start : start + self.batch_size]
            if self.drop_last and batch.numel() < self.batch_size:
                return
            yield self.sample(batch)

    def sample(self, seeds: Tensor) -> Data:
        """The sampled subgraph around ``seeds`` (global node ids, unique)."""
        local = torch.full((self.data.num_nodes,), -1, dtype=torch.long)
        local[seeds] = torch.arange(seeds.numel())
        nodes, frontier = [seeds], seeds
        sources, targets, edge_ids = [], [], []
        num_nodes, num_edges = [seeds.numel()], []
        for count in self.num_neighbors:
            positions, segment = self._sample_incoming(frontier, count)
            source = self._sources[positions]
            new = torch.unique(source[local[source] < 0])
            local[new] = torch.arange(new.numel()) + sum(num_nodes)
            sources.append(local[source])
            targets.append(local[frontier[segment]])
            edge_ids.append(self._edge_order[positions])
            nodes.append(new)
            num_nodes.append(new.numel())
            num_edges.append(positions.numel())
            frontier = new
        return self._subgraph(
            torch.cat(nodes),
            torch.cat(edge_ids),
            torch.stack([torch.cat(sources), torch.cat(targets)]),
            seeds.numel(),
            num_nodes,
            num_edges,
        )

    def _sample_incoming(self, frontier: Tensor, count: int) -> tuple[Tensor, Tensor]:
        """Positions (in target-sorted edge order) of up to ``count`` random incoming edges per node."""
        starts, degrees = self._ptr[frontier], self._ptr[frontier + 1] - self._ptr[frontier]
        segment = torch.repeat_interleave(torch.arange(frontier.numel()), degrees)
        segment_start = degrees.cumsum(0) - degrees
        rank = torch.arange(segment.numel()) - segment_start[segment]
        if count != -1:
            # A random order within each node's edges: sort by (node, uniform key).
            keys = segment.double() + torch.rand(segment.numel(), generator=self.generator, dtype=torch.double)
            order = torch.argsort(keys)
            kept = rank < count  # ranks are by position, so after sorting they index the random order
            rank, segment = rank[order][kept], segment[kept]
        return starts[segment] + rank, segment

    def _subgraph(
        self,
        n_id: Tensor,
        e_id: Tensor,
        edge_index: Tensor,
        batch_size: int,
        num_nodes: list[int],
        num_edges: list[int],
    ) -> Data:
        batch = Data()
        for key, value in self.data:
            if key == "edge_index":
                continue
            if self.data.is_node_attr(key):
                batch[key] = value[n_id]
            elif self.data.is_edge_attr(key):
                batch[key] = value[e_id]
            else:
                batch[key] = value
        batch.edge_index = edge_index
        batch.num_nodes = n_id.numel()
        batch.n_id, batch.e_id, batch.batch_size = n_id, e_id, batch_size
        batch.num_sampled_nodes, batch.num_sampled_edges = num_nodes, num_edges
        return batch

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_neighbors={self.num_neighbors}, batch_size={self.batch_size}, "
            f"seeds={self.input_nodes.numel()})"
        )


def _seed_index(input_nodes: Tensor | None, num_nodes: int) -> Tensor:
    if input_nodes is None:
        return torch.arange(num_nodes)
    if not isinstance(input_nodes, Tensor):
        raise ValueError(f"input_nodes must be a boolean mask or an index tensor, got {type(input_nodes).__name__}")
    if input_nodes.dtype == torch.bool:
        if input_nodes.shape != (num_nodes,):
            raise ValueError(f"input_nodes as a mask must have shape ({num_nodes},), got {tuple(input_nodes.shape)}")
        return input_nodes.nonzero().view(-1)
    index = input_nodes.view(-1).long()
    if index.numel() and (index.min() < 0 or index.max() >= num_nodes):
        raise ValueError(
            f"input_nodes must index nodes 0..{num_nodes - 1}, got values in [{int(index.min())}, {int(index.max())}]"
        )
    if torch.unique(index).numel() != index.numel():
        raise ValueError("input_nodes must not repeat a node")
    return index
