import copy
import io
import pickle

import pytest
import torch
from torch import nn

from awgnn import AdaptiveLinear, AdaptiveMLP, AdaptiveWidth, freeze, truncate_, update_widths


def build(seed=0, activation="leaky_relu", embedding=False):
    torch.manual_seed(seed)
    out = AdaptiveWidth(initial_width=12) if embedding else 3
    return AdaptiveMLP(
        5,
        out,
        hidden=[AdaptiveWidth(0.1), AdaptiveWidth(0.08)],
        activation=activation,
        output_norm="batch_norm" if embedding else None,
        output_activation="relu" if embedding else None,
    )


def resized_model(**kwargs):
    model = build(**kwargs)
    first, second = model.widths[:2]
    first.resize_(first.width + 6)
    second.resize_(second.width - 9)
    model(torch.randn(16, 5))  # batch-norm statistics, when there is one
    return model.eval()


def roundtrip(state_dict):
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)


@pytest.mark.parametrize("embedding", [False, True])
def test_state_dict_loads_into_fresh_model(embedding):
    model = resized_model(embedding=embedding)
    fresh = build(seed=1, embedding=embedding)
    assert [w.width for w in fresh.widths] != [w.width for w in model.widths]
    fresh.load_state_dict(roundtrip(model.state_dict()), strict=True)
    fresh.eval()
    assert [w.width for w in fresh.widths] == [w.width for w in model.widths]
    x = torch.randn(7, 5)
    assert torch.equal(fresh(x), model(x))


def test_load_order_does_not_matter():
    """A consumer registered before its producer still loads (its hook resizes the width)."""
    torch.manual_seed(0)

    class HeadFirst(nn.Module):
        def __init__(self):
            super().__init__()
            width = AdaptiveWidth(0.1)
            self.head = None
            self.body = AdaptiveMLP(4, width, hidden=[6])
            self.head = AdaptiveLinear(width, 2)

        def forward(self, x):
            return self.head(self.body(x))

    # Register the head before the body by rebuilding the module order.
    model = HeadFirst()
    model._modules = {"head": model._modules["head"], "body": model._modules["body"]}
    width = model.body[-1]
    width.resize_(width.width + 5)
    fresh = HeadFirst()
    fresh._modules = {"head": fresh._modules["head"], "body": fresh._modules["body"]}
    fresh.load_state_dict(model.state_dict())
    x = torch.randn(3, 4)
    assert torch.equal(fresh(x), model(x))


def test_truncated_checkpoint_keeps_support():
    model = resized_model()
    truncate_(model, fraction=0.5)
    fresh = build(seed=3)
    fresh.load_state_dict(model.state_dict())
    assert [(w.width, w.support) for w in fresh.widths] == [(w.width, w.support) for w in model.widths]
    x = torch.randn(4, 5)
    assert torch.equal(fresh.eval()(x), model(x))


def test_inconsistent_checkpoint_is_refused_with_names():
    model = resized_model()
    state = model.state_dict()
    state["2._extra_state"] = dict(state["2._extra_state"], width=10**6, support=10**6)
    with pytest.raises(RuntimeError, match=r"adaptive width 2: checkpoint width 1000000"):
        build().load_state_dict(state)


def test_deepcopy_and_pickle_keep_followers_inside_the_copy():
    model = resized_model()
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        width = clone.widths[0]
        width.resize_(width.width + 2)
        assert clone[0].weight.shape[0] == width.width
        assert model[0].weight.shape[0] == model.widths[0].width != width.width


def test_reset_parameters_restores_initial_state():
    model = build(seed=0)
    initial_widths = [w.width for w in model.widths]
    initial_rates = [w.raw_rate.clone() for w in model.widths]
    states = []
    for _ in (1, 2):
        model.widths[0].resize_(model.widths[0].width + 4)
        with torch.no_grad():
            model.widths[1].raw_rate.add_(1.0)
        update_widths(model)
        torch.manual_seed(7)
        model.reset_parameters()
        assert [w.width for w in model.widths] == initial_widths
        assert all(torch.equal(w.raw_rate, r) for w, r in zip(model.widths, initial_rates))
        assert all(len(w.history) == 1 and w.history[0].reason == "reset" for w in model.widths)
        states.append({k: v.clone() for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)})
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0]), "same seed, same values"


# -- truncation ------------------------------------------------------------------------------


def test_truncate_keeps_leading_neurons_and_importances():
    model = resized_model()
    first = model.widths[0]
    f_before = first.importances().detach()
    rows_before = model[0].weight.detach().clone()
    widths = truncate_(model, width=5)
    assert widths == {"2": 5, "5": 5}
    assert torch.equal(model[0].weight, rows_before[:5])
    torch.testing.assert_close(first.importances().detach(), f_before[:5])
    truncate_(model, fraction=1.0)
    assert [w.width for w in model.widths] == [5, 5]


def test_truncate_renormalise_option():
    model = resized_model()
    truncate_(model, fraction=0.5, renormalise=True)
    for width in model.widths:
        assert width.support == width.width
        assert width.importances().sum().item() == pytest.approx(1.0, abs=1e-6)


def test_cutting_the_tail_costs_less_than_cutting_the_head():
    model = resized_model()
    x = torch.randn(64, 5)
    full = model(x).detach()
    head_cut = copy.deepcopy(model)
    cut = round(0.1 * model.widths[1].width)
    with torch.no_grad():
        head_cut[6].weight[:, :cut] = 0  # the same number of neurons, from the head
    truncate_(model, width=model.widths[1].width - cut)
    tail_error = (model(x).detach() - full).norm()
    head_error = (head_cut(x).detach() - full).norm()
    assert tail_error < head_error / 3


def test_truncate_arguments():
    model = build()
    with pytest.raises(ValueError, match="exactly one"):
        truncate_(model)
    with pytest.raises(ValueError, match="fraction must be"):
        truncate_(model, fraction=0)
    with pytest.raises(ValueError, match=r"width must be an integer in \[1, "):
        model.widths[0].truncate_(model.widths[0].width + 1)


# -- freezing ----------------------------------------------------------------------------------


def with_head(body: AdaptiveMLP) -> nn.Sequential:
    return nn.Sequential(body, AdaptiveLinear(body.widths[-1], 2))


@pytest.mark.parametrize("embedding", [False, True])
def test_freeze_gives_identical_outputs_and_no_rates(embedding):
    torch.manual_seed(0)
    model = resized_model(embedding=embedding)
    if embedding:
        model = with_head(model)
    frozen = freeze(model)
    assert not any("raw_rate" in name for name, _ in frozen.named_parameters())
    assert all(type(m).__module__.startswith("torch.") for m in frozen.modules())
    x = torch.randn(9, 5)
    torch.testing.assert_close(frozen(x), model(x), rtol=1e-5, atol=1e-6)
    before = model(x).detach().clone()
    freeze(model)
    assert torch.equal(model(x), before), "freezing leaves the original untouched"


def test_freeze_refuses_an_unread_scaled_output():
    with pytest.raises(ValueError, match="no consumer"):
        freeze(resized_model(embedding=True))


def test_freeze_after_truncation():
    model = resized_model()
    truncate_(model, fraction=0.6)
    frozen = freeze(model)
    x = torch.randn(4, 5)
    torch.testing.assert_close(frozen(x), model(x), rtol=1e-5, atol=1e-6)
    assert frozen[0].out_features == model.widths[0].width


def test_frozen_model_scripts():
    model = resized_model()
    frozen = torch.jit.script(freeze(model))
    x = torch.randn(4, 5)
    torch.testing.assert_close(frozen(x), model(x), rtol=1e-5, atol=1e-6)


def test_lazy_input_materialises_and_deepcopies():
    torch.manual_seed(0)
    model = AdaptiveMLP(-1, 2, hidden=[AdaptiveWidth(0.1)])
    clone = copy.deepcopy(model)
    assert model[0].in_features == -1
    model(torch.randn(3, 7))
    assert model[0].weight.shape == (model.widths[0].width, 7)
    clone(torch.randn(3, 4))
    assert clone[0].in_features == 4
    fresh = AdaptiveMLP(-1, 2, hidden=[AdaptiveWidth(0.1)])
    model.widths[0].resize_(30)
    fresh.load_state_dict(model.state_dict())
    x = torch.randn(2, 7)
    assert torch.equal(fresh(x), model(x))


def test_update_widths_after_load_continues_training():
    model = resized_model()
    fresh = build(seed=5)
    fresh.load_state_dict(model.state_dict())
    optimizer = torch.optim.Adam(fresh.parameters(), lr=0.01)
    loss = fresh(torch.randn(8, 5)).square().mean()
    loss.backward()
    optimizer.step()
    update_widths(fresh, optimizer)
    assert all(w.width == w.distribution.truncation_width(w.rate.item(), w.k) for w in fresh.widths)
