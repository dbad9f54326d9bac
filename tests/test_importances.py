"""Batched importances: the same values and gradients as layer-by-layer ones, used during a model's forward."""

import copy

import pytest
import torch

import awgnn
from awgnn import AdaptiveMLP, AdaptiveWidth, DiscretisedExponential
from awgnn.models import AdaptiveGCNClassifier, AdaptiveGINClassifier
from awgnn.nn import AdaptiveGIN
from awgnn.width.importances import batched_importances, share_importances
from awgnn.width.normalised_mass import normalised_masses, support_layout


def mixed_widths() -> list[AdaptiveWidth]:
    """Different widths and supports, a fixed width and a second distribution family."""
    widths = [AdaptiveWidth(initial_width=n).double() for n in (7, 12, 30)]
    widths[1].truncate_(9)  # support 12 > width 9: normalised over the old support
    fixed = AdaptiveWidth(initial_width=5).double()
    fixed.fix_()
    other_family = AdaptiveWidth(initial_width=10, distribution=DiscretisedExponential(floor=1e-2)).double()
    return [*widths, fixed, other_family]


def test_batched_importances_equal_per_layer_values_and_rate_gradients():
    widths = mixed_widths()
    torch.manual_seed(0)
    weights = [torch.randn(w.width, dtype=torch.float64) for w in widths]

    def rate_gradients(vectors):
        for w in widths:
            w.raw_rate.grad = None
        sum((f * g).sum() for f, g in zip(vectors, weights)).backward()
        return [None if w.raw_rate.grad is None else w.raw_rate.grad.clone() for w in widths]

    batched = batched_importances(widths)
    layer_by_layer = [w.importances() for w in widths]
    for got, expected in zip(batched, layer_by_layer):
        torch.testing.assert_close(got, expected)
    got, expected = rate_gradients(batched), rate_gradients(layer_by_layer)
    assert got[3] is None and expected[3] is None  # the fixed width's rate does not learn
    for g, e in zip(got[:3] + got[4:], expected[:3] + expected[4:]):
        torch.testing.assert_close(g, e)


def test_a_shared_model_computes_the_same_outputs_and_gradients():
    torch.manual_seed(1)
    plain = AdaptiveMLP(4, 3, hidden=[AdaptiveWidth(initial_width=9), AdaptiveWidth(initial_width=6)]).double()
    shared = copy.deepcopy(plain)
    handle = share_importances(shared)
    x = torch.randn(8, 4, dtype=torch.float64)
    outputs = [model(x) for model in (plain, shared)]
    torch.testing.assert_close(outputs[1], outputs[0])
    for output in outputs:
        output.square().sum().backward()
    for (name, p), q in zip(plain.named_parameters(), shared.parameters()):
        torch.testing.assert_close(q.grad, p.grad, msg=name)
    handle.remove()
    assert not shared._forward_pre_hooks and not shared._forward_hooks


def test_adaptive_classifiers_use_the_batched_vectors_only_during_their_forward():
    model = AdaptiveGINClassifier(5, 2, initial_width=8)
    widths = [w for _, w in awgnn.width.adaptive_widths(model)]
    seen = []
    model.blocks[0].register_forward_pre_hook(
        lambda module, args: seen.append([w.shared_importances is not None for w in widths])
    )
    x, edge_index = torch.randn(6, 5), torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    model(x, edge_index)
    assert seen == [[True] * len(widths)]
    assert all(w.shared_importances is None for w in widths)


def test_a_failed_forward_leaves_no_shared_vector_behind():
    model = AdaptiveGCNClassifier(5, 2, initial_width=8)
    with pytest.raises(RuntimeError):
        model(torch.randn(6, 4), torch.tensor([[0, 1], [1, 2]]))  # wrong feature size
    assert all(w.shared_importances is None for _, w in awgnn.width.adaptive_widths(model))


@pytest.mark.parametrize(
    "build",
    [
        lambda: AdaptiveGINClassifier(5, 2, initial_width=8),
        lambda: AdaptiveGIN(5, None, 2, out_channels=2, initial_width=8),
    ],
)
def test_models_share_their_importances_and_frozen_copies_carry_no_hook(build):
    model = build()
    assert model._forward_pre_hooks and model._forward_hooks
    model(torch.randn(6, 5), torch.tensor([[0, 1, 2], [1, 2, 3]]))
    frozen = awgnn.freeze(model)
    assert not frozen._forward_pre_hooks and not frozen._forward_hooks


def test_models_without_a_learned_width_get_no_hooks():
    assert share_importances(torch.nn.Linear(3, 2)) is None


def test_inference_reuses_the_vectors_until_a_rate_or_width_changes():
    model = AdaptiveGINClassifier(5, 2, initial_width=8).eval()
    width = model.input_block.widths[0]
    x, edge_index = torch.randn(6, 5), torch.tensor([[0, 1, 2], [1, 2, 3]])
    captured = []
    model.blocks[0].register_forward_pre_hook(lambda module, args: captured.append(width.shared_importances))
    with torch.no_grad():
        first = model(x, edge_index)
        model(x, edge_index)
        assert captured[1] is captured[0]
        width.raw_rate.add_(0.5)  # the rate changed: new vectors
        changed = model(x, edge_index)
        assert captured[2] is not captured[1]
        torch.testing.assert_close(captured[2], width.importances())
        assert not torch.allclose(changed, first)
        width.truncate_(5)
        model(x, edge_index)
        assert captured[3].shape == (5,)
    model(x, edge_index)  # with gradient: always computed afresh
    assert captured[4] is not captured[3] and captured[4].requires_grad


def autograd_importances(distribution, raw_rate, width, support):
    """The importances through autograd's own operators: the reference for the closed-form gradient."""
    index = torch.arange(support, dtype=raw_rate.dtype)
    mass = distribution.unnormalised_mass(index, torch.nn.functional.softplus(raw_rate))
    return mass[:width] / mass.sum()


class PowerLaw(awgnn.width.WidthDistribution):
    """A family without a closed-form derivative: the forward-mode default supplies it."""

    def unnormalised_mass(self, index, rate):
        return (1 + index) ** (-1 - rate)

    def truncation_width(self, rate, k):
        return 50

    def rate_for_width(self, width, k):
        return 1.0


@pytest.mark.parametrize(
    "distribution", [DiscretisedExponential(), DiscretisedExponential(floor=0.0, offset=3), PowerLaw()]
)
def test_normalised_masses_match_autograd_in_value_and_gradient(distribution):
    raw_rates = [torch.tensor(value, dtype=torch.float64, requires_grad=True) for value in (-3.9, -2.5, 0.7)]
    widths, supports = (7, 9, 30), (7, 12, 30)  # the second is truncated: normalised over its old support
    layout = support_layout(supports, raw_rates[0])
    got = normalised_masses(distribution, layout, widths, raw_rates)
    expected = [autograd_importances(distribution, r, w, s) for r, w, s in zip(raw_rates, widths, supports)]
    torch.manual_seed(0)
    weights = [torch.randn(w, dtype=torch.float64) for w in widths]
    for vectors in (got, expected):
        assert [v.shape for v in vectors] == [(w,) for w in widths]
    gradients = [
        torch.autograd.grad(sum((v * g).sum() for v, g in zip(vectors, weights)), raw_rates)
        for vectors in (got, expected)
    ]
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e)
    for g, e in zip(*gradients):
        torch.testing.assert_close(g, e)
    assert torch.autograd.gradcheck(
        lambda *rates: normalised_masses(distribution, layout, widths, rates), tuple(raw_rates)
    )


def test_closed_form_rate_derivative_equals_forward_mode():
    distribution = DiscretisedExponential(floor=1e-3)
    index = torch.arange(40, dtype=torch.float64)
    rate = torch.tensor([[0.01], [0.3]], dtype=torch.float64)
    closed = distribution.mass_and_rate_derivative(index, rate)
    forward_mode = awgnn.width.WidthDistribution.mass_and_rate_derivative(distribution, index, rate)
    for c, f in zip(closed, forward_mode):
        torch.testing.assert_close(c, f)


def test_second_derivatives_through_the_importances_are_exact():
    raw_rates = tuple(torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (-3.0, -1.2))
    layout = support_layout((5, 9), raw_rates[0])
    assert torch.autograd.gradgradcheck(
        lambda *rates: normalised_masses(DiscretisedExponential(), layout, (5, 7), rates), raw_rates
    )


def test_support_layout_lists_every_entry_of_every_width():
    layout = support_layout((3, 1, 2), torch.zeros((), dtype=torch.float64))
    assert layout.index.tolist() == [0, 1, 2, 0, 0, 1] and layout.index.dtype == torch.float64
    assert layout.segment.tolist() == [0, 0, 0, 1, 2, 2]
    single = support_layout((4,), torch.zeros(()))
    assert single.index.tolist() == [0, 1, 2, 3] and single.segment.tolist() == [0, 0, 0, 0]
