"""Grow a GIN on MUTAG from 8 neurons a hidden layer with S2D, Firefly or TINY (awgnn.growth).

    python examples/grow_mutag.py [s2d|firefly|tiny]

The growing baselines start narrow and add neurons while training; every consumer of a grown layer
(next layer, batch norm, optimizer state) follows, as in an adaptive-width resize. TINY needs the
optional extra: pip install -e ".[growth]".
"""

import argparse

import torch
import torch.nn.functional as F
from torch_geometric.loader import DataLoader

from awgnn.growth import FireflyGrowth, S2DGrowth, TinyGrowth
from awgnn.harness import load_dataset
from awgnn.models import GrowingGINClassifier

# Each layer takes its share of a step's budget (per_layer): the papers' global ranking can starve the GIN
# layers of neurons (benchmarks/RESULTS.md, section 11). TINY's budget is per layer already.
GROWTH_STEPS = {
    "s2d": lambda: S2DGrowth(fraction=0.3, selection="per_layer"),
    "firefly": lambda: FireflyGrowth(fraction=0.35, selection="per_layer", generator=torch.Generator().manual_seed(0)),
    "tiny": lambda: TinyGrowth(8),
}
GROWTH_EPOCHS = (5, 10, 15)


def summed_loss(model: torch.nn.Module, batch) -> torch.Tensor:
    """The training loss of a batch as a sum over its graphs: growth statistics add up over batches."""
    return F.cross_entropy(model(batch.x, batch.edge_index, batch.batch, batch.num_graphs), batch.y, reduction="sum")


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("method", nargs="?", default="s2d", choices=GROWTH_STEPS, help="growth method (default: s2d)")
method = parser.parse_args().method
print(f"growth method: {method}")
torch.manual_seed(0)
data = load_dataset("MUTAG")  # from $AWGNN_DATA, else the copy shipped with awgnn
dataset = data.dataset.shuffle()
train, test = dataset[:150], dataset[150:]
model = GrowingGINClassifier(data.num_features, data.num_classes, num_layers=3)  # hidden layers of 8 neurons
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
step = GROWTH_STEPS[method]()

for epoch in range(1, 31):
    if epoch in GROWTH_EPOCHS:
        # Statistics over the training graphs, then the layers grow in place; Adam's state is carried.
        result = step.grow_(model, DataLoader(train, batch_size=32), summed_loss, optimizer)
        print(f"epoch {epoch:2d}  grew {result.added} neurons  widths {model.layer_widths()}")
    model.train()
    for batch in DataLoader(train, batch_size=32, shuffle=True):
        optimizer.zero_grad()
        F.cross_entropy(model(batch.x, batch.edge_index, batch.batch, batch.num_graphs), batch.y).backward()
        optimizer.step()
    model.eval()
    batch = next(iter(DataLoader(test, batch_size=len(test))))
    with torch.no_grad():
        accuracy = (model(batch.x, batch.edge_index, batch.batch).argmax(-1) == batch.y).float().mean()
    print(f"epoch {epoch:2d}  test accuracy {accuracy:.3f}  parameters {model.num_parameters()}")
