import math

import pytest
import torch

from awgnn import AdaptiveMLP, AdaptiveWidth, ELBOLoss


@pytest.fixture
def model_and_batch():
    torch.manual_seed(0)
    model = AdaptiveMLP(3, 4, hidden=[AdaptiveWidth(0.2), AdaptiveWidth(0.3)]).double()
    x = torch.randn(10, 3, dtype=torch.float64)
    y = torch.randint(0, 4, (10,))
    return model, x, y


def test_terms_match_closed_form(model_and_batch):
    model, x, y = model_and_batch
    n, sigma_theta, mu, sigma_lambda = 4000, 10.0, 0.05, 0.5
    loss = ELBOLoss(n, weight_prior_std=sigma_theta, rate_prior_mean=mu, rate_prior_std=sigma_lambda)
    terms = loss(model, model(x), y)

    logits = model(x)
    data = -(logits.log_softmax(-1)[torch.arange(10), y]).mean()
    weights = [p for name, p in model.named_parameters() if not name.endswith("raw_rate")]
    weight_prior = sum((p**2).sum() for p in weights) / (2 * sigma_theta**2 * n)
    rates = [torch.nn.functional.softplus(w.raw_rate) for w in model.widths]
    rate_prior = sum(math.log(sigma_lambda) + (r - mu) ** 2 / (2 * sigma_lambda**2) for r in rates) / n

    torch.testing.assert_close(terms.data, data)
    torch.testing.assert_close(terms.weight_prior, weight_prior)
    torch.testing.assert_close(terms.rate_prior, rate_prior)
    torch.testing.assert_close(terms.total, data + weight_prior + rate_prior)


def test_weight_prior_covers_everything_but_rates(model_and_batch):
    model, x, y = model_and_batch
    terms = ELBOLoss(1)(model, model(x), y)
    terms.total.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
    # The rates learn through the importances only (no width prior here).
    assert all(w.raw_rate.grad.abs().item() > 0 for w in model.widths)


def test_frozen_parameters_carry_no_prior_even_when_frozen_after_the_first_call(model_and_batch):
    model, x, y = model_and_batch
    loss = ELBOLoss(7)
    before = loss(model, model(x), y).weight_prior
    first = model.linears[0]
    first.weight.requires_grad_(False)
    after = loss(model, model(x), y).weight_prior
    torch.testing.assert_close(before - after, first.weight.detach().square().sum() / (2 * 10.0**2 * 7))


def test_no_rate_prior_by_default(model_and_batch):
    model, x, y = model_and_batch
    terms = ELBOLoss(100)(model, model(x), y)
    assert terms.rate_prior.item() == 0.0


def test_larger_n_weakens_the_priors(model_and_batch):
    model, x, y = model_and_batch
    small = ELBOLoss(100)(model, model(x), y).weight_prior
    large = ELBOLoss(1000)(model, model(x), y).weight_prior
    torch.testing.assert_close(small, 10 * large)


def test_rate_prior_pulls_towards_its_mean():
    width = AdaptiveWidth(0.02)
    model = torch.nn.Sequential(width)
    loss = ELBOLoss(10, rate_prior_mean=0.05, rate_prior_std=0.01, data_loss=lambda p, t: p.sum() * 0)
    terms = loss(model, width(torch.ones(1, width.width)), torch.zeros(1))
    terms.total.backward()
    assert width.raw_rate.grad.item() < 0, "rate below the prior mean must be pushed up"


@pytest.mark.parametrize("kwargs, message", [
    ({"n_observations": 0}, "n_observations must be an integer >= 1"),
    ({"n_observations": 10.5}, "n_observations must be an integer >= 1"),
    ({"n_observations": 10, "weight_prior_std": 0}, "weight_prior_std must be a finite number > 0"),
    ({"n_observations": 10, "rate_prior_std": 1.0}, "must be given together"),
    ({"n_observations": 10, "rate_prior_mean": 0.1, "rate_prior_std": -1.0}, "rate_prior_std must be"),
])
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ELBOLoss(**kwargs)


def test_rate_prior_std_can_be_annealed():
    loss = ELBOLoss(10, rate_prior_mean=0.05, rate_prior_std=1.0)
    loss.rate_prior_std = 0.1
    assert loss.rate_prior_std == 0.1
    with pytest.raises(ValueError, match="rate_prior_std"):
        loss.rate_prior_std = float("nan")


def test_one_loss_serves_several_models(model_and_batch):
    model, x, y = model_and_batch
    other = AdaptiveMLP(3, 4, hidden=[AdaptiveWidth(0.5)]).double()
    loss = ELBOLoss(10)
    first = loss(model, model(x), y).weight_prior
    second = loss(other, other(x), y).weight_prior
    expected = sum((p**2).sum() for n, p in other.named_parameters() if not n.endswith("raw_rate")) / (2 * 100 * 10)
    torch.testing.assert_close(second, expected)
    torch.testing.assert_close(loss(model, model(x), y).weight_prior, first)
