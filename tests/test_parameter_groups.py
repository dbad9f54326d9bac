"""The rates' own parameter group (issue #9): partition, learning rates, harness key."""

import pytest
import torch

import awgnn
from awgnn import AdaptiveMLP, AdaptiveWidth
from awgnn.harness.config import ConfigError, parse_config, training_settings
from awgnn.models import AdaptiveGINClassifier, GINClassifier


def test_groups_partition_the_parameters_and_keep_rates_apart():
    model = AdaptiveGINClassifier(7, 2, num_layers=3)
    weights, rates = awgnn.parameter_groups(model, rate_lr=1e-3)
    rate_ids = {id(w.raw_rate) for _, w in awgnn.width.adaptive_widths(model)}
    assert {id(p) for p in rates["params"]} == rate_ids and len(rates["params"]) == 3
    assert {id(p) for p in weights["params"]} | rate_ids == {id(p) for p in model.parameters()}
    assert not {id(p) for p in weights["params"]} & rate_ids
    assert rates["lr"] == 1e-3 and rates["weight_decay"] == 0.0


def test_a_fixed_model_has_one_group():
    model = GINClassifier(7, 2, num_layers=2, hidden_channels=16)
    assert len(awgnn.parameter_groups(model, rate_lr=0.5)) == 1


def test_adams_first_step_moves_each_group_by_its_own_learning_rate():
    # Adam's first update is lr * g / (|g| + eps): each parameter moves by its group's lr.
    torch.manual_seed(0)
    model = AdaptiveMLP(3, 2, hidden=[AdaptiveWidth(initial_width=20)])
    optimizer = torch.optim.Adam(awgnn.parameter_groups(model, rate_lr=1e-3), lr=1e-2, eps=1e-12)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    x, y = torch.randn(16, 3), torch.randint(0, 2, (16,))
    awgnn.ELBOLoss(16)(model, model(x), y).total.backward()
    optimizer.step()
    for name, parameter in model.named_parameters():
        moved = (parameter.detach() - before[name]).abs()
        expected = 1e-3 if name.endswith("raw_rate") else 1e-2
        assert torch.allclose(moved[moved > 0], torch.full_like(moved[moved > 0], expected), rtol=1e-4)


def test_weight_decay_never_reaches_the_rates():
    model = AdaptiveMLP(3, 2, hidden=[AdaptiveWidth(initial_width=20)])
    optimizer = torch.optim.AdamW(awgnn.parameter_groups(model), lr=1e-2, weight_decay=0.5)
    assert optimizer.param_groups[0]["weight_decay"] == 0.5
    assert optimizer.param_groups[1]["weight_decay"] == 0.0
    assert optimizer.param_groups[1]["lr"] == 1e-2


@pytest.mark.parametrize("bad", [0, -1e-3, float("nan"), True])
def test_rate_lr_is_checked(bad):
    with pytest.raises(ValueError, match="rate_lr"):
        awgnn.parameter_groups(AdaptiveMLP(3, 2, hidden=[AdaptiveWidth()]), rate_lr=bad)


def _config(rate_lr):
    return {"dataset": "MUTAG", "models": {"awn": {"class": "AdaptiveGINClassifier", "grid": {"rate_lr": rate_lr}}}}


def test_the_harness_key_rate_lr():
    config = parse_config(_config([1e-3, None]))
    points = config.models[0].points()
    assert [training_settings(p, adaptive=True)["rate_lr"] for p in points] == [1e-3, None]
    with pytest.raises(ConfigError, match=r"models\.awn\.grid\.rate_lr: expected a number > 0"):
        parse_config(_config(-1))
