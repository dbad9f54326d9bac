"""TINY growth (awgnn.growth.tiny) through GroMo: statistics, new neurons, line search, growth on a GIN."""

import importlib
import sys

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("gromo")

from growth_helpers import (  # noqa: E402
    assert_training_keeps_grown_widths,
    away_from_identity_,
    gin_loss,
    new_fair_gin,
    new_gin,
    trained_gin,
)

import awgnn  # noqa: E402
from awgnn import AdaptiveMLP, AdaptiveWidth  # noqa: E402
from awgnn.growth import TinyGrowth, fix_hidden_widths_, growable_layers  # noqa: E402
from awgnn.growth.tiny import TinyExtension, TinyNeurons, tiny_statistics  # noqa: E402

# -- fixtures -------------------------------------------------------------------------------


def tiny_mlp(activation="tanh", width=5, classes=4, seed=0, max_width=256, hidden_norm=None):
    """A float64 MLP 3 -> width -> classes with a fixed hidden width, and two batches of (x, y).

    With ``hidden_norm``, its batch norm is far from an identity normalisation."""
    torch.manual_seed(seed)
    mlp = AdaptiveMLP(
        3,
        classes,
        hidden=[AdaptiveWidth(initial_width=width, max_width=max_width)],
        activation=activation,
        hidden_norm=hidden_norm,
    ).double()
    fix_hidden_widths_(mlp)
    if hidden_norm is not None:
        away_from_identity_(mlp[1])
    generator = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(40, 3, generator=generator, dtype=torch.float64)
    y = torch.randint(0, classes, (40,), generator=generator)
    return mlp, [(x[:25], y[:25]), (x[25:], y[25:])]


def mlp_loss(model, batch):
    return F.cross_entropy(model(batch[0]), batch[1], reduction="sum")


def total_loss(model, batches, loss_fn):
    """The summed loss in eval mode, added in the order the line search adds it."""
    training = model.training
    model.eval()
    with torch.no_grad():
        loss = sum(float(loss_fn(model, batch)) for batch in batches)
    model.train(training)
    return loss


def outputs(model, loader):
    model.eval()
    with torch.no_grad():
        return torch.cat([model(b.x, b.edge_index, b.batch, b.num_graphs) for b in loader])


# -- statistics and new neurons against the papers' formulas -----------------------------------


def reference_tiny(mlp, batches, max_neurons, threshold):
    """S, M, S_b, M_-2, C, then dW*, N and the SVD of S_b^{-1/2} N, written out with plain torch in float64."""
    weight, bias, outgoing, outgoing_bias = mlp[0].weight, mlp[0].bias, mlp[3].weight, mlp[3].bias
    rows_b, rows_h, rows_g = [], [], []
    for x, y in batches:
        b = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
        h = torch.tanh(x @ weight.detach().T + bias.detach())
        u = (h @ outgoing.detach().T + outgoing_bias.detach()).requires_grad_()
        (g,) = torch.autograd.grad(F.cross_entropy(u, y, reduction="sum"), u)
        rows_b.append(b)
        rows_h.append(torch.cat([h, torch.ones(len(x), 1, dtype=x.dtype)], 1))
        rows_g.append(g)
    b, h, g = torch.cat(rows_b), torch.cat(rows_h), torch.cat(rows_g)
    n = len(b)
    s, m, s_b, m_prev, c = h.T @ h / n, h.T @ g / n, b.T @ b / n, b.T @ g / n, b.T @ h / n
    delta = torch.linalg.solve(s, m).T
    goal = -m_prev + c @ delta.T
    values, vectors = torch.linalg.eigh(s_b)
    s_b_inverse_root = vectors @ torch.diag(values.rsqrt()) @ vectors.T
    u_, sigma, v_t = torch.linalg.svd(s_b_inverse_root @ goal, full_matrices=False)
    k = min(max_neurons, int((sigma >= threshold).sum()))
    fan_in = (sigma[:k].sqrt() * (s_b_inverse_root @ u_[:, :k])).T
    fan_out = sigma[:k].sqrt() * v_t[:k].T
    return dict(tensor_s=s, tensor_m=m, tensor_s_growth=s_b, tensor_m_prev=m_prev, cross_covariance=c, samples=n), (
        fan_in,
        fan_out,
        sigma,
    )


def test_statistics_match_the_formulas():
    mlp, batches = tiny_mlp()
    layers = growable_layers(mlp)
    stats = tiny_statistics(mlp, layers, batches, mlp_loss)[0]
    reference, _ = reference_tiny(mlp, batches, 4, 1e-3)
    assert stats.samples == 40
    for name in ("tensor_s", "tensor_m", "tensor_s_growth", "tensor_m_prev", "cross_covariance"):
        assert getattr(stats, name).dtype == torch.float64
        assert torch.allclose(getattr(stats, name), reference[name], rtol=0, atol=1e-13), name
    assert stats.tensor_s.shape == (6, 6) and stats.tensor_m.shape == (6, 4)
    assert stats.tensor_s_growth.shape == (4, 4) and stats.cross_covariance.shape == (4, 6)


def test_new_neurons_match_the_formulas():
    mlp, batches = tiny_mlp()
    stats = tiny_statistics(mlp, growable_layers(mlp), batches, mlp_loss)[0]
    _, (_, _, sigma) = reference_tiny(mlp, batches, 4, 1e-3)
    # Rank 3: cross-entropy gradients sum to zero over the 4 classes, so N 1 = 0.
    assert sigma.shape == (4,) and bool((sigma[:3] > 4e-3).all()) and sigma[3] < 1e-15
    # Thresholds: all above, one between the 2nd and 3rd singular values, the max count, one above all.
    cases = [(8, 1e-3), (8, float(sigma[1:3].mean())), (1, 1e-3), (8, float(sigma[0]) * 2)]
    for max_neurons, threshold in cases:
        neurons = TinyNeurons.from_statistics(stats, max_neurons, threshold)
        fan_in, fan_out, sigma = reference_tiny(mlp, batches, max_neurons, threshold)[1]
        k = fan_in.shape[0]
        assert neurons.count == k and neurons.fan_in.shape == (k, 4) and neurons.fan_out.shape == (4, k)
        assert torch.allclose(neurons.singular_values, sigma[:k], rtol=1e-10, atol=0)
        # A singular pair is defined up to a joint sign: align each neuron on the reference's.
        signs = torch.sign((neurons.fan_out * fan_out).sum(0))
        assert torch.allclose(neurons.fan_in * signs[:, None], fan_in, rtol=1e-9, atol=1e-12)
        assert torch.allclose(neurons.fan_out * signs, fan_out, rtol=1e-9, atol=1e-12)
    assert [TinyNeurons.from_statistics(stats, m, t).count for m, t in cases] == [3, 2, 1, 0]


# -- the extension and gamma = 0 ----------------------------------------------------------------


def test_gamma_zero_gives_exactly_the_pre_growth_outputs_and_loss():
    model, loader, optimizer = trained_gin()
    layers = growable_layers(model)
    step = TinyGrowth(8, threshold=1e-6)
    found = step.neurons(model, layers, loader, gin_loss)
    assert all(n.count > 0 for n in found)  # every layer has neurons, so gamma = 0 is a real test
    before, loss = outputs(model, loader), total_loss(model, loader, gin_loss)
    for layer, neurons in zip(layers, found):
        with TinyExtension(layer, neurons, 0.0):
            assert torch.equal(outputs(model, loader), before)
        with TinyExtension(layer, neurons, 0.5):
            assert not torch.equal(outputs(model, loader), before)
        assert step.line_search(model, layer, neurons, loader, gin_loss)[0.0] == loss
    assert torch.equal(outputs(model, loader), before)  # the hooks are gone
    widths = model.layer_widths()
    result = TinyGrowth(8, threshold=1e-6, gammas=(0.0,)).grow_(model, loader, gin_loss, optimizer)
    assert result.added == 0 and result.predicted_change == 0.0 and model.layer_widths() == widths
    assert torch.equal(outputs(model, loader), before)


@pytest.mark.parametrize("hidden_norm, training", [(None, False), ("batch_norm", False), ("batch_norm", True)])
def test_the_extension_is_what_growth_applies(hidden_norm, training):
    """Also through a hidden batch norm, in eval mode and in training mode on a batch of the statistics' rows."""
    mlp, batches = tiny_mlp(hidden_norm=hidden_norm)
    layer = growable_layers(mlp)[0]
    neurons = TinyNeurons.from_statistics(tiny_statistics(mlp, [layer], batches, mlp_loss)[0], 8, 1e-3)
    x = torch.cat([x for x, _ in batches])
    mlp.train(training)
    with torch.no_grad(), TinyExtension(layer, neurons, 0.5):
        extended = mlp(x)
    rows = layer.incoming
    layer.grow_(
        torch.zeros(0, dtype=torch.long),
        torch.zeros(0, 4, dtype=torch.float64),
        0.5 * neurons.fan_in,
        0.5 * neurons.fan_out,
        input_moment=neurons.input_moment,
    )
    with torch.no_grad():
        assert torch.allclose(mlp(x), extended, rtol=0, atol=1e-12)
    assert torch.equal(layer.incoming[:5], rows) and torch.allclose(layer.incoming[5:], 0.5 * neurons.fan_in)


def test_first_order_change_without_the_best_update():
    """Neurons alone (dW* not applied) change the loss by n g^2 a' M_-2 w = n g^2 (-s^2 + a' C dW*' w): here a rise."""
    mlp, batches = tiny_mlp()
    layer = growable_layers(mlp)[0]
    stats = tiny_statistics(mlp, [layer], batches, mlp_loss)[0]
    neurons = TinyNeurons.from_statistics(stats, 1, 1e-3)
    alpha, omega, sigma = neurons.fan_in[0], neurons.fan_out[:, 0], neurons.singular_values[0]
    delta = torch.linalg.solve(stats.tensor_s, stats.tensor_m).T
    slope = 40 * float(alpha @ stats.tensor_m_prev @ omega)  # tanh'(0) = 1, 40 rows
    assert slope == pytest.approx(40 * float(-(sigma**2) + alpha @ stats.cross_covariance @ delta.T @ omega), rel=1e-10)
    losses = TinyGrowth(1, gammas=(0.0, 1e-3)).line_search(mlp, layer, neurons, batches, mlp_loss)
    assert (losses[1e-3] - losses[0.0]) / 1e-6 == pytest.approx(slope, rel=1e-2)
    # The cross term wins on this untrained MLP: every gamma raises the loss, so nothing grows.
    assert slope > 0 and sigma > 1e-2
    losses = TinyGrowth(1).line_search(mlp, layer, neurons, batches, mlp_loss)
    assert min(losses, key=losses.get) == 0.0
    result = TinyGrowth(1).grow_(mlp, batches, mlp_loss)
    assert result.added == 0 and result.predicted_change == 0.0 and mlp.widths[0].width == 5


# -- the line search ------------------------------------------------------------------------------


def bottleneck_mlp(max_width=256):
    """A 2-neuron tanh MLP on 4 classes trained to its bottleneck, its batches and Adam optimizer."""
    mlp, batches = tiny_mlp(width=2, seed=3, max_width=max_width)
    optimizer = torch.optim.Adam(mlp.parameters(), lr=0.05)
    for _ in range(200):
        for batch in batches:
            optimizer.zero_grad()
            mlp_loss(mlp, batch).backward()
            optimizer.step()
    return mlp, batches, optimizer


def test_line_search_picks_a_gamma_that_lowers_the_training_loss():
    mlp, batches, optimizer = bottleneck_mlp()
    layer = growable_layers(mlp)[0]
    step = TinyGrowth(4)
    neurons = step.neurons(mlp, [layer], batches, mlp_loss)[0]
    losses = step.line_search(mlp, layer, neurons, batches, mlp_loss)
    before = total_loss(mlp, batches, mlp_loss)
    assert list(losses) == [0.0, 0.125, 0.25, 0.5, 1.0, 2.0] and losses[0.0] == before
    best = min(losses, key=losses.get)
    assert best > 0 and losses[best] < before - 0.5
    result = step.grow_(mlp, batches, mlp_loss, optimizer)
    after = total_loss(mlp, batches, mlp_loss)
    assert [(g.old, g.new, g.split, g.added) for g in result.layers] == [(2, 2 + neurons.count, 0, neurons.count)]
    assert result.predicted_change == pytest.approx(losses[best] - before, rel=1e-12)
    assert after == pytest.approx(losses[best], rel=1e-12)
    assert torch.allclose(layer.incoming[2:], best * neurons.fan_in)
    assert torch.allclose(layer.outgoing[:, 2:], best * neurons.fan_out)


@pytest.mark.parametrize("build", [new_gin, new_fair_gin])
def test_growth_lowers_a_gin_training_loss(build):
    """The loss after growth is the one the line search measured, also through FairGIN's batch norms."""
    model, loader, optimizer = trained_gin(build=build)
    before = total_loss(model, loader, gin_loss)
    result = TinyGrowth(8).grow_(model, loader, gin_loss, optimizer)
    after = total_loss(model, loader, gin_loss)
    assert result.added > 0 and result.predicted_change < 0
    assert after - before == pytest.approx(result.predicted_change, rel=1e-3)


# -- shapes, optimizer state --------------------------------------------------------------------


def test_widths_shapes_and_optimizer_state_after_a_step():
    model, loader, optimizer = trained_gin()
    layers = growable_layers(model)
    params = dict(model.named_parameters())
    norms = [block.mlp[4] for block in model.blocks]
    running = [(n.running_mean.clone(), n.running_var.clone()) for n in norms]
    states = {
        layer.name: {
            key: optimizer.state[p]["exp_avg"].clone()
            for key, p in (
                ("rows", layer.linear.weight),
                ("bias", layer.linear.bias),
                ("columns", layer.consumer.weight),
            )
        }
        for layer in layers
    }
    result = TinyGrowth(3, threshold=1e-6).grow_(model, loader, gin_loss, optimizer)
    grown = {g.name: g for g in result.layers}
    assert [(g.old, g.new) for g in result.layers] == [(8, 11), (8, 11), (8, 11)]
    assert model.layer_widths() == {"block0": 11, "block1": 11, "block2": 11}
    for layer in layers:
        old, width = grown[layer.name].old, grown[layer.name].new
        assert layer.width.width == width and layer.linear.weight.shape == (width, layer.linear.weight.shape[1])
        assert layer.linear.bias.shape == (width,) and layer.consumer.weight.shape[1] == width
        for param in (layer.linear.weight, layer.linear.bias, layer.consumer.weight):
            for value in optimizer.state[param].values():
                if value.dim():
                    assert value.shape == param.shape
        # "carry": surviving neurons keep their Adam state, new ones start from Adam's zeros.
        rows = optimizer.state[layer.linear.weight]["exp_avg"]
        columns = optimizer.state[layer.consumer.weight]["exp_avg"]
        assert torch.equal(rows[:old], states[layer.name]["rows"]) and not rows[old:].any()
        assert torch.equal(optimizer.state[layer.linear.bias]["exp_avg"][:old], states[layer.name]["bias"])
        assert torch.equal(columns[:, :old], states[layer.name]["columns"]) and not columns[:, old:].any()
    assert all(p is params[name] for name, p in model.named_parameters())  # identities kept
    for norm, (mean, var) in zip(norms, running):  # statistics and line search ran in eval mode
        assert torch.equal(norm.running_mean, mean) and torch.equal(norm.running_var, var)
    assert model.layer_widths() == {"block0": 11, "block1": 11, "block2": 11}
    assert_training_keeps_grown_widths(model, loader, optimizer)


def test_reset_policy_and_max_width():
    mlp, batches, optimizer = bottleneck_mlp(max_width=3)
    result = TinyGrowth(8).grow_(mlp, batches, mlp_loss, optimizer, optimizer_state="reset")
    assert [(g.old, g.new) for g in result.layers] == [(2, 3)] and mlp.widths[0].width == 3
    assert len(optimizer.state[mlp[0].weight]) == 0 and len(optimizer.state[mlp[3].weight]) == 0  # forgotten
    assert TinyGrowth(8).grow_(mlp, batches, mlp_loss).added == 0  # no room left


# -- GroMo missing, arguments ----------------------------------------------------------------------


def test_without_gromo_the_package_imports_and_tiny_says_how_to_install(monkeypatch):
    original = sys.modules["awgnn.growth"]
    monkeypatch.setitem(sys.modules, "gromo", None)
    for name in ("awgnn.growth", "awgnn.growth.tiny"):
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(awgnn, "growth", awgnn.growth)
    fresh = importlib.import_module("awgnn.growth")
    assert fresh is not original and "TinyGrowth" in fresh.__all__  # imported again, without GroMo
    with pytest.raises(ImportError, match=r'pip install "awgnn\[growth\]"') as info:
        fresh.TinyGrowth(8)
    assert "Python >= 3.11" in str(info.value)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="neurons_per_layer must be an integer >= 1"):
        TinyGrowth(0)
    with pytest.raises(ValueError, match="threshold must be a finite number > 0"):
        TinyGrowth(8, threshold=0.0)
    with pytest.raises(ValueError, match="gammas must be a non-empty sequence"):
        TinyGrowth(8, gammas=())
    with pytest.raises(ValueError, match=r"gammas\[1\] must be a finite number >= 0"):
        TinyGrowth(8, gammas=(0.0, -1.0))
    with pytest.raises(ValueError, match="gammas must be distinct"):
        TinyGrowth(8, gammas=(0.0, 1.0, 1))
    mlp, batches = tiny_mlp()
    with pytest.raises(ValueError, match="optimizer_state must be one of"):
        TinyGrowth(8).grow_(mlp, batches, mlp_loss, optimizer_state="keep")
    with pytest.raises(ValueError, match="batches must be re-iterable"):
        TinyGrowth(8).grow_(mlp, iter(batches), mlp_loss)
    with pytest.raises(ValueError, match="batches is empty"):
        TinyGrowth(8).grow_(mlp, [], mlp_loss)
    with pytest.raises(ValueError, match="gamma must be a finite number >= 0"):
        TinyExtension(growable_layers(mlp)[0], None, -0.5)
    assert mlp.widths[0].width == 5
