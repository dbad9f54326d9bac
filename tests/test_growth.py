"""Growth baselines (awgnn.growth): S2D, its fast variant, Firefly, on fixed-width adaptive layers."""

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from growth_helpers import (
    assert_training_keeps_grown_widths,
    away_from_identity_,
    gin_loss,
    new_fair_gin,
    new_gin,
    trained_gin,
)

from awgnn import AdaptiveMLP, AdaptiveWidth
from awgnn.growth import (
    FireflyCandidates,
    FireflyGrowth,
    GrowableLayer,
    S2DGrowth,
    SecondDerivative,
    SplittingMatrices,
    fix_hidden_widths_,
    growable_layers,
    input_moment,
    node_gradients,
    splitting_matrices,
)
from awgnn.growth.step import select_globally, select_per_layer

# -- fixtures -------------------------------------------------------------------------------


def tiny_mlp(activation="tanh", width=5, seed=0):
    torch.manual_seed(seed)
    mlp = AdaptiveMLP(3, 2, hidden=[AdaptiveWidth(initial_width=width)], activation=activation).double()
    fix_hidden_widths_(mlp)
    return mlp, toy_batches(seed)


def tiny_norm_mlp(activation="tanh", width=5, seed=0):
    """:func:`tiny_mlp` with a batch norm between the hidden layer and its activation, in eval mode, whose
    weight, bias and running statistics are far from an identity normalisation."""
    torch.manual_seed(seed)
    mlp = (
        AdaptiveMLP(3, 2, hidden=[AdaptiveWidth(initial_width=width)], activation=activation, hidden_norm="batch_norm")
        .double()
        .eval()
    )
    fix_hidden_widths_(mlp)
    away_from_identity_(mlp[1])
    return mlp, toy_batches(seed)


def toy_batches(seed):
    """Two batches of 25 and 15 rows (x, y), 3 features, 2 classes."""
    generator = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(40, 3, generator=generator, dtype=torch.float64)
    y = torch.randint(0, 2, (40,), generator=generator)
    return [(x[:25], y[:25]), (x[25:], y[25:])]


def mlp_loss(model, batch):
    return F.cross_entropy(model(batch[0]), batch[1], reduction="sum")


def total_loss(model, batches, loss_fn):
    with torch.no_grad():
        return sum(loss_fn(model, batch) for batch in batches).item()


def outputs(model, loader, training):
    """Logits in eval mode, or in training mode (BatchNorm on batch statistics) on a copy (running statistics move)."""
    model = copy.deepcopy(model).train() if training else model.eval()
    with torch.no_grad():
        return torch.cat([model(b.x, b.edge_index, b.batch, b.num_graphs) for b in loader])


# -- fixed widths -----------------------------------------------------------------------------


def test_fixed_width_has_unit_importances_and_a_rate_that_follows_it():
    width = AdaptiveWidth(initial_width=8)
    width.fix_()
    assert torch.equal(width.importances(), torch.ones(8)) and not width.raw_rate.requires_grad
    width.resize_(13)
    assert torch.equal(width.importances(), torch.ones(13))
    assert width.target_width(width.rate.item()) == 13
    assert width.update_("w", None) is None and width.width == 13
    assert "fixed" in repr(width)


def test_growth_refuses_a_learned_width():
    torch.manual_seed(0)
    mlp = AdaptiveMLP(3, 2, hidden=[AdaptiveWidth(initial_width=5)])
    with pytest.raises(ValueError, match=r"learned; call AdaptiveWidth.fix_\(\)"):
        GrowableLayer(mlp)
    with pytest.raises(ValueError, match="hidden layer"):
        GrowableLayer(mlp, index=1)


def test_learned_importances_would_break_function_preservation():
    """Why growth fixes the width: a halved copy at the tail gets another importance, and all importances change."""
    torch.manual_seed(0)
    learned = AdaptiveMLP(3, 2, hidden=[AdaptiveWidth(initial_width=5)]).double()
    fixed = AdaptiveMLP(3, 2, hidden=[AdaptiveWidth(initial_width=5)]).double()
    fixed.load_state_dict(learned.state_dict())
    fix_hidden_widths_(fixed)
    x = torch.randn(10, 3, dtype=torch.float64)
    for mlp in (learned, fixed):
        before = mlp(x)
        with torch.no_grad():
            weight, bias, outgoing = mlp[0].weight.clone(), mlp[0].bias.clone(), mlp[3].weight.clone()
            mlp.widths[0].resize_(6)
            mlp[0].weight[5], mlp[0].bias[5] = weight[0], bias[0]
            mlp[3].weight[:, 0] = mlp[3].weight[:, 5] = outgoing[:, 0] / 2
        changed = not torch.allclose(mlp(x), before, atol=1e-12)
        assert changed == (mlp is learned)


# -- function preservation at zero scale ---------------------------------------------------------


@pytest.mark.parametrize("build", [new_gin, new_fair_gin])
@pytest.mark.parametrize(
    "step",
    [
        S2DGrowth(fraction=0.3, eps=0.0),
        S2DGrowth(fraction=0.3, eps=0.0, method="rayleigh"),
        FireflyGrowth(fraction=0.35, scale=0.0, generator=torch.Generator().manual_seed(0)),
    ],
)
def test_zero_scale_growth_keeps_the_outputs(step, build):
    """Also through the batch norm inside FairGIN's MLPs: offspring copy their parent's entries."""
    model, loader, optimizer = trained_gin(build=build)
    widths = model.layer_widths()
    before = {training: outputs(model, loader, training) for training in (False, True)}
    result = step.grow_(model, loader, gin_loss, optimizer)
    assert result.added > 0 and sum(model.layer_widths().values()) == sum(widths.values()) + result.added
    for training in (False, True):  # BatchNorm with running and with batch statistics
        assert torch.allclose(outputs(model, loader, training), before[training], atol=1e-5)


# -- S2D: splitting matrices, eigenpairs, loss --------------------------------------------------


def split_loss(mlp, batches, neuron, offset):
    """The loss with ``neuron`` replaced by offspring ``theta +- offset``, each with half its outgoing column
    (and, with a hidden batch norm, its parent's norm entries; eval mode)."""
    linear, consumer = mlp.linears
    norm = mlp[1] if isinstance(mlp[1], torch.nn.BatchNorm1d) else None
    activation = mlp[1] if norm is None else mlp[2]
    rows = torch.cat([linear.weight, linear.bias.unsqueeze(1)], 1)
    plus, minus = rows[neuron] + offset, rows[neuron] - offset
    rows = torch.cat([rows, minus.unsqueeze(0)])
    rows = torch.cat([rows[:neuron], plus.unsqueeze(0), rows[neuron + 1 :]])
    outgoing = consumer.weight
    columns = torch.cat([outgoing, outgoing[:, neuron : neuron + 1] / 2], 1)
    columns = torch.cat([columns[:, :neuron], outgoing[:, neuron : neuron + 1] / 2, columns[:, neuron + 1 :]], 1)
    total = 0
    for x, y in batches:
        a = x @ rows[:, :-1].T + rows[:, -1]
        if norm is not None:
            entries = [
                torch.cat([t, t[neuron : neuron + 1]])
                for t in (norm.running_mean, norm.running_var, norm.weight, norm.bias)
            ]
            a = F.batch_norm(a, *entries, training=False, eps=norm.eps)
        total = total + F.cross_entropy(activation(a) @ columns.T + consumer.bias, y, reduction="sum")
    return total


@pytest.mark.parametrize("build", [tiny_mlp, tiny_norm_mlp])
def test_splitting_matrix_is_the_hessian_of_the_split_loss(build):
    mlp, batches = build("tanh")
    layers = growable_layers(mlp)
    matrices = splitting_matrices(mlp, layers, batches, mlp_loss)[0]
    dense = matrices.dense()
    values, vectors = matrices.minimum_eigenpairs()
    assert dense.shape == (5, 4, 4)
    for neuron in range(5):
        hessian = torch.autograd.functional.hessian(
            lambda offset, neuron=neuron: split_loss(mlp, batches, neuron, offset), torch.zeros(4, dtype=torch.float64)
        )
        assert torch.allclose(dense[neuron], hessian, atol=1e-10)
        reference_values, reference_vectors = torch.linalg.eigh(hessian)
        assert values[neuron].item() == pytest.approx(reference_values[0].item(), abs=1e-10)
        assert abs(float(vectors[neuron] @ reference_vectors[:, 0])) == pytest.approx(1.0, abs=1e-8)
    # The first derivative of the split loss vanishes: splitting is a second-order move.
    gradient = torch.autograd.functional.jacobian(
        lambda offset: split_loss(mlp, batches, 0, offset), torch.zeros(4, dtype=torch.float64)
    )
    assert gradient.abs().max().item() < 1e-12


class DenseSplittingMatrices(SplittingMatrices):
    """Splitting matrices given directly, as stored from a failing run."""

    def __init__(self, dense):
        super().__init__(torch.zeros(1, dense.shape[1]), torch.zeros(1, dense.shape[0]))
        self.stored = dense

    def dense(self, chunk=4096):
        return self.stored


def test_minimum_eigenpairs_of_a_matrix_float32_eigh_cannot_decompose():
    """A splitting matrix met under the protocol with many zero rows: decomposed in float64, so no failure."""
    matrix = torch.from_numpy(np.loadtxt(Path(__file__).parent / "data" / "s2d_ill_conditioned_matrix.txt"))
    matrices = DenseSplittingMatrices(matrix.to(torch.float32).unsqueeze(0))
    values, vectors = matrices.minimum_eigenpairs()
    assert values.dtype == vectors.dtype == torch.float32
    reference = torch.linalg.eigvalsh(matrix)[0]
    assert values.item() == pytest.approx(reference.item(), rel=1e-6)
    vector = vectors[0].double()
    assert torch.allclose(matrix @ vector, reference * vector, atol=1e-5)


def test_matrix_free_product_matches_the_dense_matrices():
    mlp, batches = tiny_mlp("sigmoid")
    matrices = splitting_matrices(mlp, growable_layers(mlp), batches, mlp_loss)[0]
    vectors = torch.randn(5, 4, dtype=torch.float64)
    assert torch.allclose(matrices.apply(vectors), torch.einsum("jde,je->jd", matrices.dense(), vectors))


def softplus_second(beta, a):
    """The second derivative of softplus_beta by autograd."""
    a = a.clone().requires_grad_()
    (first,) = torch.autograd.grad(F.softplus(a, beta=beta).sum(), a, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), a)
    return second


def test_relu_type_surrogates_are_softplus_second_derivatives():
    a = torch.linspace(-8, 12, 101, dtype=torch.float64)
    reference = softplus_second(3.0, a)
    assert torch.allclose(SecondDerivative(torch.nn.ReLU())(a), reference)
    assert torch.allclose(SecondDerivative(torch.nn.LeakyReLU(0.2))(a), 0.8 * reference)
    assert torch.allclose(SecondDerivative(torch.nn.ReLU6())(a), reference - softplus_second(3.0, a - 6))
    # Smooth activations: the exact second derivative, tanh'' = -2 tanh (1 - tanh^2).
    t = torch.tanh(a)
    assert torch.allclose(SecondDerivative(torch.nn.Tanh())(a), -2 * t * (1 - t**2))
    with pytest.raises(ValueError, match="beta must be a finite number > 0"):
        SecondDerivative(torch.nn.ReLU(), beta=0.0)


@pytest.mark.parametrize("activation", ["tanh", "leaky_relu"])
def test_fast_eigenpairs_match_the_exact_ones(activation):
    mlp, batches = tiny_mlp(activation, width=12)
    matrices = splitting_matrices(mlp, growable_layers(mlp), batches, mlp_loss)[0]
    exact, exact_vectors = matrices.minimum_eigenpairs()
    fast, fast_vectors = matrices.fast_minimum_eigenpairs(iterations=200, tol=1e-10)
    scale = matrices.dense().abs().amax(dim=(1, 2))
    assert torch.all(fast >= exact - 1e-10 * scale)  # a Rayleigh quotient never undershoots
    assert torch.allclose(fast, exact, atol=1e-8 * scale.max().item())
    assert torch.allclose(fast_vectors.norm(dim=1), torch.ones(12, dtype=torch.float64))


def test_fast_eigenpairs_on_a_gin_layer():
    model, loader, _ = trained_gin()
    layers = growable_layers(model)
    for matrices in splitting_matrices(model, layers, loader, gin_loss):
        exact, _ = matrices.minimum_eigenpairs()
        fast, _ = matrices.fast_minimum_eigenpairs()
        assert torch.allclose(fast, exact, rtol=1e-3, atol=1e-4 * exact.abs().max().item())


@pytest.mark.parametrize("method", ["eigh", "rayleigh"])
def test_s2d_split_lowers_the_loss_as_predicted(method):
    """Exact S2D and its fast variant: one step lowers the training loss, by the predicted amount."""
    mlp, batches = tiny_mlp("tanh")
    before = total_loss(mlp, batches, mlp_loss)
    result = S2DGrowth(num_neurons=2, eps=1e-3, method=method).grow_(mlp, batches, mlp_loss)
    after = total_loss(mlp, batches, mlp_loss)
    assert [(g.old, g.new, g.split, g.added) for g in result.layers] == [(5, 7, 2, 0)]
    assert result.predicted_change < 0 and after < before
    assert after - before == pytest.approx(result.predicted_change, rel=1e-2)


def test_s2d_splits_the_most_negative_eigenvalues():
    mlp, batches = tiny_mlp("tanh")
    layer = growable_layers(mlp)[0]
    values, vectors = splitting_matrices(mlp, [layer], batches, mlp_loss)[0].minimum_eigenpairs()
    rows = layer.incoming
    S2DGrowth(num_neurons=2, eps=0.1).grow_(mlp, batches, mlp_loss)
    parents = values.argsort()[:2].sort().values
    assert torch.allclose(layer.incoming[parents], rows[parents] + 0.1 * vectors[parents])
    assert torch.allclose(layer.incoming[5:], rows[parents] - 0.1 * vectors[parents])


# -- Firefly ------------------------------------------------------------------------------------


@pytest.mark.parametrize("build", [tiny_mlp, tiny_norm_mlp])
def test_firefly_scores_are_gate_derivatives(build):
    """s = dL/d(gate) at gate 0, against autograd through an explicitly gated network."""
    mlp, batches = build("tanh")
    layer = growable_layers(mlp)[0]
    candidates = FireflyCandidates(layer, 3, 0.1, 0.3, torch.Generator().manual_seed(0))
    stats = list(node_gradients(mlp, [layer], batches, mlp_loss))
    split, new = (sum(parts) for parts in zip(*(candidates.scores(batch[0]) for batch in stats)))
    gates = torch.zeros(8, dtype=torch.float64, requires_grad=True)
    norm = mlp[1] if isinstance(mlp[1], torch.nn.BatchNorm1d) else None
    activation, consumer, total = mlp[1 if norm is None else 2], mlp.linears[-1], 0

    def sigma(a):  # an existing neuron or an offspring: through the norm in eval mode
        if norm is not None:
            a = F.batch_norm(a, norm.running_mean, norm.running_var, norm.weight, norm.bias, eps=norm.eps)
        return activation(a)

    theta, offsets = layer.incoming, candidates.offsets.detach()
    for x, y in batches:
        b = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
        a, shift = b @ theta.T, b @ offsets.T
        hidden = sigma(a) + gates[:5] * (0.5 * sigma(a + shift) + 0.5 * sigma(a - shift) - sigma(a))
        extra = (gates[5:] * activation(b @ candidates.fan_in.detach().T)) @ candidates.fan_out.detach().T
        total = total + F.cross_entropy(hidden @ consumer.weight.T + consumer.bias + extra, y, reduction="sum")
    (reference,) = torch.autograd.grad(total, gates)
    assert torch.allclose(torch.cat([split, new]), reference, atol=1e-12)
    assert torch.allclose(candidates.offsets.norm(dim=1), 0.3 * theta.norm(dim=1))  # offset_ratio 0.3
    assert torch.allclose(candidates.fan_out.norm(dim=0), torch.full((3,), 0.1, dtype=torch.float64))


def test_firefly_candidate_optimisation_lowers_the_scores():
    mlp, batches = tiny_mlp("tanh")
    layers = growable_layers(mlp)
    stats = list(node_gradients(mlp, layers, batches, mlp_loss))

    def summed(epochs):
        step = FireflyGrowth(num_neurons=1, epochs=epochs, lr=1e-2, generator=torch.Generator().manual_seed(0))
        candidates = step.candidates(layers, stats)[0]
        with torch.no_grad():
            return sum(s.sum() for batch in stats for s in candidates.scores(batch[0])).item()

    assert summed(20) < summed(0)


def test_firefly_growth_lowers_the_loss_as_predicted():
    mlp, batches = tiny_mlp("tanh")
    before = total_loss(mlp, batches, mlp_loss)
    result = FireflyGrowth(num_neurons=3, eps=1e-3, epochs=5, generator=torch.Generator().manual_seed(0)).grow_(
        mlp, batches, mlp_loss
    )
    change = total_loss(mlp, batches, mlp_loss) - before
    assert result.added == 3 and result.predicted_change < 0
    assert change == pytest.approx(result.predicted_change, rel=1e-2)


def test_firefly_splits_into_offspring_around_the_parent():
    mlp, batches = tiny_mlp("tanh")
    layer = growable_layers(mlp)[0]
    rows, columns = layer.incoming, layer.outgoing.clone()
    before = total_loss(mlp, batches, mlp_loss)
    step = FireflyGrowth(
        num_neurons=2, eps=1e-6, offset_ratio=0.5, new_candidates=1, generator=torch.Generator().manual_seed(0)
    )
    result = step.grow_(mlp, batches, mlp_loss)
    assert [(g.split, g.added) for g in result.layers] == [(2, 0)]
    grown = layer.incoming
    parents = [p for p in range(5) if not torch.allclose(grown[p], rows[p])]
    assert len(parents) == 2
    for child, parent in enumerate(parents, start=5):
        assert torch.allclose((grown[parent] + grown[child]) / 2, rows[parent])
        assert (grown[parent] - rows[parent]).norm().item() == pytest.approx(0.5 * rows[parent].norm().item())
        assert torch.allclose(layer.outgoing[:, [parent, child]], columns[:, [parent, parent]] / 2)
    assert result.predicted_change < 0 and total_loss(mlp, batches, mlp_loss) < before


@pytest.mark.parametrize("build", [new_gin, new_fair_gin])
def test_firefly_default_offsets_let_splits_compete_with_new_neurons(build):
    """With offsets at sqrt(eps) of the fan-in norm a step takes both kinds; at eps (second order) only new ones."""

    def step(**offset):
        model, loader, optimizer = trained_gin(build=build)
        growth = FireflyGrowth(fraction=0.35, generator=torch.Generator().manual_seed(0), **offset)
        result = growth.grow_(model, loader, gin_loss, optimizer)
        return result.split, result.added - result.split

    split, new = step()
    assert split > 0 and new > 0
    assert step(offset_ratio=1e-2) == (0, split + new)


@pytest.mark.parametrize("build", [new_gin, new_fair_gin])
@pytest.mark.parametrize(
    "step",
    [
        S2DGrowth(fraction=0.3),
        S2DGrowth(fraction=0.3, method="rayleigh"),
        FireflyGrowth(fraction=0.35, epochs=1, generator=torch.Generator().manual_seed(0)),
    ],
)
def test_growth_lowers_a_gin_training_loss(step, build):
    """On the GIN classifiers (ReLU-type, the S2D surrogate; FairGIN's norms): the grown model's loss is lower."""
    model, loader, optimizer = trained_gin(build=build)
    model.eval()
    before = total_loss(model, loader, gin_loss)
    result = step.grow_(model, loader, gin_loss, optimizer)
    after = total_loss(model, loader, gin_loss)
    assert result.predicted_change < 0 and after < before


# -- shapes, optimizer state, checkpoints --------------------------------------------------------


def test_shapes_state_and_checkpoint_after_growth():
    model, loader, optimizer = trained_gin()
    layers = growable_layers(model)
    assert [layer.name for layer in layers] == ["input_block.0", "blocks.0.mlp.0", "blocks.1.mlp.0"]
    params = {name: p for name, p in model.named_parameters()}
    norms = [block.mlp[4] for block in model.blocks]
    running = [(n.running_mean.clone(), n.running_var.clone()) for n in norms]
    conv = layers[1]
    exp_avg = optimizer.state[conv.linear.weight]["exp_avg"].clone()
    result = S2DGrowth(num_neurons=6).grow_(model, loader, gin_loss, optimizer)
    grown = {g.name: g for g in result.layers}
    assert sum(g.new - g.old for g in result.layers) == 6
    for layer in layers:
        width = grown[layer.name].new
        assert layer.width.width == width and layer.linear.weight.shape[0] == width
        assert layer.linear.bias.shape == (width,) and layer.consumer.weight.shape[1] == width
        for param in (layer.linear.weight, layer.linear.bias, layer.consumer.weight):
            for value in optimizer.state[param].values():
                if value.dim():
                    assert value.shape == param.shape
    assert model.layer_widths() == {
        "block0": grown["input_block.0"].new,
        "block1": grown["blocks.0.mlp.0"].new,
        "block2": grown["blocks.1.mlp.0"].new,
    }
    assert all(p is params[name] for name, p in model.named_parameters())  # identities kept
    # Surviving neurons keep their Adam state, new ones start from Adam's (zero) initial state.
    old = grown["blocks.0.mlp.0"].old
    state = optimizer.state[conv.linear.weight]["exp_avg"]
    assert torch.equal(state[:old], exp_avg) and torch.equal(state[old:], torch.zeros_like(state[old:]))
    # The statistics ran in eval mode: BatchNorm's running statistics are untouched.
    for norm, (mean, var) in zip(norms, running):
        assert torch.equal(norm.running_mean, mean) and torch.equal(norm.running_var, var)
    assert_training_keeps_grown_widths(model, loader, optimizer)
    # A fresh (learned-width) model loads the grown checkpoint: shapes, fixed widths and outputs.
    fresh = new_gin(seed=1)
    fresh.load_state_dict(model.state_dict())
    assert fresh.layer_widths() == model.layer_widths()
    assert all(layer.width.fixed for layer in growable_layers(fresh))
    assert torch.allclose(outputs(fresh, loader, False), outputs(model, loader, False))


@pytest.mark.parametrize(
    "build, forgotten",
    [
        (new_gin, {"blocks.0.mlp.0.weight", "blocks.0.mlp.0.bias", "blocks.0.mlp.3.weight", "blocks.0.mlp.3.bias"}),
        (
            new_fair_gin,
            {
                "blocks.0.mlp.0.weight",
                "blocks.0.mlp.0.bias",
                "blocks.0.mlp.1.weight",
                "blocks.0.mlp.1.bias",
                "blocks.0.mlp.4.weight",
                "blocks.0.mlp.4.bias",
            },
        ),
    ],
)
@pytest.mark.parametrize(
    "step",
    [
        S2DGrowth(num_neurons=3, eps=1e-2),
        S2DGrowth(num_neurons=3, eps=1e-2, method="rayleigh"),
        FireflyGrowth(
            num_neurons=3,
            eps=1e-2,
            offset_ratio=0.1,
            new_candidates=4,
            lr=1e-3,
            epochs=1,
            scale=1.0,
            generator=torch.Generator().manual_seed(0),
        ),
    ],
)
def test_reset_policy_forgets_the_grown_modules_state_as_a_resize_does(step, build, forgotten):
    """optimizer_state="reset": the whole state of every parameter of each module holding a grown tensor (the grown
    linear, its batch norm, the consumer's weight *and bias*) is dropped, as AdaptiveWidth.resize_ drops it (the AWN
    reference); every other parameter keeps its state untouched, and the next steps start the forgotten ones afresh."""
    model, loader, optimizer = trained_gin(build=build)
    twin, _, twin_optimizer = trained_gin(build=build)
    before = {
        name: {k: v.clone() for k, v in optimizer.state[p].items()}
        for name, p in model.named_parameters()
        if p in optimizer.state
    }
    layer = growable_layers(model)[1]
    result = step.grow_(model, loader, gin_loss, optimizer, layers=[layer], optimizer_state="reset")
    assert [(g.name, g.new - g.old) for g in result.layers] == [("blocks.0.mlp.0", 3)]
    growable_layers(twin)[1].width.resize_(layer.size, twin_optimizer, "reset")
    kept = {name for name, p in model.named_parameters() if p in optimizer.state}
    assert kept == before.keys() - forgotten
    assert kept == {name for name, p in twin.named_parameters() if p in twin_optimizer.state}
    params = dict(model.named_parameters())
    for name in kept:
        state = optimizer.state[params[name]]
        assert state.keys() == before[name].keys() and all(torch.equal(state[k], before[name][k]) for k in state)
    assert_training_keeps_grown_widths(model, loader, optimizer)
    steps = {name: optimizer.state[params[name]]["step"].item() for name in before}
    assert steps == {name: len(loader) + (0 if name in forgotten else before[name]["step"].item()) for name in before}


def test_fair_gin_grows_with_its_batch_norms_and_its_checkpoint_loads():
    model, loader, optimizer = trained_gin(build=new_fair_gin)
    layers = growable_layers(model)
    assert [layer.name for layer in layers] == ["input_block.0", "blocks.0.mlp.0", "blocks.1.mlp.0"]
    assert all(isinstance(layer.norm, torch.nn.BatchNorm1d) for layer in layers)
    entries = [
        {k: getattr(layer.norm, k).detach().clone() for k in ("weight", "bias", "running_mean", "running_var")}
        for layer in layers
    ]
    # Zero offset: each offspring's incoming row equals its parent's, which identifies the parent.
    splits = S2DGrowth(num_neurons=6, eps=0.0).grow_(model, loader, gin_loss, optimizer)
    assert splits.added == 6 and any(g.split for g in splits.layers)
    for layer, before, grown in zip(layers, entries, splits.layers):
        rows = layer.incoming
        parents = [
            int(torch.nonzero((rows[: grown.old] == rows[child]).all(1))[0, 0]) for child in range(grown.old, grown.new)
        ]
        for key, value in before.items():
            tensor = getattr(layer.norm, key)
            assert tensor.shape == (grown.new,) and torch.equal(tensor[: grown.old], value)
            assert torch.equal(tensor[grown.old :], value[parents]), f"offspring copy their parent's {key}"
    added = FireflyGrowth(num_neurons=6, generator=torch.Generator().manual_seed(0)).grow_(
        model, loader, gin_loss, optimizer
    )
    assert added.added == 6 and any(g.added for g in added.layers)
    for layer, grown in zip(layers, added.layers):
        assert layer.norm.num_features == layer.size == grown.new
        for param in (layer.norm.weight, layer.norm.bias):
            for value in optimizer.state[param].values():
                if value.dim():
                    assert value.shape == param.shape
    assert_training_keeps_grown_widths(model, loader, optimizer)
    fresh = new_fair_gin(seed=1)
    fresh.load_state_dict(model.state_dict())
    assert fresh.layer_widths() == model.layer_widths()
    assert torch.allclose(outputs(fresh, loader, False), outputs(model, loader, False))


@pytest.mark.parametrize("training", [False, True])
def test_a_new_neurons_batch_norm_passes_its_pre_activation_through(training):
    """Entries set from E[b b'] of the rows: eval mode, and training mode on a batch of those rows, give a."""
    mlp, batches = tiny_norm_mlp("tanh")
    layer = growable_layers(mlp)[0]
    x = torch.cat([x for x, _ in batches])
    b = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
    new_rows = torch.randn(3, 4, dtype=torch.float64)
    layer.grow_(
        torch.zeros(0, dtype=torch.long),
        torch.zeros(0, 4, dtype=torch.float64),
        new_rows,
        torch.randn(2, 3, dtype=torch.float64),
        input_moment=input_moment([b[:25], b[25:]]),
    )
    norm = layer.norm.train(training)
    with torch.no_grad():
        normalised = norm(layer.linear(x))
    assert torch.allclose(normalised[:, 5:], b @ new_rows.T, atol=1e-9)
    with pytest.raises(ValueError, match=r"batch norm: adding new neurons needs input_moment of shape \(4, 4\)"):
        layer.grow_(
            torch.zeros(0, dtype=torch.long),
            torch.zeros(0, 4, dtype=torch.float64),
            new_rows,
            torch.randn(2, 3, dtype=torch.float64),
        )


def test_a_batch_norm_without_running_statistics_is_refused():
    mlp = AdaptiveMLP(3, 2, hidden=[AdaptiveWidth(initial_width=5)], hidden_norm="batch_norm")
    fix_hidden_widths_(mlp)
    mlp[1].running_mean = mlp[1].running_var = None
    with pytest.raises(ValueError, match="keeps no running statistics"):
        GrowableLayer(mlp)


def test_growth_respects_max_width_and_only_negative_scores():
    assert [
        t.tolist() for t in select_globally([torch.tensor([-3.0, 1.0, -1.0]), torch.tensor([-2.0, -5.0])], 3, [5, 1])
    ] == [[0, 2], [1]]
    assert [t.tolist() for t in select_globally([torch.tensor([0.0, 2.0])], 5, [5])] == [[]]
    torch.manual_seed(0)
    mlp = AdaptiveMLP(3, 2, hidden=[AdaptiveWidth(initial_width=5, max_width=6)], activation="tanh").double()
    fix_hidden_widths_(mlp)
    _, batches = tiny_mlp("tanh")
    result = S2DGrowth(num_neurons=4).grow_(mlp, batches, mlp_loss)
    assert result.layers[0].new == 6 and mlp.widths[0].width == 6


def test_per_layer_selection_gives_each_layer_its_share_of_the_budget():
    # Budget 6 over sizes 2 and 4: shares 2 and 4, each layer's own most negative, negative only, within room.
    scores = [torch.tensor([-1.0, -9.0, -8.0]), torch.tensor([-0.1, 3.0, -0.2, -0.3, -0.4])]
    assert [t.tolist() for t in select_per_layer(scores, 6, [2, 4], [5, 5])] == [[1, 2], [0, 2, 3, 4]]
    assert [t.tolist() for t in select_globally(scores, 6, [5, 5])] == [[0, 1, 2], [2, 3, 4]]
    assert [t.tolist() for t in select_per_layer(scores, 6, [2, 4], [1, 2])] == [[1], [3, 4]]
    # A layer's share is at least one neuron; a budget smaller than the layers still grows every layer.
    assert [t.tolist() for t in select_per_layer(scores, 1, [2, 4], [5, 5])] == [[1], [4]]


@pytest.mark.parametrize(
    "step",
    [
        lambda s: S2DGrowth(fraction=0.25, selection=s),
        lambda s: FireflyGrowth(fraction=0.25, selection=s, generator=torch.Generator().manual_seed(0)),
    ],
)
def test_per_layer_growth_grows_every_layer_in_proportion_to_its_size(step):
    model, loader, optimizer = trained_gin()
    globally = copy.deepcopy(model)
    # Budget 6 over three layers of 8: the global ranking favours some layers, the per-layer share gives 2 each.
    spread = [g.new - g.old for g in step("global").grow_(globally, loader, gin_loss).layers]
    assert sum(spread) == 6 and spread != [2, 2, 2]
    result = step("per_layer").grow_(model, loader, gin_loss, optimizer)
    assert [g.new - g.old for g in result.layers] == [2, 2, 2]
    assert [layer.size for layer in growable_layers(model)] == [10, 10, 10]
    assert_training_keeps_grown_widths(model, loader, optimizer)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="selection must be one of"):
        S2DGrowth(2, selection="layerwise")
    with pytest.raises(ValueError, match="selection must be one of"):
        FireflyGrowth(2, selection=None)
    with pytest.raises(ValueError, match="exactly one of num_neurons and fraction"):
        S2DGrowth()
    with pytest.raises(ValueError, match="exactly one of num_neurons and fraction"):
        FireflyGrowth(3, fraction=0.3)
    with pytest.raises(ValueError, match="fraction must be a number in"):
        S2DGrowth(fraction=1.5)
    with pytest.raises(ValueError, match="method must be one of"):
        S2DGrowth(2, method="lanczos")
    with pytest.raises(ValueError, match="eps must be a finite number >= 0"):
        S2DGrowth(2, eps=-1.0)
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        FireflyGrowth(2, eps=0.0)
    with pytest.raises(ValueError, match="scale must be a finite number >= 0"):
        FireflyGrowth(2, scale=math.nan)
    mlp, batches = tiny_mlp()
    layer = growable_layers(mlp)[0]
    empty = torch.zeros(0, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="parents must be distinct neuron indices"):
        layer.grow_(torch.tensor([1, 1]), torch.zeros(2, 4), empty, torch.zeros(2, 0))
    with pytest.raises(ValueError, match="offsets must have shape"):
        layer.grow_(torch.tensor([1]), torch.zeros(1, 3), empty, torch.zeros(2, 0))
    with pytest.raises(ValueError, match="optimizer_state must be one of"):
        S2DGrowth(2).grow_(mlp, batches, mlp_loss, optimizer_state="keep")
    with pytest.raises(ValueError, match="loss_fn must return a scalar tensor"):
        S2DGrowth(2).grow_(mlp, batches, lambda m, b: m(b[0]))
    with pytest.raises(ValueError, match="batches is empty"):
        FireflyGrowth(2).grow_(mlp, [], mlp_loss)
    assert mlp.widths[0].width == 5
