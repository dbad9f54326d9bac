"""Regression tests of issue #11 (width-core hardening), one per item; item 1 lives in test_loss.py."""

import math
import random

import pytest
import torch
from torch import nn

from awgnn import AdaptiveMLP, AdaptiveWidth, ELBOLoss, auto_update_widths, truncate_, update_widths
from awgnn.harness.config import model_arguments, training_settings
from awgnn.harness.data import load_dataset
from awgnn.harness.registry import ModelSpec
from awgnn.harness.splits import generate_splits
from awgnn.harness.train import RunSettings, fit
from awgnn.models import AdaptiveGCNClassifier, AdaptiveGINClassifier, FairGIN, GCNClassifier, GINClassifier
from awgnn.nn import AdaptiveGCNConv, AdaptiveGINConv
from awgnn.width import NonFiniteRate

K = 0.9
C = -math.log1p(-K)  # the width of DiscretisedExponential is floor(C / rate + 2)


def mlp(seed: int = 0, widths: tuple[int, ...] = (6, 5), max_width: int = 40) -> AdaptiveMLP:
    torch.manual_seed(seed)
    hidden = [AdaptiveWidth(initial_width=w, max_width=max_width) for w in widths]
    return AdaptiveMLP(4, 3, hidden=hidden)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, seed: int = 1) -> None:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 4, generator=generator)
    optimizer.zero_grad()
    model(x).square().mean().backward()
    optimizer.step()


def snapshot(model: nn.Module) -> tuple[dict[str, torch.Tensor], list[int]]:
    state = {k: v.clone() for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}
    return state, [m.width for m in model.modules() if isinstance(m, AdaptiveWidth)]


def assert_unchanged(model: nn.Module, before: tuple[dict[str, torch.Tensor], list[int]]) -> None:
    state, widths = snapshot(model)
    assert widths == before[1]
    assert state.keys() == before[0].keys()
    for key in state:
        torch.testing.assert_close(state[key], before[0][key], rtol=0, atol=0, equal_nan=True, msg=key)


# -- item 2: new neurons start from the optimizer's own initial state -------------------------------

FRESH = [  # optimizer, its arguments, the per-element state of a fresh parameter
    (torch.optim.Adam, {}, {"exp_avg": 0.0, "exp_avg_sq": 0.0}),
    (torch.optim.AdamW, {"amsgrad": True}, {"exp_avg": 0.0, "exp_avg_sq": 0.0, "max_exp_avg_sq": 0.0}),
    (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}, {"momentum_buffer": 0.0}),
    (torch.optim.Adagrad, {"initial_accumulator_value": 0.1}, {"sum": 0.1}),
    (torch.optim.Rprop, {"lr": 0.02}, {"prev": 0.0, "step_size": 0.02}),
    (
        torch.optim.RMSprop,
        {"centered": True, "momentum": 0.5},
        {"square_avg": 0.0, "momentum_buffer": 0.0, "grad_avg": 0.0},
    ),
    (torch.optim.Adamax, {"eps": 1e-6}, {"exp_avg": 0.0, "exp_inf": 1e-6}),  # eps: the same next update as 0
    (torch.optim.NAdam, {}, {"exp_avg": 0.0, "exp_avg_sq": 0.0}),
    (torch.optim.RAdam, {}, {"exp_avg": 0.0, "exp_avg_sq": 0.0}),
    (torch.optim.ASGD, {}, {"ax": 0.0}),
    (torch.optim.Adadelta, {}, {"square_avg": 0.0, "acc_delta": 0.0}),
]


@pytest.mark.parametrize("optimizer_cls, arguments, fresh", FRESH, ids=[f[0].__name__ for f in FRESH])
def test_item2_new_neurons_start_from_the_optimizers_initial_state(optimizer_cls, arguments, fresh):
    model = mlp()
    optimizer = optimizer_cls(model.parameters(), **arguments)
    for seed in (1, 2):
        train_step(model, optimizer, seed)
    width = model.widths[0]
    old = width.width
    followers = {model[0].weight: 0, model[0].bias: 0, model[3].weight: 1}  # rows, entries, columns
    before = {(p, key): value.clone() for p in followers for key, value in optimizer.state[p].items()}
    width.resize_(old + 3, optimizer)
    for param, dim in followers.items():
        state = optimizer.state[param]
        assert set(fresh) <= set(state), "every per-element state is kept"
        for key, value in state.items():
            if value.dim() == 0:
                assert torch.equal(value, before[(param, key)]), f"scalar state {key!r} is kept"
                continue
            assert value.shape == param.shape
            assert torch.equal(value.narrow(dim, 0, old), before[(param, key)]), "surviving neurons keep theirs"
            expected = torch.full_like(value.narrow(dim, old, 3), fresh[key])
            assert torch.equal(value.narrow(dim, old, 3), expected), f"{key} of new neurons"
    train_step(model, optimizer, seed=3)  # and the optimizer steps on


def test_item2_rprop_new_neurons_step_at_the_current_learning_rate():
    """Rprop's new neurons used to get step_size 0 (clamped to its minimum) and barely moved."""
    model = mlp()
    optimizer = torch.optim.Rprop(model.parameters(), lr=0.01)
    train_step(model, optimizer, seed=1)
    optimizer.param_groups[0]["lr"] = 0.05  # as a scheduler would
    width = model.widths[0]
    old = width.width
    width.resize_(old + 4, optimizer)
    new_rows = model[0].weight[old:].detach().clone()
    train_step(model, optimizer, seed=2)
    moved = (model[0].weight[old:].detach() - new_rows).abs()
    # The first Rprop step of a fresh entry moves it by step_size = lr against its gradient's sign.
    assert torch.allclose(moved[moved > 0], torch.tensor(0.05))
    assert (moved > 0).float().mean() > 0.5


# -- item 3: caps cannot be bypassed ----------------------------------------------------------------


def classifier_builders():
    def gin(max_width, width):
        return AdaptiveGINClassifier(
            4, 3, num_layers=2, embedding_channels=None, max_width=max_width, lambda0=C / (width - 1.5)
        )

    def gcn(max_width, width):
        return AdaptiveGCNClassifier(4, 3, num_layers=2, max_width=max_width, lambda0=C / (width - 1.5))

    def mlp_model(max_width, width):
        return AdaptiveMLP(4, 3, hidden=[AdaptiveWidth(initial_width=width, max_width=max_width)])

    return {"mlp": mlp_model, "gin": gin, "gcn": gcn}


@pytest.mark.parametrize("builder", ["mlp", "gin", "gcn"])
@pytest.mark.parametrize(
    "strict, assign, extra_state",
    [(True, False, True), (False, False, True), (False, False, False), (True, True, True), (False, True, False)],
)
def test_item3_a_failed_load_leaves_the_model_exactly_as_it_was(builder, strict, assign, extra_state):
    build = classifier_builders()[builder]
    torch.manual_seed(0)
    checkpoint = build(400, 300).state_dict()
    if not extra_state:  # without the widths' records only the tensor shapes tell the width
        checkpoint = {k: v for k, v in checkpoint.items() if not k.endswith("_extra_state")}
    model = build(100, 50)
    parameters = list(model.parameters())
    before = snapshot(model)
    with pytest.raises(RuntimeError, match=r"checkpoint width 300 is outside \[min_width=1, max_width=100\]"):
        model.load_state_dict(checkpoint, strict=strict, assign=assign)
    assert_unchanged(model, before)
    assert all(a is b for a, b in zip(parameters, model.parameters())), "the same parameter objects"
    fitting = build(400, 50)
    fitting.load_state_dict(checkpoint, strict=strict)
    assert all(w.width == 300 for w in fitting.modules() if isinstance(w, AdaptiveWidth))


def test_item3_a_failed_load_keeps_a_widths_fixed_flag():
    """A grown (fixed) checkpoint that does not fit leaves a learned width learned, rate trainable."""

    def two_layers(second_cap):
        return AdaptiveMLP(
            4, 3, hidden=[AdaptiveWidth(initial_width=20), AdaptiveWidth(initial_width=50, max_width=second_cap)]
        )

    torch.manual_seed(0)
    grown = two_layers(400)
    grown.widths[0].fix_()  # the first width fits and loads before the second one fails
    grown.widths[1].resize_(300)
    model = two_layers(100)
    with pytest.raises(RuntimeError, match="outside"):
        model.load_state_dict(grown.state_dict())
    assert not model.widths[0].fixed and model.widths[0].raw_rate.requires_grad


def test_item3_a_foreign_model_never_loads_a_width_above_its_cap():
    """A plain Sequential of adaptive layers keeps torch's behaviour on errors, but no width passes its cap."""

    def stack(max_width, width):
        first = AdaptiveWidth(initial_width=width, max_width=max_width)
        return nn.Sequential(AdaptiveGCNConv(4, first), AdaptiveGCNConv(first, 3))

    checkpoint = {k: v for k, v in stack(400, 300).state_dict().items() if not k.endswith("_extra_state")}
    model = stack(100, 50)
    with pytest.raises(RuntimeError, match=r"0\.bias follows an adaptive width: checkpoint width 300"):
        model.load_state_dict(checkpoint, strict=False)
    assert model[0].width.width == 50 and model[0].lin.weight.shape[0] == 50 and model[1].lin.weight.shape[1] == 50


def test_item3_resize_respects_the_bounds():
    width = AdaptiveWidth(initial_width=20, min_width=3, max_width=100)
    AdaptiveMLP(4, 3, hidden=[width])
    for bad in (10**5, 101, 2, 0, 7.0, True):
        with pytest.raises(ValueError, match=r"width must be an integer in \[3, 100\], got "):
            width.resize_(bad)
    assert width.width == 20 and width.followers[0].module.weight.shape[0] == 20
    width.resize_(100)
    width.resize_(3)
    assert width.width == 3


# -- item 4: a width update without a step keeps the width -------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_item4_a_capped_width_stays_at_the_cap_without_a_step(dtype):
    rng = random.Random(4)
    for _ in range(200):
        max_width, k = rng.randint(3, 5000), rng.uniform(0.05, 0.99)
        width = AdaptiveWidth(initial_width=rng.randint(2, max_width), max_width=max_width, k=k).to(dtype)
        # A rate below every rate that gives max_width: the update caps it.
        rate = -math.log1p(-k) / (max_width - 1) * rng.uniform(1e-3, 0.999)
        with torch.no_grad():
            width.raw_rate.fill_(math.log(math.expm1(rate)))
        with pytest.warns(UserWarning, match=f"max_width={max_width}"):
            change = width.update_("layer", optimizer=None)
        assert width.capped and width.width == max_width and (change is None or change.new == max_width)
        assert width.update_("layer", optimizer=None) is None, "no step, no change"
        assert width.width == max_width


# -- item 5: non-finite and underflowing rates -------------------------------------------------------


@pytest.mark.parametrize("raw", [-200.0, -1000.0, -1e30])
def test_item5_an_underflowing_rate_gives_the_capped_width(raw):
    model = mlp(max_width=40)
    with torch.no_grad():
        model.widths[0].raw_rate.fill_(raw)  # softplus underflows to 0 in float32
    assert model.widths[0].rate.item() == 0.0
    with pytest.warns(UserWarning, match="max_width=40"):
        changes = update_widths(model)
    assert [c.new for c in changes] == [40] and model.widths[0].capped
    assert model[0].weight.shape[0] == 40
    assert model.widths[0].target_width(model.widths[0].rate.item()) == 40, "the rate was projected back"


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_item5_a_non_finite_rate_is_reported_by_name_before_anything_is_resized(bad):
    model = mlp()
    with torch.no_grad():
        model.widths[0].raw_rate.fill_(-8.0)  # asks the first layer to grow
        model.widths[1].raw_rate.fill_(bad)
    before = snapshot(model)
    with pytest.raises(NonFiniteRate, match=rf"the rate of adaptive width '5' is {bad}"):
        update_widths(model)
    assert_unchanged(model, before)
    assert [w.num_updates for w in model.widths] == [0, 0]


def test_item5_a_non_finite_rate_in_the_step_hook_names_the_layer():
    model = mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    auto_update_widths(model, optimizer)
    model.widths[1].raw_rate.register_hook(lambda grad: torch.full_like(grad, math.nan))
    widths = [w.width for w in model.widths]
    with pytest.raises(NonFiniteRate, match="adaptive width '5' is nan"):
        train_step(model, optimizer)
    assert [w.width for w in model.widths] == widths


class DivergingRateGIN(AdaptiveGINClassifier):
    """The paper's GIN whose first rate gets a NaN gradient: the rate turns NaN at the first step."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        width = next(m for m in self.modules() if isinstance(m, AdaptiveWidth))
        width.raw_rate.register_hook(lambda grad: torch.full_like(grad, math.nan))


def test_item5_a_nan_rate_ends_only_that_run_with_status_nan(data_root):
    data = load_dataset("MUTAG", data_root)
    fold = generate_splits(data.labels, n_outer=3, holdout=0.1, seed=0)[0]
    point = {"num_layers": 2, "batch_size": 32}
    settings = RunSettings(max_epochs=3, patience=2, device="cpu", loader="memory")
    records = {}
    for name, cls in (("diverging", DivergingRateGIN), ("healthy", AdaptiveGINClassifier)):
        spec = ModelSpec(cls, adaptive=True)
        _, records[name] = fit(
            data,
            fold.train,
            fold.validation,
            fold.test,
            spec,
            model_arguments(point),
            training_settings(point, spec.adaptive),
            settings,
            seed=0,
        )
    assert records["diverging"]["status"] == "nan"
    assert records["diverging"]["val_score"] is None and records["diverging"]["test_score"] is None
    assert records["diverging"]["epochs"] == 0
    assert records["healthy"]["status"] == "ok" and records["healthy"]["epochs"] == 3


# -- item 6: "reset" wipes what the reference wipes -------------------------------------------------


def test_item6_reset_wipes_the_resized_layers_and_the_next_layers_bias():
    torch.manual_seed(0)
    model = AdaptiveGCNClassifier(4, 3, num_layers=2, lambda0=C / (8 - 1.5))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    x, edge_index = torch.randn(6, 4), torch.tensor([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]])
    model(x, edge_index).sum().backward()
    optimizer.step()
    width = model.blocks[0].width
    wiped = [
        model.blocks[0].lin.weight,
        model.blocks[0].bias,  # the resized layer
        model.blocks[1].lin.weight,  # the next layer (its bias belongs to the next width)
        model.heads[0].weight,
        model.heads[0].bias,
    ]  # the readout head, bias included
    kept = [p for p in model.parameters() if all(p is not w for w in wiped)]
    kept_state = {id(p): {k: v.clone() for k, v in optimizer.state[p].items()} for p in kept}
    width.resize_(width.width + 2, optimizer, "reset")
    assert all(p not in optimizer.state for p in wiped)
    for p in kept:
        assert all(torch.equal(optimizer.state[p][k], v) for k, v in kept_state[id(p)].items())
    assert width.raw_rate in optimizer.state, "the rate is not part of the resized layer"


# -- item 7: update_widths without the optimizer during training ------------------------------------


def test_item7_update_without_the_optimizer_is_refused_while_training():
    model = mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    train_step(model, optimizer)
    with torch.no_grad():
        model.widths[0].raw_rate.fill_(-2.0)  # the next update grows the first layer (6 -> 20)
    before = snapshot(model)
    with pytest.raises(
        RuntimeError,
        match=r"update_widths was called without the optimizer, but it would "
        r"resize adaptive width '2' .*update_widths\(model, optimizer\)",
    ):
        update_widths(model)
    assert_unchanged(model, before)
    train_step(model, optimizer, seed=2)  # nothing was resized, so the optimizer steps on
    assert update_widths(model, optimizer)
    model.zero_grad()
    with torch.no_grad():
        model.widths[0].raw_rate.fill_(-1.0)
    assert update_widths(model), "without gradients (no optimizer training it) the update runs"


def test_item7_rate_only_updates_without_the_optimizer_are_allowed():
    model = mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-6)
    train_step(model, optimizer)
    assert update_widths(model) == [], "nothing to resize, nothing refused"


# -- item 8: argument checks name the argument the user wrote ---------------------------------------


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: AdaptiveWidth(lambda0=1e-310), r"lambda0=1e-310 gives width inf, above max_width=4096"),
        (lambda: AdaptiveWidth(initial_width=5000), r"initial_width must be an integer in \[1, 4096\]"),
        (lambda: truncate_(mlp(), fraction=True), r"fraction must be a number in \(0, 1\], got True"),
        (lambda: truncate_(mlp(), fraction=math.nan), r"fraction must be a number in \(0, 1\], got nan"),
        (lambda: truncate_(mlp(), width=True), r"width must be an integer >= 1, got True"),
        (lambda: AdaptiveGINConv(16, 32, hidden_channels=0), r"^hidden_channels must be an integer >= 1"),
        (lambda: AdaptiveGINConv(0, 32), r"^in_channels must be -1 \(lazy\), an integer >= 1"),
        (lambda: AdaptiveGINConv(16, -5), r"^out_channels must be an integer >= 1"),
        (lambda: AdaptiveGCNConv(0, 8), r"^in_channels must be -1 \(lazy\), an integer >= 1"),
        (lambda: AdaptiveGCNConv(16, -5), r"^out_channels must be an integer >= 1"),
        (lambda: AdaptiveMLP(4, 3, hidden=[8, 0]), r"^hidden\[1\] must be an integer >= 1"),
        (lambda: AdaptiveMLP(4, 3, hidden=8), r"^hidden must be a list of sizes"),
        (lambda: AdaptiveMLP(0, 3), r"^in_features must be -1 \(lazy\)"),
        (lambda: AdaptiveGINClassifier(0, 2), r"^in_channels must be"),
        (lambda: AdaptiveGCNClassifier(0, 2), r"^in_channels must be"),
        (lambda: GINClassifier(0, 2), r"^in_channels must be an integer >= 1, got 0"),
        (lambda: GCNClassifier(2.5, 2), r"^in_channels must be an integer >= 1, got 2.5"),
        (lambda: FairGIN(3, 0), r"^num_classes must be an integer >= 1, got 0"),
    ],
)
def test_item8_errors_name_the_argument_the_user_wrote(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_item8_truncation_never_goes_below_min_width():
    width = AdaptiveWidth(initial_width=20, min_width=6)
    model = AdaptiveMLP(4, 3, hidden=[width])
    assert truncate_(model, fraction=0.1) == {"2": 6}
    with pytest.raises(ValueError, match=r"width must be an integer in \[6, 6\], got 5"):
        width.truncate_(5)


def _weight_squares(model: nn.Module) -> torch.Tensor:
    rates = {id(w.raw_rate) for w in model.modules() if isinstance(w, AdaptiveWidth)}
    return sum(p.square().sum() for p in model.parameters() if id(p) not in rates)


def test_item1_the_weight_prior_covers_the_parameters_the_model_holds_now():
    torch.manual_seed(0)
    model = AdaptiveMLP(3, 2, hidden=[AdaptiveWidth(initial_width=10)])
    loss = ELBOLoss(5, weight_prior_std=2.0)
    x, y = torch.randn(4, 3), torch.tensor([0, 1, 0, 1])
    loss(model, model(x), y)  # a first call, as in training
    doubled = {
        key: 2 * value if torch.is_tensor(value) and value.is_floating_point() and "raw_rate" not in key else value
        for key, value in model.state_dict().items()
    }
    model.load_state_dict(doubled, assign=True)
    terms = loss(model, model(x), y)
    expected = _weight_squares(model) / (2 * 2.0**2 * 5)
    assert torch.allclose(terms.weight_prior, expected)
    terms.weight_prior.backward()
    assert all(p.grad is not None for n, p in model.named_parameters() if "raw_rate" not in n)
    model.extra = nn.Parameter(torch.full((3,), 4.0))  # added after the first calls
    assert torch.allclose(loss(model, model(x), y).weight_prior, _weight_squares(model) / (2 * 2.0**2 * 5))
