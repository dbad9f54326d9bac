"""Named width settings in configurations (issue #9): validation, filling and overriding the grid."""
import pytest

from awgnn.harness.config import ConfigError, parse_config
from awgnn.harness.presets import PRESETS


def _model(**section):
    return parse_config({"dataset": "MUTAG", "models": {"awn": {"class": "AdaptiveGINClassifier", **section}}},
                        source="exp.yaml").models[0]


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
    config = parse_config({"dataset": "MUTAG", "models": {"awn": {"class": "AdaptiveGINClassifier",
                                                                  "preset": "paper", "grid": {"lr": 0.01}}}})
    again = parse_config(config.to_dict())
    assert again == config and again.fingerprint() == config.fingerprint()


def test_presets_differ_in_the_fingerprint():
    fingerprints = {parse_config({"dataset": "MUTAG", "models": {
        "awn": {"class": "AdaptiveGINClassifier", "preset": name}}}).fingerprint() for name in PRESETS}
    assert len(fingerprints) == len(PRESETS)


@pytest.mark.parametrize("section, message", [
    ({"preset": "fast"}, r"exp.yaml: models\.awn\.preset: expected one of 'paper', 'awgnn', got 'fast'"),
    ({"preset": ["awgnn"]}, r"models\.awn\.preset: expected one of"),
])
def test_an_unknown_preset_is_named(section, message):
    with pytest.raises(ConfigError, match=message):
        _model(**section)


def test_a_fixed_width_model_takes_no_preset():
    with pytest.raises(ConfigError, match=r"models\.fixed\.preset: expected no preset: GINClassifier has fixed"):
        parse_config({"dataset": "MUTAG", "models": {"fixed": {"class": "GINClassifier", "preset": "awgnn"}}})


def test_a_bad_value_set_over_a_preset_is_still_caught():
    with pytest.raises(ConfigError, match=r"models\.awn\.grid\.width_prior_std: expected a number > 0"):
        _model(preset="awgnn", grid={"width_prior_std": -1})


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds_a_model_and_an_objective(name):
    from awgnn.harness.config import model_arguments, training_settings
    from awgnn.harness.train import _objective
    from awgnn.models import AdaptiveGINClassifier

    (point,) = _model(preset=name).points()
    AdaptiveGINClassifier(7, 2, **model_arguments(point))
    assert _objective(training_settings(point, adaptive=True), 100) is not None
