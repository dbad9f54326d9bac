import math

import pytest
import torch

from awgnn import AdaptiveWidth, DiscretisedExponential

K = 0.9


def closed_form_importances(rate: float, width: int, support: int | None = None) -> torch.Tensor:
    support = width if support is None else support
    j = torch.arange(support, dtype=torch.float64)
    p = torch.exp(-rate * j) * (1 - math.exp(-rate)) + 1e-6
    return (p / p.sum())[:width]


@pytest.mark.parametrize("lambda0, width", [(0.05, 48), (0.02, 117), (0.01, 232), (0.004, 577), (0.0005, 4607)])
def test_width_matches_reference_table(lambda0, width):
    adaptive = AdaptiveWidth(lambda0, max_width=10**6)
    assert adaptive.width == width
    assert adaptive.width == math.floor(-math.log(1 - K) / lambda0 + 2)


@pytest.mark.parametrize("lambda0", [0.05, 0.02, 0.01, 0.004])
def test_importances_closed_form(lambda0):
    adaptive = AdaptiveWidth(lambda0).double()
    f = adaptive.importances().detach()
    assert f.shape == (adaptive.width,)
    rate = adaptive.rate.item()
    assert rate == pytest.approx(lambda0, rel=1e-6)
    torch.testing.assert_close(f, closed_form_importances(rate, adaptive.width), rtol=1e-9, atol=0)
    assert f.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert bool((f[1:] < f[:-1]).all()), "importances must strictly decrease"
    assert f[-1].item() / f[0].item() == pytest.approx(0.1, rel=0.1)


def test_table_values_for_graph_default():
    f = AdaptiveWidth().double().importances().detach()
    assert f[0].item() == pytest.approx(0.0219, abs=5e-5)
    assert f[-1].item() == pytest.approx(0.00215, abs=5e-6)
    assert f.square().sum().item() == pytest.approx(0.01213, abs=5e-6)


def test_gradient_reaches_rate():
    adaptive = AdaptiveWidth(0.02).double()
    h = torch.ones(4, adaptive.width, dtype=torch.float64)
    # A loss that prefers mass on the tail must push the rate down (wider).
    loss = -(adaptive(h)[:, adaptive.width // 2 :]).sum()
    loss.backward()
    grad = adaptive.raw_rate.grad
    assert grad is not None and torch.isfinite(grad) and grad.item() > 0

    # Against a finite difference of the closed form.
    def tail_mass(raw: float) -> float:
        rate = math.log1p(math.exp(raw))
        return closed_form_importances(rate, adaptive.width)[adaptive.width // 2 :].sum().item()

    raw = adaptive.raw_rate.item()
    numeric = -4 * (tail_mass(raw + 1e-6) - tail_mass(raw - 1e-6)) / 2e-6
    assert grad.item() == pytest.approx(numeric, rel=1e-4)


def test_initial_width_option():
    for width in (2, 3, 10, 64, 117, 1000):
        assert AdaptiveWidth(initial_width=width).width == width


def test_support_larger_than_width_keeps_normalisation():
    adaptive = AdaptiveWidth(0.05).double()
    adaptive.truncate_(20)
    expected = closed_form_importances(adaptive.rate.item(), 20, 48)
    torch.testing.assert_close(adaptive.importances().detach(), expected)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"k": 1.0}, "open interval"),
        ({"k": 0.0}, "open interval"),
        ({"k": float("nan")}, "open interval"),
        ({"lambda0": 0.0}, "lambda0 must be a finite number > 0"),
        ({"lambda0": -1.0}, "lambda0 must be a finite number > 0"),
        ({"lambda0": float("inf")}, "lambda0 must be a finite number > 0"),
        ({"lambda0": float("nan")}, "lambda0 must be a finite number > 0"),
        ({"min_width": 0}, "min_width must be an integer >= 1"),
        ({"max_width": 2}, "max_width must be > 2"),
        ({"lambda0": 0.0005}, "above max_width=4096"),
        ({"lambda0": 0.1, "initial_width": 10}, "either lambda0 or initial_width"),
        ({"min_width": 10, "max_width": 5}, "max_width must be an integer >= 10"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AdaptiveWidth(**kwargs)


def test_distribution_validation():
    with pytest.raises(ValueError, match="floor"):
        DiscretisedExponential(floor=-1)
    with pytest.raises(ValueError, match="rate must be a finite number > 0"):
        DiscretisedExponential().truncation_width(0.0, K)
    with pytest.raises(ValueError, match="open interval"):
        DiscretisedExponential().truncation_width(0.1, 1.5)


def test_max_width_caps_and_projects_rate_after_update():
    adaptive = AdaptiveWidth(initial_width=50, max_width=60)
    with torch.no_grad():
        adaptive.raw_rate.fill_(-8.0)  # rate ~3e-4: asks for thousands of neurons
    raw_before = adaptive.raw_rate.item()
    assert adaptive.rate.item() < 1e-3 and adaptive.raw_rate.item() == raw_before, (
        "reading the rate must not rewrite the parameter"
    )
    with pytest.warns(UserWarning, match="max_width=60"):
        change = adaptive.update_("layer", optimizer=None)
    assert change.new == 60 and change.capped and adaptive.capped
    assert adaptive.width == 60
    # Projected into the middle of the rates that give width 60, not onto their edge.
    projected = -math.log(1 - K) / (60 - 2 + 0.5)
    assert adaptive.rate.item() == pytest.approx(projected, rel=1e-5)
    assert adaptive.history[-1].capped
