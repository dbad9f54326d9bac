"""Train the adaptive GIN on MUTAG with widths set by measurement: each layer keeps the neurons that pay for
themselves."""

import torch
import torch.nn.functional as F
from torch_geometric.loader import DataLoader

from awgnn.growth import MarginalWidths, fix_hidden_widths_, reinitialise_
from awgnn.harness import load_dataset
from awgnn.models import AdaptiveGINClassifier

torch.manual_seed(0)
data = load_dataset("MUTAG")  # from $AWGNN_DATA, else the copy shipped with awgnn
dataset = data.dataset.shuffle()
train, test = dataset[:150], dataset[150:]
model = AdaptiveGINClassifier(data.num_features, data.num_classes, num_layers=3, initial_width=16)
fix_hidden_widths_(model)  # the widths are set by measurement, not by the rates
reinitialise_(model)  # plain initialisation, now that the importances are 1
widths = MarginalWidths(model, n_observations=len(train))  # a neuron of p parameters costs 0.003 p / N
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)


def per_graph_loss(model, batch):
    return F.cross_entropy(model(batch.x, batch.edge_index, batch.batch, batch.num_graphs), batch.y, reduction="none")


for epoch in range(1, 31):
    loader = DataLoader(train, batch_size=32, shuffle=True)
    if epoch > 1:  # between epochs: measure the last neurons of every layer, grow or shrink
        widths.update_(loader, per_graph_loss, optimizer)
    model.train()
    for batch in loader:
        optimizer.zero_grad()
        per_graph_loss(model, batch).mean().backward()
        optimizer.step()
    model.eval()
    batch = next(iter(DataLoader(test, batch_size=len(test))))
    with torch.no_grad():
        accuracy = (model(batch.x, batch.edge_index, batch.batch).argmax(-1) == batch.y).float().mean()
    print(f"epoch {epoch:2d}  test accuracy {accuracy:.3f}  widths {model.layer_widths()}")
