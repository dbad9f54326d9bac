"""Train the adaptive GIN on MUTAG with awgnn's recommended width settings: its layers learn their width."""

import torch
from torch_geometric.loader import DataLoader

import awgnn
from awgnn.harness import load_dataset
from awgnn.models import AdaptiveGINClassifier

torch.manual_seed(0)
data = load_dataset("MUTAG")  # from $AWGNN_DATA, else the copy shipped with awgnn
dataset = data.dataset.shuffle()
train, test = dataset[:150], dataset[150:]
model = AdaptiveGINClassifier(data.num_features, data.num_classes, num_layers=3, initial_width=16)
# awgnn's recommended setting (preset awgnn): the rates learn at their own rate, and a prior on the
# log-width (centre 16 neurons) gives every width an equilibrium the data can move.
optimizer = torch.optim.Adam(awgnn.parameter_groups(model, rate_lr=0.05), lr=0.01)
awgnn.auto_update_widths(model, optimizer)  # the one extra line: every step also resizes
elbo = awgnn.ELBOLoss(n_observations=len(train), width_prior_std=0.3)

for epoch in range(1, 31):
    model.train()
    for batch in DataLoader(train, batch_size=32, shuffle=True):
        optimizer.zero_grad()
        logits = model(batch.x, batch.edge_index, batch.batch, batch.num_graphs)
        elbo(model, logits, batch.y).total.backward()
        optimizer.step()
    model.eval()
    batch = next(iter(DataLoader(test, batch_size=len(test))))
    with torch.no_grad():
        accuracy = (model(batch.x, batch.edge_index, batch.batch).argmax(-1) == batch.y).float().mean()
    print(f"epoch {epoch:2d}  test accuracy {accuracy:.3f}  widths {model.layer_widths()}")
