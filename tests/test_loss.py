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


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_observations": 0}, "n_observations must be an integer >= 1"),
        ({"n_observations": 10.5}, "n_observations must be an integer >= 1"),
        ({"n_observations": 10, "weight_prior_std": 0}, "weight_prior_std must be a finite number > 0"),
        ({"n_observations": 10, "rate_prior_std": 1.0}, "must be given together"),
        ({"n_observations": 10, "rate_prior_mean": 0.1, "rate_prior_std": -1.0}, "rate_prior_std must be"),
    ],
)
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


# -- the levers of issue #9: their effect on the rate's gradient, against closed forms -------------------


def _rate_gradient(width, loss):
    """d loss / d raw rate with no data term: only the priors act on the rate."""
    model = torch.nn.Sequential(width)
    width.raw_rate.grad = None
    loss(model, width(torch.ones(1, width.width, dtype=torch.float64)), None).total.backward()
    return width.raw_rate.grad.item()


def _no_data(prediction, target):
    return prediction.sum() * 0


@pytest.mark.parametrize("initial_width, centre, s, n", [(8, 16, 0.3, 150), (320, 16, 0.3, 800), (40, 40, 1.0, 10)])
def test_width_prior_term_and_rate_gradient_match_closed_form(initial_width, centre, s, n):
    width = AdaptiveWidth(initial_width=initial_width).double()
    loss = ELBOLoss(n, width_prior_centre=centre, width_prior_std=s, data_loss=_no_data)
    w = width.raw_rate.item()
    rate = math.log1p(math.exp(w))
    centre_rate = -math.log(0.1) / (centre - 2 + 0.5)  # DiscretisedExponential.rate_for_width at k = 0.9
    term = loss(torch.nn.Sequential(width), width(torch.ones(1, width.width, dtype=torch.float64)), None).rate_prior
    expected_term = (math.log(s) + (math.log(rate) - math.log(centre_rate)) ** 2 / (2 * s**2)) / n
    assert term.item() == pytest.approx(expected_term, rel=1e-9)
    # d/dw of (ln softplus(w) - ln c)^2 / (2 s^2 N) = (ln lambda - ln c) / (s^2 N) * sigmoid(w) / lambda
    sigmoid = 1 / (1 + math.exp(-w))
    expected = (math.log(rate) - math.log(centre_rate)) / (s**2 * n) * sigmoid / rate
    assert _rate_gradient(width, loss) == pytest.approx(expected, rel=1e-9)


def test_width_prior_pulls_narrow_and_wide_layers_towards_its_centre_with_equal_strength_per_factor():
    loss = ELBOLoss(100, width_prior_centre=32, width_prior_std=0.5, data_loss=_no_data)
    narrow = _rate_gradient(AdaptiveWidth(initial_width=8).double(), loss)
    wide = _rate_gradient(AdaptiveWidth(initial_width=122).double(), loss)
    at_centre = _rate_gradient(AdaptiveWidth(initial_width=32).double(), loss)
    # A gradient descent step moves the raw rate against the gradient: down (wider) when narrow.
    assert narrow > 0 > wide
    assert abs(at_centre) < 1e-3 * abs(narrow)
    # 8 and 122 neurons are about a factor 4 from 32 on the (width - 2) scale: nearly equal pulls,
    # unlike the prior on lambda, whose pull on the wide layer is a small fraction of that on the narrow one.
    assert abs(wide) / abs(narrow) == pytest.approx(1, abs=0.15)
    rate_prior = ELBOLoss(100, rate_prior_mean=0.071, rate_prior_std=0.05, data_loss=_no_data)
    ratio = abs(_rate_gradient(AdaptiveWidth(initial_width=122).double(), rate_prior)) / abs(
        _rate_gradient(AdaptiveWidth(initial_width=8).double(), rate_prior)
    )
    assert ratio < 0.1


def test_rate_prior_gradient_matches_closed_form():
    width = AdaptiveWidth(initial_width=50).double()
    n, mu, sigma = 300, 0.05, 0.02
    w = width.raw_rate.item()
    rate, sigmoid = math.log1p(math.exp(w)), 1 / (1 + math.exp(-w))
    loss = ELBOLoss(n, rate_prior_mean=mu, rate_prior_std=sigma, data_loss=_no_data)
    assert _rate_gradient(width, loss) == pytest.approx((rate - mu) / (sigma**2 * n) * sigmoid, rel=1e-9)


def test_the_priors_strength_scales_with_one_over_n():
    width = AdaptiveWidth(initial_width=64).double()
    gradients = [
        _rate_gradient(width, ELBOLoss(n, width_prior_centre=16, width_prior_std=0.3, data_loss=_no_data))
        for n in (100, 400)
    ]
    assert gradients[0] == pytest.approx(4 * gradients[1], rel=1e-12)


def test_the_weight_prior_never_acts_on_the_rate_directly(model_and_batch):
    # sigma_theta reaches the rates only through the weights' training, never through the rate's gradient.
    model, x, y = model_and_batch
    grads = []
    for sigma in (0.1, 10.0):
        model.zero_grad()
        ELBOLoss(10, weight_prior_std=sigma)(model, model(x), y).total.backward()
        grads.append([w.raw_rate.grad.clone() for w in model.widths])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"width_prior_centre": 1, "width_prior_std": 0.3}, "width_prior_centre must be an integer >= 2"),
        ({"width_prior_centre": 16, "width_prior_std": 0.0}, "width_prior_std must be a finite number > 0"),
    ],
)
def test_invalid_width_prior(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ELBOLoss(10, **kwargs)


def test_the_default_centre_is_sixteen_neurons():
    width = AdaptiveWidth(initial_width=16).double()
    centred = _rate_gradient(width, ELBOLoss(10, width_prior_std=0.3, data_loss=_no_data))
    off_centre = _rate_gradient(width, ELBOLoss(10, width_prior_centre=32, width_prior_std=0.3, data_loss=_no_data))
    assert abs(centred) < 1e-6 * abs(off_centre)


def test_repr_names_the_width_prior():
    assert "width_prior_centre=16, width_prior_std=0.3" in repr(
        ELBOLoss(10, width_prior_centre=16, width_prior_std=0.3)
    )


def test_weight_prior_gradient_is_theta_over_sigma_squared_n(model_and_batch):
    model, x, y = model_and_batch
    n, sigma = 250, 3.0
    ELBOLoss(n, weight_prior_std=sigma)(model, model(x), y).weight_prior.backward()
    for name, param in model.named_parameters():
        if name.endswith("raw_rate"):
            assert param.grad is None, name
        else:
            torch.testing.assert_close(param.grad, param.detach() / (sigma**2 * n), msg=name)
