"""Graphs, losses and GIN classifiers shared by the growth tests."""
import torch
import torch.nn.functional as F
from torch_geometric.loader import DataLoader

from awgnn import update_widths
from awgnn.growth import fix_hidden_widths_
from awgnn.models import AdaptiveGINClassifier
from graph_helpers import random_graphs


def gin_loss(model, batch):
    return F.cross_entropy(model(batch.x, batch.edge_index, batch.batch, batch.num_graphs), batch.y, reduction="sum")


def new_gin(seed=0):
    torch.manual_seed(seed)
    return AdaptiveGINClassifier(5, 3, num_layers=3, initial_width=8, embedding_channels=16)


def trained_gin(seed=0, epochs=3):
    """A fixed-width GIN classifier (leaky ReLU, BatchNorm) after a few Adam epochs, its loader and optimizer."""
    model = new_gin(seed)
    fix_hidden_widths_(model)
    loader = DataLoader(random_graphs(24), batch_size=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        for batch in loader:
            optimizer.zero_grad()
            gin_loss(model, batch).backward()
            optimizer.step()
            update_widths(model, optimizer)
    return model, loader, optimizer


def assert_training_keeps_grown_widths(model, loader, optimizer):
    """One more epoch with the same optimizer: it steps the grown shapes and no width update changes them."""
    widths = model.layer_widths()
    model.train()
    for batch in loader:
        optimizer.zero_grad()
        gin_loss(model, batch).backward()
        optimizer.step()
        assert update_widths(model, optimizer) == []
    assert model.layer_widths() == widths
