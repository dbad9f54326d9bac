"""Small random graph-classification data shared by the model and growth tests."""

import torch
from torch_geometric.data import Data


def random_graphs(count=12, seed=0, *, features=5, classes=3, dtype=torch.float32, edges_per_node=3):
    """``count`` graphs of 4-8 nodes with ``features`` features, symmetric random edges and ``classes`` classes."""
    generator = torch.Generator().manual_seed(seed)
    graphs = []
    for i in range(count):
        n = 4 + i % 5
        edge_index = torch.randint(0, n, (2, edges_per_node * n), generator=generator)
        edge_index = torch.cat([edge_index, edge_index.flip(0)], 1)
        x = torch.randn(n, features, generator=generator, dtype=dtype)
        graphs.append(Data(x=x, edge_index=edge_index, y=torch.tensor([i % classes])))
    return graphs
