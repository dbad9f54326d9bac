"""Rate-prior annealing: exact schedule values, argument checks, and narrower layers when trained with it."""

import pytest
import torch
from toy_tasks import two_moons

from awgnn import AdaptiveMLP, AdaptiveWidth, ELBOLoss, RatePriorAnnealing, auto_update_widths, total_width


def annealing(**changes) -> RatePriorAnnealing:
    arguments = dict(loss=ELBOLoss(100), mean=0.05, start_epoch=10, end_epoch=30, initial_std=0.2, final_std=0.02)
    arguments.update(changes)
    return RatePriorAnnealing(**arguments)


@pytest.mark.parametrize(
    "epoch, std",
    [(0, None), (9, None), (10, 0.2), (15, 0.155), (20, 0.11), (29, 0.029), (30, 0.02), (31, 0.02), (1000, 0.02)],
)
def test_std_is_off_then_linear_then_final(epoch, std):
    schedule = annealing()
    if std is None:
        assert schedule.std_at(epoch) is None
    else:
        assert schedule.std_at(epoch) == pytest.approx(std, rel=1e-12)


def test_step_sets_and_clears_the_loss_prior():
    loss = ELBOLoss(100, rate_prior_mean=0.3, rate_prior_std=1.0)
    schedule = annealing(loss=loss)
    assert schedule.step(5) is None
    assert loss.rate_prior_mean is None and loss.rate_prior_std is None
    assert schedule.step(20) == pytest.approx(0.11)
    assert loss.rate_prior_mean == 0.05 and loss.rate_prior_std == pytest.approx(0.11)
    schedule.step(3)  # the schedule is a function of the epoch: going back turns the prior off again
    assert loss.rate_prior_std is None


def test_prior_term_follows_the_schedule():
    model = AdaptiveMLP(2, 2, hidden=[AdaptiveWidth(0.02)])
    loss = ELBOLoss(10)
    schedule = annealing(loss=loss, start_epoch=0, end_epoch=1, initial_std=0.5, final_std=0.1)
    prediction, target = model(torch.randn(4, 2)), torch.tensor([0, 1, 0, 1])
    schedule.step(0)
    loose = loss(model, prediction, target).rate_prior
    schedule.step(1)
    tight = loss(model, prediction, target).rate_prior
    expected = (torch.log(torch.tensor(0.1)) + (0.02 - 0.05) ** 2 / (2 * 0.1**2)) / 10
    torch.testing.assert_close(tight, expected, rtol=1e-4, atol=1e-7)
    assert tight < loose  # log(sigma) dominates: a smaller sigma gives a smaller (more negative) term


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"loss": object()}, "loss must be an awgnn.ELBOLoss"),
        ({"mean": 0.0}, "mean must be a finite number > 0"),
        ({"mean": float("nan")}, "mean must be a finite number > 0"),
        ({"start_epoch": -1}, "start_epoch must be an integer >= 0"),
        ({"start_epoch": 2.5}, "start_epoch must be an integer >= 0"),
        ({"end_epoch": 10}, "end_epoch must be an integer >= 11"),
        ({"initial_std": -1.0}, "initial_std must be a finite number > 0"),
        ({"final_std": 0.0}, "final_std must be a finite number > 0"),
        ({"final_std": 0.3}, "must not exceed initial_std"),
    ],
)
def test_invalid_arguments_are_rejected(changes, message):
    with pytest.raises(ValueError, match=message):
        annealing(**changes)


@pytest.mark.parametrize("epoch", [-1, 1.0, True, "3"])
def test_invalid_epoch_is_rejected(epoch):
    with pytest.raises(ValueError, match="epoch must be an integer >= 0"):
        annealing().step(epoch)


def test_repr_names_the_settings():
    assert repr(annealing()) == (
        "RatePriorAnnealing(mean=0.05, start_epoch=10, end_epoch=30, initial_std=0.2, final_std=0.02)"
    )


def train_two_moons(anneal: bool, epochs: int = 30, steps_per_epoch: int = 20) -> tuple[float, int]:
    generator = torch.Generator().manual_seed(0)
    x, y = two_moons(500, generator)
    torch.manual_seed(0)
    model = AdaptiveMLP(2, 2, hidden=[AdaptiveWidth(0.02), AdaptiveWidth(0.02)])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    auto_update_widths(model, optimizer)
    loss = ELBOLoss(len(x))
    schedule = RatePriorAnnealing(loss, mean=0.2, start_epoch=5, end_epoch=20, initial_std=0.05, final_std=0.005)
    for epoch in range(epochs):
        if anneal:
            schedule.step(epoch)
        for _ in range(steps_per_epoch):
            batch = torch.randint(0, len(x), (64,), generator=generator)
            optimizer.zero_grad()
            loss(model, model(x[batch]), y[batch]).total.backward()
            optimizer.step()
    accuracy = (model(x).argmax(1) == y).float().mean().item()
    return accuracy, total_width(model)


def test_annealing_learns_narrower_layers():
    plain_accuracy, plain_width = train_two_moons(anneal=False)
    annealed_accuracy, annealed_width = train_two_moons(anneal=True)
    # Rate 0.2 is a width of 13 neurons a layer (k = 0.9); without the prior the layers stay near 117.
    assert annealed_width < 0.5 * plain_width, (annealed_width, plain_width)
    assert annealed_width <= 2 * 13 + 4
    assert annealed_accuracy > 0.95 and plain_accuracy > 0.95, (annealed_accuracy, plain_accuracy)
