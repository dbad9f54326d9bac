"""Graphs, losses and GIN classifiers shared by the growth tests."""

import torch
import torch.nn.functional as F
from graph_helpers import random_graphs
from torch_geometric.loader import DataLoader

from awgnn import update_widths
from awgnn.growth import fix_hidden_widths_
from awgnn.models import AdaptiveGINClassifier, GrowingFairGIN


def gin_loss(model, batch):
    return F.cross_entropy(model(batch.x, batch.edge_index, batch.batch, batch.num_graphs), batch.y, reduction="sum")


def new_gin(seed=0):
    torch.manual_seed(seed)
    return AdaptiveGINClassifier(5, 3, num_layers=3, initial_width=8, embedding_channels=16)


def new_fair_gin(seed=0):
    """FairGIN's architecture, grown: a batch norm between every grown layer and its ReLU."""
    torch.manual_seed(seed)
    return GrowingFairGIN(5, 3, num_layers=3, embedding_channels=16, start_width=8)


def away_from_identity_(norm):
    """Give a batch norm a weight, bias and running statistics far from an identity normalisation."""
    with torch.no_grad():
        norm.weight.uniform_(0.5, 2.0)
        norm.bias.uniform_(-0.5, 0.5)
        norm.running_mean.uniform_(-0.5, 0.5)
        norm.running_var.uniform_(0.3, 3.0)
    return norm


def trained_gin(seed=0, epochs=3, build=new_gin):
    """A fixed-width GIN classifier (BatchNorm) from ``build`` after a few Adam epochs, its loader and optimizer."""
    model = build(seed)
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
