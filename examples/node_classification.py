"""Node classification on Cora or CiteSeer with PyG's GCN model, its hidden width learned.

    AWGNN_DATA=path/to/data python examples/node_classification.py [--dataset CiteSeer] [--mini-batch]
    python examples/node_classification.py --data-root path/to/data

Full-batch by default; ``--mini-batch`` trains on the sampled 2-hop
neighbourhoods of 32 training nodes at a time (awgnn's SampledNeighborLoader,
plain torch: no pyg-lib or torch-sparse needed).
"""

import argparse

import torch
import torch.nn.functional as F

import awgnn
from awgnn.harness import load_planetoid
from awgnn.loader import SampledNeighborLoader
from awgnn.nn.models import AdaptiveGCN

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--dataset", default="Cora", choices=["Cora", "CiteSeer"])
parser.add_argument("--mini-batch", action="store_true", help="train on sampled neighbourhoods of 32 seed nodes")
parser.add_argument("--data-root", help="data folder (default: $AWGNN_DATA, else ~/.cache/awgnn/data)")
arguments = parser.parse_args()

torch.manual_seed(0)
data = load_planetoid(arguments.dataset, arguments.data_root)[0]  # downloaded there when missing
# PyG's GCN(in_channels, hidden_channels, num_layers, out_channels, ...), with hidden_channels=None
model = AdaptiveGCN(data.num_features, None, num_layers=2, out_channels=int(data.y.max()) + 1, dropout=0.5)
# Weight decay on the weights only: parameter_groups never decays a width's raw rate.
optimizer = torch.optim.Adam(awgnn.parameter_groups(model), lr=0.01, weight_decay=5e-4)
awgnn.auto_update_widths(model, optimizer)  # the one extra line: every step also resizes
loader = SampledNeighborLoader(data, num_neighbors=[10, 10], input_nodes=data.train_mask, batch_size=32, shuffle=True)

for epoch in range(1, 101):
    model.train()
    for batch in loader if arguments.mini_batch else [data]:
        optimizer.zero_grad()
        out = model(F.dropout(batch.x, 0.5, training=True), batch.edge_index)
        if arguments.mini_batch:  # the seed nodes come first
            loss = F.cross_entropy(out[: batch.batch_size], batch.y[: batch.batch_size])
        else:
            loss = F.cross_entropy(out[data.train_mask], data.y[data.train_mask])
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        correct = model(data.x, data.edge_index).argmax(-1) == data.y
    if epoch % 10 == 0:
        print(
            f"epoch {epoch:3d}  val {correct[data.val_mask].float().mean():.3f}  "
            f"test {correct[data.test_mask].float().mean():.3f}  widths {model.layer_widths()}"
        )
