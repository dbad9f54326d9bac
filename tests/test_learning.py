"""The width adapts to the task: a harder task ends with a wider network."""

import torch
from toy_tasks import spiral, two_moons

from awgnn import AdaptiveMLP, AdaptiveWidth, ELBOLoss, auto_update_widths, total_width


def train(task, seed: int = 0, steps: int = 2000):
    generator = torch.Generator().manual_seed(seed)
    x, y = task(1000, generator)
    torch.manual_seed(seed)
    model = AdaptiveMLP(2, 2, hidden=[AdaptiveWidth(0.2), AdaptiveWidth(0.2)], activation="relu")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    auto_update_widths(model, optimizer)
    loss = ELBOLoss(len(x))
    for _ in range(steps):
        batch = torch.randint(0, len(x), (128,), generator=generator)
        optimizer.zero_grad()
        loss(model, model(x[batch]), y[batch]).total.backward()
        optimizer.step()
    accuracy = (model(x).argmax(1) == y).float().mean().item()
    return accuracy, total_width(model)


def test_harder_task_learns_a_wider_network():
    easy_accuracy, easy_width = train(two_moons)
    hard_accuracy, hard_width = train(spiral)
    assert easy_accuracy > 0.97 and hard_accuracy > 0.95
    assert hard_width > 1.5 * easy_width, (easy_width, hard_width)
