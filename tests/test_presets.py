"""Named width settings in configurations (issue #9): validation, filling and overriding the grid."""

import pytest

from awgnn.growth import MarginalWidths, RefitMarginalWidths, growable_layers
from awgnn.growth.marginal import DEFAULT_WINDOW, window_size
from awgnn.growth.width_control import parameters_per_neuron
from awgnn.harness.config import ConfigError, model_arguments, parse_config, training_settings
from awgnn.harness.data import load_dataset
from awgnn.harness.presets import PRESETS
from awgnn.harness.registry import MODEL_CLASSES
from awgnn.harness.splits import generate_splits
from awgnn.harness.train import EpochHook, RunSettings, fit
from awgnn.width import ELBOLoss, adaptive_widths


def _model(**section):
    return parse_config(
        {"dataset": "MUTAG", "models": {"awn": {"class": "AdaptiveGINClassifier", **section}}}, source="exp.yaml"
    ).models[0]


@pytest.mark.parametrize("name", list(PRESETS))
def test_a_preset_fills_every_key_it_names(name):
    model = _model(preset=name, grid={"lr": 0.01})
    (point,) = model.points()
    assert point == {"lr": 0.01, **PRESETS[name]}
    assert model.preset == name


def test_the_grid_overrides_the_preset_key_by_key():
    (point,) = _model(preset="awgnn", grid={"rate_lr": 0.001}).points()
    assert point["rate_lr"] == 0.001
    assert point["width_prior_std"] == PRESETS["awgnn"]["width_prior_std"]


@pytest.mark.parametrize("start", [{"lambda0": 0.1}, {"initial_width": 40}])
def test_a_start_in_the_grid_replaces_the_presets_start(start):
    for name in PRESETS:
        (point,) = _model(preset=name, grid=start).points()
        assert {"lambda0", "initial_width"} & set(point) == set(start)


def test_a_preset_round_trips_through_to_dict_with_the_same_fingerprint():
    config = parse_config(
        {
            "dataset": "MUTAG",
            "models": {"awn": {"class": "AdaptiveGINClassifier", "preset": "paper", "grid": {"lr": 0.01}}},
        }
    )
    again = parse_config(config.to_dict())
    assert again == config and again.fingerprint() == config.fingerprint()


def test_presets_differ_in_the_fingerprint():
    fingerprints = {
        parse_config(
            {"dataset": "MUTAG", "models": {"awn": {"class": "AdaptiveGINClassifier", "preset": name}}}
        ).fingerprint()
        for name in PRESETS
    }
    assert len(fingerprints) == len(PRESETS)


@pytest.mark.parametrize(
    "section, message",
    [
        (
            {"preset": "fast"},
            r"exp.yaml: models\.awn\.preset: expected one of 'paper', 'awgnn', 'marginal', 'marginal_refit', "
            r"'gates', got 'fast'",
        ),
        ({"preset": ["awgnn"]}, r"models\.awn\.preset: expected one of"),
    ],
)
def test_an_unknown_preset_is_named(section, message):
    with pytest.raises(ConfigError, match=message):
        _model(**section)


def test_a_fixed_width_model_takes_no_preset():
    with pytest.raises(ConfigError, match=r"models\.fixed\.preset: expected no preset: GINClassifier has fixed"):
        parse_config({"dataset": "MUTAG", "models": {"fixed": {"class": "GINClassifier", "preset": "awgnn"}}})


def test_a_bad_value_set_over_a_preset_is_still_caught():
    with pytest.raises(ConfigError, match=r"models\.awn\.grid\.width_prior_std: expected a number > 0"):
        _model(preset="awgnn", grid={"width_prior_std": -1})


# -- the values a preset names reach the objective, the optimizer and the widths ---------------------


class _Capture(EpochHook):
    """Keeps what the first epoch's context holds."""

    def start_epoch(self, context):
        if context.epoch == 0:
            self.objective, self.optimizer, self.model = context.objective, context.optimizer, context.model


def _train_with_preset(name, data_root, epochs=2):
    data = load_dataset("MUTAG", data_root)
    fold = generate_splits(data.labels, n_outer=3, holdout=0.1, seed=0)[0]
    (point,) = _model(preset=name, grid={"num_layers": 2}).points()
    spec = MODEL_CLASSES["AdaptiveGINClassifier"]
    hook = _Capture()
    _, record = fit(
        data,
        fold.train,
        fold.validation,
        None,
        spec,
        model_arguments(point),
        training_settings(point, spec.adaptive),
        RunSettings(epochs, epochs, "cpu", "memory"),
        0,
        hook,
    )
    return hook, record, len(fold.train)


def test_preset_awgnn_reaches_the_elbo_and_the_optimizer(data_root):
    hook, record, n = _train_with_preset("awgnn", data_root)
    objective = hook.objective
    assert isinstance(objective, ELBOLoss) and objective.n_observations == n
    assert (objective.width_prior_std, objective.width_prior_centre, objective.weight_prior_std) == (
        PRESETS["awgnn"]["width_prior_std"],
        PRESETS["awgnn"]["width_prior_centre"],
        10.0,
    )
    assert objective.rate_prior_std is None
    weights, rates = hook.optimizer.param_groups
    assert rates["lr"] == PRESETS["awgnn"]["rate_lr"] and weights["lr"] == 0.01
    assert record["history"][0]["widths"]["block0"] == PRESETS["awgnn"]["initial_width"]


def test_preset_paper_reaches_the_elbo_and_the_optimizer(data_root):
    hook, record, _ = _train_with_preset("paper", data_root)
    assert hook.objective.width_prior_std is None and hook.objective.weight_prior_std == 10.0
    weights, rates = hook.optimizer.param_groups
    assert rates["lr"] == weights["lr"] == 0.01
    assert hook.model.input_block.output_width is None
    assert hook.model.input_block.widths[0].lambda0 == PRESETS["paper"]["lambda0"]


@pytest.mark.parametrize("name, controller", [("marginal", MarginalWidths), ("marginal_refit", RefitMarginalWidths)])
def test_preset_marginal_trains_on_cross_entropy_with_fixed_widths_and_its_cost(name, controller, data_root):
    hook, record, n = _train_with_preset(name, data_root, epochs=3)
    hooked = {getattr(h, "__self__", None) for h in hook.model._forward_pre_hooks.values()}
    assert [type(h) for h in hooked if isinstance(h, MarginalWidths)] == [controller]
    assert hook.objective is None  # cross-entropy
    widths = [w for _, w in adaptive_widths(hook.model)]
    assert widths and all(w.fixed for w in widths)
    assert all(not p.requires_grad or p.grad is None for p in hook.optimizer.param_groups[1]["params"])
    layers = {layer.name: layer for layer in growable_layers(hook.model)}
    for epoch in record["history"][1:]:
        for layer, decision in epoch["width_control"].items():
            window = window_size(decision["old"], DEFAULT_WINDOW)
            per_neuron = decision["cost"] / window
            alpha = per_neuron * n / parameters_per_neuron(layers[layer])
            assert alpha == pytest.approx(PRESETS[name]["neuron_cost"])
