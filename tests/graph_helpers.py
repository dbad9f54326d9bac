"""Small random graph-classification data shared by the model and growth tests."""
import torch
from torch_geometric.data import Data


def random_graphs(count=12, seed=0):
    """``count`` graphs of 4-8 nodes with 5 features, symmetric random edges and 3 classes."""
    generator = torch.Generator().manual_seed(seed)
    graphs = []
    for i in range(count):
        n = 4 + i % 5
        edge_index = torch.randint(0, n, (2, 3 * n), generator=generator)
        edge_index = torch.cat([edge_index, edge_index.flip(0)], 1)
        graphs.append(Data(x=torch.randn(n, 5, generator=generator), edge_index=edge_index, y=torch.tensor([i % 3])))
    return graphs
