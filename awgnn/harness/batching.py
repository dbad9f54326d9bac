r"""Mini-batches of small graphs assembled by index arithmetic on one concatenated store.

PyG's :class:`~torch_geometric.loader.DataLoader` builds every mini-batch by
separating each graph out of the dataset and collating the list again, a
Python loop over graphs and attributes. On NCI1 (batch 32, one thread) that
is 60% of an epoch of a 3-layer GIN-64. Small-graph benchmarks fit in memory,
so :class:`GraphStore` keeps all graphs concatenated once and
:class:`InMemoryLoader` gathers each mini-batch with a handful of vectorised
tensor operations, on the CPU or on the store's GPU. The batches are equal,
field by field, to ``Batch.from_data_list`` of the same graphs in the same
order.

Index arithmetic. The store holds graph :math:`g`'s nodes at positions
:math:`P_g \le v < P_{g+1}` and its edges at :math:`Q_g \le e < Q_{g+1}`
(``node_ptr``, ``edge_ptr``), with edge endpoints numbered in the store. For a
mini-batch of graphs :math:`g_0, \dots, g_{B-1}` with :math:`n_i` nodes and
:math:`m_i` edges, and :math:`\mathrm{ptr}`, :math:`\mathrm{eptr}` the
exclusive cumulative sums :math:`(0, n_0, n_0 + n_1, \dots)` and
:math:`(0, m_0, m_0 + m_1, \dots)`, slot :math:`i` is shifted by

.. math::
    s_i = \mathrm{ptr}_i - P_{g_i} \quad\text{(nodes)}, \qquad
    t_i = \mathrm{eptr}_i - Q_{g_i} \quad\text{(edges)}:

* batch node :math:`j \in [\mathrm{ptr}_i, \mathrm{ptr}_{i+1})` is store node
  :math:`j - s_i`, and ``batch[j] = i``;
* batch edge :math:`k \in [\mathrm{eptr}_i, \mathrm{eptr}_{i+1})` is store
  edge :math:`k - t_i`, with both endpoints renumbered :math:`u + s_i`;
* ``y`` is ``y[g]``; ``ptr`` is returned as the batch's ``ptr``.

The per-slot shifts reach nodes and edges through ``repeat_interleave``;
nothing loops over graphs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Batch, Dataset
from torch_geometric.utils import cumsum

from awgnn.width.validation import check_int_at_least

# Graph attributes the store knows how to slice; `num_nodes` is redundant once `x` is present.
_SUPPORTED_KEYS = frozenset({"x", "edge_index", "edge_attr", "y", "num_nodes"})


class GraphStore:
    """All graphs of a dataset concatenated into flat tensors, ready for gathering.

    Build it with :meth:`from_dataset`; move it with :meth:`to`. It holds node
    features ``x``, ``edge_index`` in store numbering, optional ``edge_attr``,
    graph-level targets ``y`` (first dimension = number of graphs) and the
    node and edge pointers. Host copies of the node and edge counts let a
    store on GPU size each batch without a device synchronisation.
    """

    def __init__(
        self,
        x: Tensor,
        edge_index: Tensor,
        y: Tensor,
        node_ptr: Tensor,
        edge_ptr: Tensor,
        edge_attr: Tensor | None = None,
    ) -> None:
        num_graphs = node_ptr.numel() - 1
        if (
            node_ptr.dim() != 1
            or edge_ptr.shape != node_ptr.shape
            or x.size(0) != int(node_ptr[-1])
            or edge_index.dim() != 2
            or edge_index.size(0) != 2
            or edge_index.size(1) != int(edge_ptr[-1])
            or y.size(0) != num_graphs
            or (edge_attr is not None and edge_attr.size(0) != edge_index.size(1))
        ):
            raise ValueError(
                "inconsistent graph store: expected node_ptr and edge_ptr of shape (num_graphs + 1,), x with "
                "node_ptr[-1] rows, edge_index of shape (2, edge_ptr[-1]), y with num_graphs rows and edge_attr "
                "with one row per edge"
            )
        self.x = x
        self.edge_index = edge_index
        self.edge_attr = edge_attr
        self.y = y
        self.node_ptr = node_ptr
        self.edge_ptr = edge_ptr
        self._host_node_counts = node_ptr.diff().cpu()
        self._host_edge_counts = edge_ptr.diff().cpu()

    @classmethod
    def from_dataset(cls, dataset: Dataset | Sequence) -> GraphStore:
        """Concatenate every graph of ``dataset`` (transforms applied), in dataset order.

        Graphs may carry ``x``, ``edge_index``, ``y`` (graph-level) and
        optionally ``edge_attr``; other attributes are refused rather than
        silently dropped.
        """
        graphs = [dataset[i] for i in range(len(dataset))]
        if not graphs:
            raise ValueError("cannot build a graph store from an empty dataset")
        keys = set(graphs[0].keys())
        unsupported = keys - _SUPPORTED_KEYS
        missing = {"x", "edge_index", "y"} - keys
        if unsupported or missing:
            raise ValueError(
                f"GraphStore needs graphs with x, edge_index and y (edge_attr optional); "
                f"missing {sorted(missing)}, unsupported {sorted(unsupported)}"
            )
        # PyG's own collation of the whole dataset, done once, defines the layout batches are cut from.
        whole = Batch.from_data_list(graphs)
        if whole.y.size(0) != len(graphs):
            raise ValueError(f"y must hold one entry per graph, got {whole.y.size(0)} for {len(graphs)} graphs")
        edge_counts = torch.bincount(whole.batch[whole.edge_index[0]], minlength=len(graphs))
        return cls(whole.x, whole.edge_index, whole.y, whole.ptr, cumsum(edge_counts), whole.get("edge_attr"))

    @property
    def num_graphs(self) -> int:
        return self.node_ptr.numel() - 1

    @property
    def device(self) -> torch.device:
        return self.x.device

    def to(self, device: torch.device | str) -> GraphStore:
        """This store on ``device`` (itself when already there)."""
        device = torch.device(device)
        if device == self.device:
            return self
        edge_attr = None if self.edge_attr is None else self.edge_attr.to(device)
        return GraphStore(
            self.x.to(device),
            self.edge_index.to(device),
            self.y.to(device),
            self.node_ptr.to(device),
            self.edge_ptr.to(device),
            edge_attr,
        )

    def batches(self, order: Tensor, batch_size: int) -> Iterator[Batch]:
        """Mini-batches of consecutive ``batch_size`` chunks of ``order``, a 1-D CPU long tensor of graphs.

        The index arithmetic of the module docstring runs once, vectorised
        over all of ``order``; each batch then gathers with contiguous slices
        of the resulting index arrays. Sizes come from the host copies of the
        counts, so a store on GPU needs no device-to-host copy.
        """
        host_node_ptr = cumsum(self._host_node_counts[order]).tolist()
        host_edge_ptr = cumsum(self._host_edge_counts[order]).tolist()
        graphs = order.to(self.device, non_blocking=True)
        node_start, edge_start = self.node_ptr[graphs], self.edge_ptr[graphs]
        node_counts = self.node_ptr[graphs + 1] - node_start
        edge_counts = self.edge_ptr[graphs + 1] - edge_start
        # Positions in the concatenation of all graphs of `order`, and the graphs' slots within their batch.
        node_pos, edge_pos = cumsum(node_counts), cumsum(edge_counts)
        position = torch.arange(graphs.numel(), device=self.device)
        slot = position % batch_size
        node_shift = node_pos[:-1] - node_pos[position - slot] - node_start  # s_i of the module docstring
        nodes = _store_positions(node_pos[:-1] - node_start, node_counts, host_node_ptr[-1])
        edges = _store_positions(edge_pos[:-1] - edge_start, edge_counts, host_edge_ptr[-1])
        endpoint_shift = torch.repeat_interleave(node_shift, edge_counts, output_size=host_edge_ptr[-1])
        node_slot = torch.repeat_interleave(slot, node_counts, output_size=host_node_ptr[-1])
        for start in range(0, graphs.numel(), batch_size):
            stop = min(start + batch_size, graphs.numel())
            batch_nodes = slice(host_node_ptr[start], host_node_ptr[stop])
            batch_edges = slice(host_edge_ptr[start], host_edge_ptr[stop])
            attributes = {
                "x": self.x.index_select(0, nodes[batch_nodes]),
                "edge_index": self.edge_index.index_select(1, edges[batch_edges]) + endpoint_shift[batch_edges],
                "y": self.y.index_select(0, graphs[start:stop]),
                "batch": node_slot[batch_nodes],
                "ptr": node_pos[start : stop + 1] - node_pos[start],
            }
            if self.edge_attr is not None:
                attributes["edge_attr"] = self.edge_attr.index_select(0, edges[batch_edges])
            yield Batch(**attributes)

    def collate(self, graphs: Tensor) -> Batch:
        """One mini-batch of ``graphs`` (a non-empty 1-D CPU long tensor of positions), in that order."""
        return next(self.batches(graphs, graphs.numel()))

    def __repr__(self) -> str:
        edge_attr = None if self.edge_attr is None else list(self.edge_attr.shape)
        return (
            f"{type(self).__name__}(graphs={self.num_graphs}, x={list(self.x.shape)}, "
            f"edges={self.edge_index.size(1)}, edge_attr={edge_attr}, device={self.device})"
        )


def _store_positions(shift: Tensor, counts: Tensor, total: int) -> Tensor:
    """Store position of each of ``total`` concatenated elements: ``j - shift[i]`` for those of graph ``i``."""
    return torch.arange(total, device=shift.device) - torch.repeat_interleave(shift, counts, output_size=total)


class InMemoryLoader:
    """A drop-in for PyG's ``DataLoader`` over a :class:`GraphStore`, for small-graph datasets.

    Yields ``torch_geometric.data.Batch`` objects equal to
    ``Batch.from_data_list([dataset[i] for i in chunk])`` for consecutive
    chunks of ``indices`` (a permutation of them per epoch when ``shuffle``),
    with ``x``, ``edge_index``, ``edge_attr``, ``y``, ``batch``, ``ptr`` and
    ``num_graphs``. Like any ``Batch`` not made by ``from_data_list``, they
    cannot be split back with ``to_data_list()``.

    Args:
        data: a dataset, concatenated once on construction, or a
            :class:`GraphStore` shared by several loaders (train, validation,
            test) to concatenate only once.
        indices: the graphs to iterate over (positions in ``data``); ``None``
            for all of them.
        batch_size: graphs per batch.
        shuffle: draw a new order every epoch from ``generator`` (from
            torch's global generator when ``None``), so a seeded generator
            gives the same sequence of epochs.
        generator: a CPU ``torch.Generator``.
        drop_last: drop the last batch when it has fewer than ``batch_size``
            graphs.

    ``loader.to(device)`` moves the store once; batches are then assembled
    on that device.
    """

    def __init__(
        self,
        data: Dataset | GraphStore,
        indices: Sequence[int] | np.ndarray | Tensor | None,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
    ) -> None:
        self.store = data if isinstance(data, GraphStore) else GraphStore.from_dataset(data)
        self.indices = _check_indices(indices, self.store.num_graphs)
        self.batch_size = check_int_at_least("batch_size", batch_size, 1)
        cpu_generator = isinstance(generator, torch.Generator) and generator.device.type == "cpu"
        if generator is not None and not cpu_generator:
            raise ValueError(f"generator must be a CPU torch.Generator or None, got {generator!r}")
        self.shuffle = bool(shuffle)
        self.generator = generator
        self.drop_last = bool(drop_last)

    def __len__(self) -> int:
        full, rest = divmod(self.indices.numel(), self.batch_size)
        return full + int(rest > 0 and not self.drop_last)

    def __iter__(self) -> Iterator[Batch]:
        order = self.indices
        if self.shuffle:
            order = order[torch.randperm(order.numel(), generator=self.generator)]
        return self.store.batches(order[: len(self) * self.batch_size], self.batch_size)

    def to(self, device: torch.device | str) -> InMemoryLoader:
        """Move the store to ``device`` (in place, like ``nn.Module.to``) and return this loader."""
        self.store = self.store.to(device)
        return self

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(graphs={self.indices.numel()}, batch_size={self.batch_size}, "
            f"batches={len(self)}, shuffle={self.shuffle}, drop_last={self.drop_last}, "
            f"device={self.store.device})"
        )


def _check_indices(indices: Sequence[int] | np.ndarray | Tensor | None, num_graphs: int) -> Tensor:
    if indices is None:
        return torch.arange(num_graphs)
    tensor = torch.as_tensor(indices).cpu()
    if tensor.dim() != 1 or tensor.numel() == 0 or tensor.dtype.is_floating_point or tensor.dtype == torch.bool:
        raise ValueError(
            f"indices must be a non-empty 1-D sequence of graph indices, got shape "
            f"{tuple(tensor.shape)} and dtype {tensor.dtype}"
        )
    if int(tensor.min()) < 0 or int(tensor.max()) >= num_graphs:
        raise ValueError(
            f"indices must lie in 0..{num_graphs - 1} (the store's graphs), got "
            f"{int(tensor.min())}..{int(tensor.max())}"
        )
    return tensor.long()
