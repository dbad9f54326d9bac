"""Graphs, losses and GIN classifiers shared by the growth tests."""
import torch
import torch.nn.functional as F
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from awgnn import update_widths
from awgnn.growth import fix_hidden_widths_
from awgnn.models import AdaptiveGINClassifier


def random_graphs(count=24, seed=0):
    generator = torch.Generator().manual_seed(seed)
    graphs = []
    for i in range(count):
        n = 4 + i % 5
        edge_index = torch.randint(0, n, (2, 3 * n), generator=generator)
        edge_index = torch.cat([edge_index, edge_index.flip(0)], 1)
        graphs.append(Data(x=torch.randn(n, 5, generator=generator), edge_index=edge_index, y=torch.tensor([i % 3])))
    return graphs


def gin_loss(model, batch):
    return F.cross_entropy(model(batch.x, batch.edge_index, batch.batch, batch.num_graphs), batch.y, reduction="sum")


def new_gin(seed=0):
    torch.manual_seed(seed)
    return AdaptiveGINClassifier(5, 3, num_layers=3, initial_width=8, embedding_channels=16)


def trained_gin(seed=0, epochs=3):
    """A fixed-width GIN classifier (leaky ReLU, BatchNorm) after a few Adam epochs, its loader and optimizer."""
    model = new_gin(seed)
    fix_hidden_widths_(model)
    loader = DataLoader(random_graphs(), batch_size=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        for batch in loader:
            optimizer.zero_grad()
            gin_loss(model, batch).backward()
            optimizer.step()
            update_widths(model, optimizer)
    return model, loader, optimizer
