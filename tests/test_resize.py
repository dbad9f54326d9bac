import pytest
import torch
from torch import nn

import awgnn
from awgnn import AdaptiveMLP, AdaptiveWidth, auto_update_widths, update_widths


def make_mlp(seed: int = 0) -> AdaptiveMLP:
    torch.manual_seed(seed)
    return AdaptiveMLP(4, 3, hidden=[AdaptiveWidth(0.1), AdaptiveWidth(0.1)], activation="relu").double()


def train_steps(model, optimizer, steps=3, seed=1):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 4, generator=generator, dtype=torch.float64)
    y = torch.randint(0, 3, (16,), generator=generator)
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return x


def hidden_output(model: AdaptiveMLP, x):
    """Importance-scaled activations of the first hidden layer."""
    return model[2](model[1](model[0](x)))


def test_shapes_after_grow_and_shrink():
    model = make_mlp()
    first, second = model.widths
    d1, d2 = first.width, second.width
    first.resize_(d1 + 7)
    assert model[0].weight.shape == (d1 + 7, 4) and model[0].bias.shape == (d1 + 7,)
    assert model[3].weight.shape == (d2, d1 + 7)
    assert first.importances().shape == (d1 + 7,)
    second.resize_(d2 - 5)
    assert model[3].weight.shape == (d2 - 5, d1 + 7) and model[3].bias.shape == (d2 - 5,)
    assert model[6].weight.shape == (3, d2 - 5) and model[6].bias.shape == (3,)
    assert model(torch.randn(2, 4, dtype=torch.float64)).shape == (2, 3)
    assert repr(model[3]) == f"AdaptiveLinear({d1 + 7}, {d2 - 5}, bias=True)"


def test_grow_keeps_surviving_outputs_up_to_renormalisation():
    model = make_mlp()
    first = model.widths[0]
    x = torch.randn(8, 4, dtype=torch.float64)
    old_hidden = hidden_output(model, x).detach()
    old_output = model(x).detach()
    old_f = first.importances().detach()
    d = first.width
    first.resize_(d + 10)
    new_f = first.importances().detach()
    ratio = new_f[:d] / old_f
    # Renormalising over a larger support rescales every kept importance by one constant.
    torch.testing.assert_close(ratio, torch.full_like(ratio, ratio[0].item()))
    torch.testing.assert_close(hidden_output(model, x)[:, :d].detach(), old_hidden * ratio)
    # New neurons sit at the tail of the distribution and barely change the function.
    relative_change = (model(x).detach() - old_output).norm() / old_output.norm()
    assert relative_change < 0.15


def test_grow_then_shrink_back_is_bit_identical():
    model = make_mlp()
    snapshot = {k: v.clone() for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}
    x = torch.randn(5, 4, dtype=torch.float64)
    before = model(x).detach()
    first = model.widths[0]
    d = first.width
    first.resize_(d + 9)
    first.resize_(d)
    for key, value in model.state_dict().items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, snapshot[key]), key
    assert torch.equal(model(x).detach(), before)


@pytest.mark.parametrize("optimizer_cls", [torch.optim.Adam, torch.optim.AdamW])
def test_adam_moments_carried_on_grow_and_shrink(optimizer_cls):
    model = make_mlp()
    optimizer = optimizer_cls(model.parameters(), lr=1e-2, amsgrad=True)
    train_steps(model, optimizer)
    first = model.widths[0]
    producer, consumer = model[0].weight, model[3].weight
    keys = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    before = {(id(p), k): optimizer.state[p][k].clone() for p in (producer, consumer) for k in keys}
    step_before = optimizer.state[producer]["step"].clone()
    d = first.width

    first.resize_(d + 6, optimizer)
    for key in keys:
        grown_rows = optimizer.state[producer][key]
        assert grown_rows.shape == producer.shape == (d + 6, 4)
        assert torch.equal(grown_rows[:d], before[(id(producer), key)])
        assert torch.count_nonzero(grown_rows[d:]) == 0
        grown_cols = optimizer.state[consumer][key]
        assert grown_cols.shape == consumer.shape
        assert torch.equal(grown_cols[:, :d], before[(id(consumer), key)])
        assert torch.count_nonzero(grown_cols[:, d:]) == 0
    assert torch.equal(optimizer.state[producer]["step"], step_before)

    first.resize_(d - 4, optimizer)
    for key in keys:
        assert torch.equal(optimizer.state[producer][key], before[(id(producer), key)][: d - 4])
        assert torch.equal(optimizer.state[consumer][key], before[(id(consumer), key)][:, : d - 4])


def test_sgd_momentum_carried():
    model = make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    train_steps(model, optimizer)
    first = model.widths[0]
    weight = model[0].weight
    buffer = optimizer.state[weight]["momentum_buffer"].clone()
    d = first.width
    first.resize_(d + 3, optimizer)
    assert torch.equal(optimizer.state[weight]["momentum_buffer"][:d], buffer)
    assert torch.count_nonzero(optimizer.state[weight]["momentum_buffer"][d:]) == 0


def test_reset_policy_drops_state_of_the_resized_layers_only():
    model = make_mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    train_steps(model, optimizer)
    first = model.widths[0]
    untouched = model[6].weight  # follows the second width only
    untouched_state = optimizer.state[untouched]["exp_avg"].clone()
    first.resize_(first.width + 2, optimizer, "reset")
    # As the reference, which re-creates the next layer: its bias loses its state too.
    for param in (model[0].weight, model[0].bias, model[3].weight, model[3].bias):
        assert param not in optimizer.state
    assert torch.equal(optimizer.state[untouched]["exp_avg"], untouched_state)
    assert first.raw_rate in optimizer.state


def test_parameters_keep_identity_and_stay_in_optimizer():
    model = make_mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    ids_before = [id(p) for p in model.parameters()]
    model.widths[0].resize_(model.widths[0].width + 4, optimizer)
    model.widths[1].resize_(model.widths[1].width - 3, optimizer)
    assert [id(p) for p in model.parameters()] == ids_before
    in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert all(id(p) in in_optimizer for p in model.parameters())


def test_training_step_after_resize_changes_new_neurons():
    model = make_mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = train_steps(model, optimizer)
    first = model.widths[0]
    d = first.width
    first.resize_(d + 5, optimizer)
    new_rows = model[0].weight[d:].detach().clone()
    new_cols = model[3].weight[:, d:].detach().clone()
    # Two steps: zero-state new columns move at once, new rows once gradient reaches them.
    train_steps(model, optimizer, steps=2)
    assert not torch.equal(model[3].weight[:, d:], new_cols)
    assert not torch.equal(model[0].weight[d:], new_rows)
    assert model(x).shape == (16, 3)


def test_backward_with_previous_graph_alive_after_resize():
    """A training loop keeps the previous loss alive while the next forward runs."""
    model = make_mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.randn(8, 4, dtype=torch.float64)
    loss = model(x).square().mean()
    loss.backward()
    optimizer.step()
    model.widths[0].resize_(model.widths[0].width + 3, optimizer)
    loss = model(x).square().mean()  # the old graph is released only after this forward
    loss.backward()
    optimizer.step()
    assert model[0].weight.grad.shape == model[0].weight.shape


def test_batch_norm_follower_gets_identity_entries():
    torch.manual_seed(0)
    embedding = AdaptiveWidth(initial_width=10)
    model = AdaptiveMLP(3, embedding, hidden=[8], output_norm="batch_norm", output_activation="relu")
    norm = model[3]
    model(torch.randn(32, 3))  # populate running statistics
    embedding.resize_(14)
    assert norm.num_features == 14
    assert torch.equal(norm.weight[10:].detach(), torch.ones(4))
    assert torch.equal(norm.bias[10:].detach(), torch.zeros(4))
    assert torch.equal(norm.running_mean[10:], torch.zeros(4))
    assert torch.equal(norm.running_var[10:], torch.ones(4))
    assert model(torch.randn(5, 3)).shape == (5, 14)


def test_hidden_batch_norm_follows_the_hidden_width():
    torch.manual_seed(0)
    hidden = AdaptiveWidth(initial_width=10)
    model = AdaptiveMLP(3, 4, hidden=[hidden], hidden_norm="batch_norm")
    norm = model[1]
    assert isinstance(norm, torch.nn.BatchNorm1d) and norm.num_features == 10
    model(torch.randn(32, 3))  # populate running statistics
    kept = [t.detach().clone() for t in (norm.weight, norm.bias, norm.running_mean, norm.running_var)]
    hidden.resize_(13)
    assert norm.num_features == 13
    for tensor, old, fill in zip((norm.weight, norm.bias, norm.running_mean, norm.running_var), kept, (1, 0, 0, 1)):
        assert torch.equal(tensor[:10].detach(), old)
        assert torch.equal(tensor[10:].detach(), torch.full((3,), float(fill)))
    hidden.resize_(6)
    assert norm.running_mean.shape == (6,) and torch.equal(norm.running_mean, kept[2][:6])
    assert model(torch.randn(5, 3)).shape == (5, 4)


def test_hidden_norm_is_validated():
    with pytest.raises(ValueError, match="hidden_norm must be one of 'batch_norm'"):
        AdaptiveMLP(3, 4, hidden_norm="layer_norm")


def test_update_widths_follows_rates_and_records_history():
    model = make_mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first, second = model.widths
    with torch.no_grad():
        first.raw_rate.fill_(-3.0)  # wider
        second.raw_rate.fill_(0.0)  # narrower
    changes = update_widths(model, optimizer)
    assert {c.name for c in changes} == {"2", "5"}
    assert first.width == first.distribution.truncation_width(first.rate.item(), 0.9)
    assert second.width == second.distribution.truncation_width(second.rate.item(), 0.9)
    assert first.history[-1].width == first.width and first.history[-1].reason == "update"
    assert update_widths(model, optimizer) == [], "unchanged rates give no changes"


def test_eval_forward_without_optimizer():
    model = make_mlp().eval()
    with torch.no_grad():
        out = model(torch.randn(3, 4, dtype=torch.float64))
    assert out.shape == (3, 3)


def test_resize_behind_optimizer_back_is_reported():
    model = make_mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    train_steps(model, optimizer)
    model.widths[0].resize_(model.widths[0].width + 2)  # optimizer not passed
    with pytest.raises(RuntimeError, match=r"optimizer state 'exp_avg' of parameter '0.weight'"):
        update_widths(model, optimizer)
    auto_update_widths(model, optimizer)
    with pytest.raises(RuntimeError, match="was not passed to awgnn.update_widths"):
        train_steps(model, optimizer, steps=1)


def test_auto_update_widths_resizes_on_step():
    model = make_mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.5)
    handle = auto_update_widths(model, optimizer)
    widths = [w.width for w in model.widths]
    train_steps(model, optimizer, steps=5)
    assert [w.width for w in model.widths] != widths
    for width in model.widths:
        assert width.width == width.distribution.truncation_width(width.rate.item(), 0.9)
    handle.remove()
    widths = [w.width for w in model.widths]
    train_steps(model, optimizer, steps=5)
    assert [w.width for w in model.widths] == widths


def test_factored_optimizer_state_needs_reset_policy():
    model = make_mlp()
    optimizer = torch.optim.Adafactor(model.parameters(), lr=1e-2)
    train_steps(model, optimizer)
    first = model.widths[0]
    width, shape = first.width, model[0].weight.shape
    with pytest.raises(RuntimeError, match="optimizer_state='reset'"):
        first.resize_(width + 1, optimizer)
    assert first.width == width and model[0].weight.shape == shape, "a refused resize changes nothing"
    first.resize_(width + 1, optimizer, "reset")
    train_steps(model, optimizer, steps=1)


def test_width_cannot_be_shared_between_layers():
    width = AdaptiveWidth()
    AdaptiveMLP(3, 2, hidden=[width])
    with pytest.raises(ValueError, match="its own AdaptiveWidth"):
        AdaptiveMLP(3, 2, hidden=[width])
    other = AdaptiveWidth()
    with pytest.raises(ValueError, match="its own AdaptiveWidth"):
        AdaptiveMLP(3, 2, hidden=[other, other])


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "gelu", "tanh"])
def test_fused_forward_equals_the_layers_in_sequence(activation):
    torch.manual_seed(0)
    model = AdaptiveMLP(4, 3, hidden=[AdaptiveWidth(0.1), 7, AdaptiveWidth(0.2)], activation=activation).double()
    fused = {"relu": {0, 5}, "leaky_relu": {0, 5}}.get(activation, set())  # linear, act, width triples
    assert model.fused_starts == fused
    x = torch.randn(9, 4, dtype=torch.float64)
    expected = x
    for layer in model:
        expected = layer(expected)
    torch.testing.assert_close(model(x), expected)


def test_resize_behind_auto_updates_is_caught_before_the_next_step():
    model = make_mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    auto_update_widths(model, optimizer)
    train_steps(model, optimizer, steps=2)
    model.widths[1].resize_(model.widths[1].width + 3)  # without the optimizer
    with pytest.raises(RuntimeError, match="was not passed to awgnn.update_widths"):
        train_steps(model, optimizer, steps=1)


def test_fresh_optimizer_state_is_remembered_read_only_and_not_for_tensor_hyper_parameters():
    from awgnn.width.resize import fresh_optimizer_state

    param = nn.Parameter(torch.zeros(3))
    adam = torch.optim.Adam([param], lr=0.1)
    first = fresh_optimizer_state(adam, adam.param_groups[0], torch.float32, torch.device("cpu"))
    assert set(first) == {"exp_avg", "exp_avg_sq"} and all(v.item() == 0 for v in first.values())
    assert fresh_optimizer_state(adam, adam.param_groups[0], torch.float32, torch.device("cpu")) is first
    with pytest.raises(TypeError):
        first["exp_avg"] = torch.ones(())
    listed = torch.optim.Adam([param], betas=[0.8, 0.9])  # unhashable: asked afresh
    assert set(fresh_optimizer_state(listed, listed.param_groups[0], torch.float32, torch.device("cpu"))) == {
        "exp_avg",
        "exp_avg_sq",
    }
    rprop = torch.optim.Rprop([param], lr=torch.tensor(0.3))  # a tensor may change in place: asked afresh
    state = fresh_optimizer_state(rprop, rprop.param_groups[0], torch.float32, torch.device("cpu"))
    assert state["step_size"].item() == pytest.approx(0.3)
    rprop.param_groups[0]["lr"].fill_(0.5)
    state = fresh_optimizer_state(rprop, rprop.param_groups[0], torch.float32, torch.device("cpu"))
    assert state["step_size"].item() == pytest.approx(0.5)


def test_a_truncated_layer_owns_only_its_kept_entries():
    mlp = AdaptiveMLP(4, 2, hidden=[AdaptiveWidth(initial_width=40)])
    awgnn.truncate_(mlp, fraction=0.25)
    for name, param in mlp.named_parameters():
        assert param.untyped_storage().nbytes() == param.numel() * param.element_size(), name
