"""Property-based tests of the width core (issue #11).

Random models (adaptive MLPs, GIN and GCN stacks, the classifiers) go through
random sequences of grows, shrinks, optimizer steps with width updates,
checkpoint round trips and truncations. After every operation: each
producer and consumer has its width's size, widths lie within their bounds,
the optimizer's per-element state matches its parameters; a resize keeps the
surviving neurons' values and optimizer state and gives new ones the
optimizer's initial state; growing and shrinking back gives the same outputs;
a checkpoint loads into a fresh model with equal state and outputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import Tensor, nn
from torch.nn.parameter import Parameter, is_lazy

from awgnn import AdaptiveLinear, AdaptiveMLP, AdaptiveWidth, truncate_, update_widths
from awgnn.models import AdaptiveGCNClassifier, AdaptiveGINClassifier
from awgnn.nn import AdaptiveGCNConv, AdaptiveGINConv
from awgnn.width import adaptive_widths

PROPERTY_SETTINGS = settings(
    max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
C = -math.log1p(-0.9)  # the width at k = 0.9 is floor(C / rate + 2)

# A graph of two components (7 nodes) for every model.
X = torch.randn(7, 3, generator=torch.Generator().manual_seed(0))
EDGE_INDEX = torch.tensor([[0, 1, 2, 3, 1, 4, 5, 6, 4], [1, 2, 3, 0, 3, 5, 6, 4, 6]])
BATCH = torch.tensor([0, 0, 0, 0, 1, 1, 1])

# Optimizers, and the per-element state each gives a fresh parameter.
OPTIMIZERS = {
    "adam": (lambda params: torch.optim.Adam(params, lr=0.01), {"exp_avg": 0.0, "exp_avg_sq": 0.0}),
    "sgd": (lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9), {"momentum_buffer": 0.0}),
    "adagrad": (lambda params: torch.optim.Adagrad(params, lr=0.01, initial_accumulator_value=0.1), {"sum": 0.1}),
    "rprop": (lambda params: torch.optim.Rprop(params, lr=0.01), {"prev": 0.0, "step_size": 0.01}),
}


class Stack(nn.Module):
    """Graph convolutions in sequence, then an optional linear head."""

    def __init__(self, convs: list[nn.Module], head: nn.Module | None = None) -> None:
        super().__init__()
        self.convs = nn.ModuleList(convs)
        self.head = head

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        for conv in self.convs:
            x = conv(x, edge_index)
        return x if self.head is None else self.head(x)


@dataclass
class Recipe:
    """How to build a model (the same way every time) and run it."""

    build: Callable[[], nn.Module]
    run: Callable[[nn.Module], Tensor]


@st.composite
def width_settings(draw) -> tuple[int, int, int]:
    """(min_width, initial width, max_width), small enough for fast tests."""
    min_width = draw(st.integers(1, 3))
    initial = draw(st.integers(max(min_width, 2), 10))
    return min_width, initial, draw(st.integers(max(initial, 3), 14))


def adaptive(setting: tuple[int, int, int]) -> AdaptiveWidth:
    min_width, initial, max_width = setting
    return AdaptiveWidth(initial_width=initial, min_width=min_width, max_width=max_width)


@st.composite
def mlp_recipes(draw) -> Recipe:
    hidden = [draw(width_settings()), *draw(st.lists(st.one_of(width_settings(), st.integers(1, 6)), max_size=2))]
    learned_output = draw(st.booleans()) and draw(width_settings())

    def build() -> nn.Module:
        sizes = [adaptive(h) if isinstance(h, tuple) else h for h in hidden]
        if learned_output:
            return AdaptiveMLP(
                3, adaptive(learned_output), hidden=sizes, output_norm="batch_norm", output_activation="relu"
            )
        return AdaptiveMLP(3, 2, hidden=sizes)

    return Recipe(build, lambda model: model(X))


@st.composite
def gin_stack_recipes(draw) -> Recipe:
    hidden = [draw(width_settings()), draw(width_settings())]
    embedding = draw(st.one_of(width_settings(), st.integers(1, 5)))

    def build() -> nn.Module:
        size = adaptive(embedding) if isinstance(embedding, tuple) else embedding
        return Stack(
            [
                AdaptiveGINConv(3, size, adaptive(hidden[0]), norm="batch_norm", act="relu"),
                AdaptiveGINConv(size, 2, adaptive(hidden[1]), train_eps=True),
            ]
        )

    return Recipe(build, lambda model: model(X, EDGE_INDEX))


@st.composite
def gcn_stack_recipes(draw) -> Recipe:
    settings_ = [draw(width_settings()), draw(width_settings())]

    def build() -> nn.Module:
        first, second = adaptive(settings_[0]), adaptive(settings_[1])
        return Stack([AdaptiveGCNConv(3, first), AdaptiveGCNConv(first, second)], AdaptiveLinear(second, 2))

    return Recipe(build, lambda model: model(X, EDGE_INDEX))


@st.composite
def classifier_recipes(draw) -> Recipe:
    width = draw(st.integers(3, 10))
    max_width = draw(st.integers(width, 14))
    gin = draw(st.booleans())
    embedding = draw(st.sampled_from([None, 4]))

    def build() -> nn.Module:
        arguments = {"num_layers": 2, "lambda0": C / (width - 1.5), "max_width": max_width}
        if gin:
            return AdaptiveGINClassifier(3, 2, embedding_channels=embedding, **arguments)
        return AdaptiveGCNClassifier(3, 2, **arguments)

    return Recipe(build, lambda model: model(X, EDGE_INDEX, BATCH, 2))


@st.composite
def operations(draw) -> list[tuple]:
    grow_or_shrink = st.tuples(
        st.just("resize"), st.integers(0, 99), st.floats(0, 1), st.sampled_from(["carry", "reset"])
    )
    grow_and_back = st.tuples(st.just("grow_and_back"), st.integers(0, 99), st.integers(1, 4))
    step = st.tuples(st.just("step"), st.integers(0, 2**16))
    truncate = st.tuples(st.just("truncate"), st.floats(0.05, 1.0))
    return draw(
        st.lists(
            st.one_of(grow_or_shrink, grow_and_back, step, st.just(("roundtrip",)), truncate), min_size=1, max_size=8
        )
    )


# -- invariants ---------------------------------------------------------------------------------------


def tensors_of(width: AdaptiveWidth) -> list[tuple]:
    """(follower, tensor) for every materialised tensor that follows ``width``."""
    tensors = [(f, getattr(f.module, f.name)) for f in width.followers]
    return [(f, t) for f, t in tensors if t is not None and not is_lazy(t)]


def check_invariants(model: nn.Module, optimizer: torch.optim.Optimizer, recipe: Recipe) -> None:
    for name, width in adaptive_widths(model):
        assert width.min_width <= width.width <= width.max_width, name
        assert width.support >= width.width
        for follower, tensor in tensors_of(width):
            assert tensor.shape[follower.dim] == width.width, (name, follower.name, follower.role)
    for param in model.parameters():
        for key, value in optimizer.state.get(param, {}).items():
            assert value.dim() == 0 or value.shape == param.shape, key
    with torch.no_grad():
        output = recipe.run(model.eval())
    assert torch.isfinite(output).all()


def state_before(width: AdaptiveWidth, optimizer: torch.optim.Optimizer) -> list:
    return [
        (tensor.detach().clone(), {k: v.clone() for k, v in optimizer.state.get(tensor, {}).items()})
        for _, tensor in tensors_of(width)
    ]


def check_resize(
    width: AdaptiveWidth, optimizer: torch.optim.Optimizer, before: list, old: int, policy: str, fresh: dict[str, float]
) -> None:
    """Surviving entries and their state kept; new entries at their fill and the optimizer's initial state."""
    new = width.width
    keep = min(old, new)
    wiped = {id(p) for f in width.followers for p in f.module.parameters(recurse=False)}
    for (follower, tensor), (values, states) in zip(tensors_of(width), before):
        dim = follower.dim
        assert torch.equal(tensor.detach().narrow(dim, 0, keep), values.narrow(dim, 0, keep))
        if follower.fill is not None and new > old:
            assert (tensor.detach().narrow(dim, old, new - old) == follower.fill).all()
        if not isinstance(tensor, Parameter):
            continue
        if policy == "reset" and new != old:
            assert id(tensor) in wiped and tensor not in optimizer.state
            continue
        for key, saved in states.items():
            current = optimizer.state[tensor][key]
            if saved.dim() == 0:
                assert torch.equal(current, saved), key
                continue
            assert torch.equal(current.narrow(dim, 0, keep), saved.narrow(dim, 0, keep)), key
            if new > old:
                tail = current.narrow(dim, old, new - old)
                assert torch.equal(tail, torch.full_like(tail, fresh[key])), key


def check_round_trip(model: nn.Module, recipe: Recipe) -> None:
    state = model.state_dict()
    fresh = recipe.build()
    recipe.run(fresh)  # materialises lazy layers
    fresh.load_state_dict(state)
    loaded = fresh.state_dict()
    assert loaded.keys() == state.keys()
    for key, value in state.items():
        if isinstance(value, Tensor):
            assert torch.equal(loaded[key], value), key
        else:
            assert loaded[key] == value, key
    assert [w.width for _, w in adaptive_widths(fresh)] == [w.width for _, w in adaptive_widths(model)]
    with torch.no_grad():
        assert torch.equal(recipe.run(fresh.eval()), recipe.run(model.eval()))


# -- the property ------------------------------------------------------------------------------------


def run_sequence(recipe: Recipe, ops: list[tuple], optimizer_name: str) -> None:
    torch.manual_seed(0)
    make_optimizer, fresh = OPTIMIZERS[optimizer_name]
    model = recipe.build()
    recipe.run(model)  # materialises lazy layers before the optimizer sees them
    optimizer = make_optimizer(model.parameters())
    widths = [w for _, w in adaptive_widths(model)]
    check_invariants(model, optimizer, recipe)
    for op in ops:
        kind = op[0]
        if kind == "resize":
            _, index, where, policy = op
            width = widths[index % len(widths)]
            target = width.min_width + round(where * (width.max_width - width.min_width))
            before, old = state_before(width, optimizer), width.width
            width.resize_(target, optimizer, policy)
            check_resize(width, optimizer, before, old, policy, fresh)
        elif kind == "grow_and_back":
            _, index, extra = op
            width = widths[index % len(widths)]
            old = width.width
            if old + extra > width.max_width:
                continue
            renormalised = width.support == width.width
            with torch.no_grad():
                output = recipe.run(model.eval())
            before = state_before(width, optimizer)
            width.resize_(old + extra, optimizer)
            check_resize(width, optimizer, before, old, "carry", fresh)
            width.resize_(old, optimizer)
            check_resize(width, optimizer, before, old, "carry", fresh)
            if renormalised:  # the same neurons over the same support: the same function
                with torch.no_grad():
                    assert torch.equal(recipe.run(model.eval()), output)
        elif kind == "step":
            generator = torch.Generator().manual_seed(op[1])
            target = torch.randn(recipe.run(model).shape, generator=generator)
            model.train()
            optimizer.zero_grad()
            (recipe.run(model) - target).square().mean().backward()
            optimizer.step()
            update_widths(model, optimizer)
        elif kind == "roundtrip":
            check_round_trip(model, recipe)
        elif kind == "truncate":
            old = {name: w.width for name, w in adaptive_widths(model)}
            kept = truncate_(model, fraction=op[1])
            assert all(w.min_width <= kept[name] <= old[name] for name, w in adaptive_widths(model))
            # Truncation is for after training; training on needs a new optimizer.
            optimizer = make_optimizer(model.parameters())
        check_invariants(model, optimizer, recipe)


RECIPES = {
    "mlp": mlp_recipes(),
    "gin_stack": gin_stack_recipes(),
    "gcn_stack": gcn_stack_recipes(),
    "classifier": classifier_recipes(),
}


@pytest.mark.filterwarnings("ignore:adaptive width")  # capped widths warn once per layer
@pytest.mark.parametrize("family", list(RECIPES))
@PROPERTY_SETTINGS
@given(data=st.data())
def test_random_operation_sequences_keep_the_invariants(family, data):
    recipe = data.draw(RECIPES[family], label="model")
    ops = data.draw(operations(), label="operations")
    optimizer_name = data.draw(st.sampled_from(sorted(OPTIMIZERS)), label="optimizer")
    run_sequence(recipe, ops, optimizer_name)


@pytest.mark.filterwarnings("ignore:adaptive width")
@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(
    setting=width_settings(),
    k=st.floats(0.05, 0.99),
    raw=st.one_of(st.floats(-1e4, 1e4), st.sampled_from([-1e30, 1e30, 0.0])),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_any_finite_rate_gives_a_width_within_bounds_that_a_second_update_keeps(setting, k, raw, dtype):
    min_width, initial, max_width = setting
    width = AdaptiveWidth(initial_width=initial, min_width=min_width, max_width=max_width, k=k).to(dtype)
    AdaptiveMLP(3, 2, hidden=[width])
    with torch.no_grad():
        width.raw_rate.fill_(raw)
    update_widths(width)
    assert min_width <= width.width <= max_width
    assert all(t.shape[f.dim] == width.width for f, t in tensors_of(width))
    assert update_widths(width) == [], "a width update without a step changes nothing"
