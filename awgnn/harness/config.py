"""Experiment configuration: one YAML file, validated as a whole before any training.

A configuration names one dataset, the protocol's settings and one or more
models, each with a grid. Every grid value is a list of candidates (a scalar is
shorthand for one candidate; a value that is itself a list, such as
``hidden_units``, is written as a list of lists). Grid points are enumerated in
the order the keys and candidates are written, which is also the order ties
are broken in.

A grid key is a training key (:data:`TRAINING_KEYS`) or an argument of the
model's constructor; a training key is never passed to the constructor, even
where the constructor names a parameter so. A model's ``class`` is a
registered name or the dotted path of a model class
(:mod:`awgnn.harness.registry` has the contract such a class follows).

Errors are :class:`ConfigError`: one line naming the file, the key and what
was expected.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from awgnn.growth import WIDTH_CONTROLLERS
from awgnn.growth.gates import DEFAULT_GATE_SLOPE
from awgnn.growth.marginal import DEFAULT_SETTLE_STEPS, DEFAULT_WINDOW
from awgnn.growth.step import SELECTIONS as GROWTH_SELECTIONS
from awgnn.growth.tiny import DEFAULT_THRESHOLD as TINY_DEFAULT_THRESHOLD
from awgnn.growth.width_control import DEFAULT_MEASURED_EXAMPLES, DEFAULT_NEURON_COST
from awgnn.harness.presets import PRESETS
from awgnn.harness.registry import MODEL_CLASSES, ModelSpec, model_spec
from awgnn.models.base import POOLING_FUNCTIONS
from awgnn.width.loss import DEFAULT_WIDTH_PRIOR_CENTRE
from awgnn.width.resize import OPTIMIZER_STATE_POLICIES


class ConfigError(ValueError):
    """An invalid experiment configuration; the message is one line for the user."""


TRAINING_KEYS: dict[str, tuple[str, Any]] = {
    # key: (what is expected, default)
    "batch_size": ("an integer >= 1", 32),
    "lr": ("a number > 0", 0.01),
    "weight_decay": ("a number >= 0", 0.0),
    "scheduler_step": ("an integer >= 1 or null (no learning-rate schedule)", None),
    "scheduler_gamma": ("a number in (0, 1]", 0.5),
    "monitor": ("'val_accuracy' or 'val_loss'", "val_accuracy"),
    "loss": ("'elbo' or 'cross_entropy' (default: elbo for adaptive models)", None),
    "optimizer_state": ("'carry' or 'reset'", "carry"),
    "weight_prior_std": ("a number > 0", 10.0),
    "n_observations": ("an integer >= 1, or null for the real training-set size", None),
    "rate_prior_mean": ("a number > 0 or null", None),
    "rate_prior_std": ("a number > 0 or null", None),
    "rate_lr": ("a number > 0 or null (the rates train at lr)", None),
    "width_prior_centre": ("an integer >= 2 (neurons a layer)", DEFAULT_WIDTH_PRIOR_CENTRE),
    "width_prior_std": ("a number > 0 or null (no width prior)", None),
    # Widths set from the data against a cost per neuron (awgnn.growth.WIDTH_CONTROLLERS).
    "width_control": (
        "'marginal' (an adaptive GIN's hidden widths are fixed and set by the measured value of "
        "their last neurons against a cost per neuron), 'marginal_refit' (the same, with the next "
        "layer refitted before the last neurons are measured and when they are removed), 'gates' "
        "(hard-concrete gates on the ordered neurons past a learned cut-off per layer, the expected "
        "open gates paying the same cost) or null (the rates learn them)",
        None,
    ),
    "neuron_cost": (
        "a number > 0 (alpha, the cost in nats per parameter; a neuron of p parameters costs alpha * p / N)",
        DEFAULT_NEURON_COST,
    ),
    "width_window": (
        "a number in (0, 1] (the last neurons measured, and a decision's step, as a fraction of the width)",
        DEFAULT_WINDOW,
    ),
    "width_settle_steps": (
        "an integer >= 0 (training steps after a growth before the layer is judged again)",
        DEFAULT_SETTLE_STEPS,
    ),
    "width_measured_examples": (
        "an integer >= 1 (training examples a measurement, and a batch norms' recalibration, uses)",
        DEFAULT_MEASURED_EXAMPLES,
    ),
    "gate_slope": (
        "a number > 0 (width_control 'gates': the gates' log-odds per unit of log neuron index)",
        DEFAULT_GATE_SLOPE,
    ),
    # The growth schedule of a growing model class (awgnn.harness.train.GrowthSchedule).
    "growth": ("'s2d', 's2d_fast', 'firefly', 'tiny' or null (no growth)", None),
    "growth_warmup": ("an integer >= 0 (epochs before the first growth step)", 50),
    "growth_interval": ("an integer >= 1 (epochs between growth steps)", 10),
    "growth_stop": ("an integer >= 1 (no growth step from this epoch on) or null (max_epochs - patience)", None),
    "growth_neurons": ("an integer >= 1 (neurons a step adds over all layers; for tiny, to each layer) or null", None),
    "growth_fraction": (
        "a number in (0, 1] (of the current neurons, per step) or null (the method's "
        "reference fraction unless growth_neurons is set)",
        None,
    ),
    "growth_eps": ("a number > 0 (S2D's split offset, Firefly's new-neuron fan-out norm)", 0.01),
    "growth_offset_ratio": (
        "a number > 0 (Firefly's split offset, a fraction of the neuron's fan-in norm) or null (sqrt(growth_eps))",
        None,
    ),
    "growth_threshold": ("a number > 0 (TINY's smallest singular value that gives a neuron)", TINY_DEFAULT_THRESHOLD),
    "growth_selection": (
        "'global' (the most negative scores over all layers, as the papers) or 'per_layer' (each "
        "layer its share of a step's budget, in proportion to its size); s2d, s2d_fast, firefly",
        "global",
    ),
}

GROWTH_METHODS = ("s2d", "s2d_fast", "firefly", "tiny")
# TINY's budget when growth_neurons is null (the growth papers' reference settings: up to 8 neurons per layer and step).
TINY_NEURONS_PER_LAYER = 8
GROWTH_KEYS = tuple(key for key in TRAINING_KEYS if key.startswith("growth"))
WIDTH_CONTROLS = tuple(WIDTH_CONTROLLERS)
_MEASURED_KEYS = ("neuron_cost", "width_window", "width_settle_steps", "width_measured_examples")
# The training keys each width_control reads (the others would be ignored, so a grid may not set them).
WIDTH_CONTROL_KEYS = {
    "marginal": _MEASURED_KEYS,
    "marginal_refit": _MEASURED_KEYS,
    "gates": ("neuron_cost", "gate_slope", "width_measured_examples"),
}
# The controller's argument each of those keys sets.
WIDTH_CONTROL_ARGUMENTS = {
    "neuron_cost": "alpha",
    "width_window": "window",
    "width_settle_steps": "settle_steps",
    "width_measured_examples": "measured_examples",
    "gate_slope": "slope",
}


@dataclass(frozen=True)
class DatasetConfig:
    name: str
    features: str | None = None


@dataclass(frozen=True)
class SplitConfig:
    outer_folds: int = 10
    holdout: float = 0.1
    seed: int = 42


@dataclass(frozen=True)
class ProtocolConfig:
    final_runs: int = 3
    tie_break: str = "first"
    max_epochs: int = 1000
    patience: int = 500
    seed: int = 0
    device: str = "auto"
    loader: str = "memory"


@dataclass(frozen=True)
class ModelConfig:
    name: str
    model_class: str
    grid: dict[str, list[Any]]
    preset: str | None = None

    def points(self) -> list[dict[str, Any]]:
        """Every grid point, in the written order of keys and candidates."""
        keys = list(self.grid)
        return [dict(zip(keys, values)) for values in itertools.product(*(self.grid[k] for k in keys))]

    @property
    def spec(self) -> ModelSpec:
        return model_spec(self.model_class)


@dataclass(frozen=True)
class ExperimentConfig:
    name: str
    dataset: DatasetConfig
    splits: SplitConfig
    protocol: ProtocolConfig
    models: tuple[ModelConfig, ...]
    source: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The configuration in the YAML schema (``parse_config`` reads it back)."""
        return {
            "name": self.name,
            "dataset": asdict(self.dataset),
            "splits": asdict(self.splits),
            "protocol": asdict(self.protocol),
            "models": {
                m.name: {"class": m.model_class, "grid": m.grid, **({"preset": m.preset} if m.preset else {})}
                for m in self.models
            },
        }

    def fingerprint(self) -> str:
        """Hash of everything that decides the results (not the file's path or layout)."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment file; raise :class:`ConfigError` on any problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such configuration file")
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(error, 'problem', error)}") from None
    return parse_config(content, source=str(path), default_name=path.stem)


def parse_config(content: Any, source: str = "<config>", default_name: str = "experiment") -> ExperimentConfig:
    reader = _Reader(source)
    section = reader.mapping(
        content, "", {"name", "dataset", "splits", "protocol", "models"}, required={"dataset", "models"}
    )
    name = reader.string(section.get("name", default_name), "name")
    config = ExperimentConfig(
        name=name,
        dataset=_dataset(reader, section["dataset"]),
        splits=_splits(reader, section.get("splits", {})),
        protocol=_protocol(reader, section.get("protocol", {})),
        models=_models(reader, section["models"]),
        source=source,
    )
    for model in config.models:
        _check_growth(reader, model, config.protocol)
        _check_width_control(reader, model)
    return config


def _dataset(reader: _Reader, value: Any) -> DatasetConfig:
    if isinstance(value, str):
        value = {"name": value}
    section = reader.mapping(value, "dataset", {"name", "features"}, required={"name"})
    features = section.get("features")
    return DatasetConfig(
        name=reader.string(section["name"], "dataset.name"),
        features=None if features is None else reader.string(features, "dataset.features"),
    )


def _splits(reader: _Reader, value: Any) -> SplitConfig:
    section = reader.mapping(value, "splits", {"outer_folds", "holdout", "seed"})
    defaults = SplitConfig()
    return SplitConfig(
        outer_folds=reader.integer(section.get("outer_folds", defaults.outer_folds), "splits.outer_folds", 1),
        holdout=reader.fraction(section.get("holdout", defaults.holdout), "splits.holdout"),
        seed=reader.integer(section.get("seed", defaults.seed), "splits.seed", 0),
    )


def _protocol(reader: _Reader, value: Any) -> ProtocolConfig:
    keys = {f for f in ProtocolConfig.__dataclass_fields__}
    section = reader.mapping(value, "protocol", keys)
    d = ProtocolConfig()
    return ProtocolConfig(
        final_runs=reader.integer(section.get("final_runs", d.final_runs), "protocol.final_runs", 1),
        tie_break=reader.choice(section.get("tie_break", d.tie_break), "protocol.tie_break", ("first", "last")),
        max_epochs=reader.integer(section.get("max_epochs", d.max_epochs), "protocol.max_epochs", 1),
        patience=reader.integer(section.get("patience", d.patience), "protocol.patience", 1),
        seed=reader.integer(section.get("seed", d.seed), "protocol.seed", 0),
        device=reader.choice(section.get("device", d.device), "protocol.device", ("auto", "cpu", "cuda")),
        loader=reader.choice(section.get("loader", d.loader), "protocol.loader", ("memory", "pyg")),
    )


def _models(reader: _Reader, value: Any) -> tuple[ModelConfig, ...]:
    section = reader.mapping(value, "models", None)
    if not section:
        raise ConfigError(f"{reader.source}: models: expected at least one model, got none")
    return tuple(_model(reader, name, spec) for name, spec in section.items())


def _model(reader: _Reader, name: Any, value: Any) -> ModelConfig:
    where = f"models.{name}"
    reader.string(name, "models (model names)")
    section = reader.mapping(value, where, {"class", "grid", "preset"}, required={"class"})
    model_class = reader.string(section["class"], f"{where}.class")
    try:
        spec = model_spec(model_class)
    except ValueError as error:
        raise ConfigError(f"{reader.source}: {where}.class: {error}") from None
    taken = [key for key in spec.required if key in TRAINING_KEYS]
    if taken:
        raise reader.fail(
            f"{where}.class",
            f"a class whose constructor needs no training key ({spec.cls.__name__} requires {taken[0]!r}, "
            "which the harness keeps for training and never passes to a constructor)",
            model_class,
        )
    # A constructor with **kwargs may take any key: the build of every grid point before training checks those.
    allowed = None if spec.takes_any_keyword else set(TRAINING_KEYS) | set(spec.arguments)
    grid_section = reader.mapping(section.get("grid", {}), f"{where}.grid", allowed)
    grid = {key: _candidates(reader, values, f"{where}.grid.{key}") for key, values in grid_section.items()}
    preset = _preset(reader, section.get("preset"), spec, f"{where}.preset")
    if preset is not None:
        values = _preset_values(preset, grid)
        unknown = sorted(set(values) - allowed) if allowed is not None else []
        if unknown:
            raise reader.fail(
                f"{where}.preset",
                f"a preset whose keys {spec.cls.__name__} takes (this one sets {unknown[0]})",
                preset,
            )
        grid.update({key: [value] for key, value in values.items()})
    missing = [key for key in spec.required if key not in grid]
    if missing:
        raise ConfigError(
            f"{reader.source}: {where}.grid.{missing[0]}: missing required key ({spec.cls.__name__}'s constructor "
            "has no default for it)"
        )
    for key, values in grid.items():
        if key in TRAINING_KEYS:
            for candidate in values:
                _check_training_value(reader, key, candidate, f"{where}.grid.{key}")
        elif key == "pooling" and spec.node_level:
            for candidate in values:
                reader.choice(candidate, f"{where}.grid.pooling", tuple(POOLING_FUNCTIONS))
        elif key in spec.learned and values != [None]:
            fixed = getattr(spec.cls, "pyg_model", None)
            instead = f"; for fixed widths name {fixed.__module__}.{fixed.__name__}" if fixed is not None else ""
            raise reader.fail(
                f"{where}.grid.{key}",
                f"null ({spec.cls.__name__} learns these widths{instead})",
                next(v for v in values if v is not None),
            )
    return ModelConfig(name=name, model_class=model_class, grid=grid, preset=preset)


def _check_growth(reader: _Reader, model: ModelConfig, protocol: ProtocolConfig) -> None:
    """Growth keys only for a growing class, which trains on cross-entropy; one budget and a reachable stop."""
    spec, where = model.spec, f"models.{model.name}.grid"
    if not spec.grows:
        for key in GROWTH_KEYS:
            if key in model.grid:
                raise reader.fail(
                    f"{where}.{key}",
                    f"no {key}: {spec.cls.__name__} does not grow (growing classes: "
                    f"{', '.join(n for n, s in MODEL_CLASSES.items() if s.grows)})",
                    model.grid[key][0],
                )
        return
    if "loss" in model.grid and model.grid["loss"] != ["cross_entropy"]:
        raise reader.fail(
            f"{where}.loss",
            f"'cross_entropy' ({spec.cls.__name__} has fixed widths that only growth changes)",
            model.grid["loss"],
        )
    for point in model.points():
        if point.get("growth") is None:
            continue
        if point["growth"] == "tiny" and "growth_selection" in point:
            raise reader.fail(
                f"{where}.growth_selection",
                "no growth_selection for tiny (it grows every layer by growth_neurons)",
                point["growth_selection"],
            )
        if point["growth"] != "firefly" and point.get("growth_offset_ratio") is not None:
            raise reader.fail(
                f"{where}.growth_offset_ratio",
                f"null for {point['growth']} (only firefly splits with an offset relative to the fan-in norm)",
                point["growth_offset_ratio"],
            )
        if point["growth"] == "tiny" and point.get("growth_fraction") is not None:
            raise reader.fail(
                f"{where}.growth_fraction",
                f"null for tiny (its budget is growth_neurons per layer, default {TINY_NEURONS_PER_LAYER})",
                point["growth_fraction"],
            )
        if point.get("growth_neurons") is not None and point.get("growth_fraction") is not None:
            raise reader.fail(
                f"{where}.growth_neurons",
                "null when growth_fraction is set (a step's budget is one or the other)",
                point["growth_neurons"],
            )
        stop, warmup = point.get("growth_stop"), point.get("growth_warmup", TRAINING_KEYS["growth_warmup"][1])
        if stop is None and protocol.max_epochs - protocol.patience <= warmup:
            raise reader.fail(
                f"{where}.growth_stop",
                f"an epoch after growth_warmup={warmup} (null means "
                f"max_epochs - patience = {protocol.max_epochs - protocol.patience}: no growth step "
                "would run)",
                stop,
            )
        if stop is not None and stop <= warmup:
            raise reader.fail(
                f"{where}.growth_stop", f"an epoch after growth_warmup={warmup} (no growth step would run)", stop
            )


def _check_width_control(reader: _Reader, model: ModelConfig) -> None:
    """``width_control`` only for a class whose hidden MLP widths it can set, with cross-entropy and fixed
    embeddings; its keys only where it is set."""
    spec, where = model.spec, f"models.{model.name}.grid"
    every_key = sorted({key for keys in WIDTH_CONTROL_KEYS.values() for key in keys})
    for point in model.points():
        control = point.get("width_control")
        for key in every_key:
            if key in point and (control is None or key not in WIDTH_CONTROL_KEYS[control]):
                users = [name for name, keys in WIDTH_CONTROL_KEYS.items() if key in keys]
                raise reader.fail(
                    f"{where}.{key}",
                    f"no {key} without width_control {' or '.join(map(repr, users))} (width_control is {control!r})",
                    point[key],
                )
        if control is None:
            continue
        if not spec.controllable:
            raise reader.fail(
                f"{where}.width_control",
                f"null: {spec.cls.__name__} has no hidden MLP widths to set "
                f"(classes: {', '.join(n for n, s in MODEL_CLASSES.items() if s.controllable)})",
                point["width_control"],
            )
        if point.get("loss", "cross_entropy") != "cross_entropy":
            raise reader.fail(
                f"{where}.loss",
                "'cross_entropy' with width_control (the widths are fixed and "
                "set by measurement, not by the ELBO's rates)",
                point["loss"],
            )
        if "embedding_channels" in point and point["embedding_channels"] is None:
            raise reader.fail(
                f"{where}.embedding_channels",
                "an integer with width_control (it sets the hidden "
                "widths; a learned embedding width would still follow its rate)",
                None,
            )


def _preset(reader: _Reader, value: Any, spec: ModelSpec, where: str) -> str | None:
    """The preset's name, checked to exist and to suit the model class."""
    if value is None:
        return None
    name = reader.choice(value, where, tuple(PRESETS))
    if spec.adaptive is False:
        raise reader.fail(
            where,
            f"no preset: {spec.cls.__name__} has fixed widths (presets set how adaptive models learn them)",
            value,
        )
    return name


def _preset_values(preset: str, grid: dict[str, list[Any]]) -> dict[str, Any]:
    """The preset's values for the keys the grid leaves unset.

    A grid that sets the start as ``lambda0`` overrides the preset's
    ``initial_width`` and the other way round: a width has one start.
    """
    starts = {"lambda0", "initial_width"}
    values = {key: value for key, value in PRESETS[preset].items() if key not in grid}
    if starts & set(grid):
        values = {key: value for key, value in values.items() if key not in starts}
    return values


def _candidates(reader: _Reader, values: Any, where: str) -> list[Any]:
    if not isinstance(values, list):
        return [values]
    if not values:
        raise ConfigError(f"{reader.source}: {where}: expected at least one candidate value, got an empty list")
    return values


def _check_training_value(reader: _Reader, key: str, value: Any, where: str) -> None:
    expected = TRAINING_KEYS[key][0]
    checks = {
        "batch_size": lambda v: _is_int(v) and v >= 1,
        "lr": lambda v: _is_number(v) and v > 0,
        "weight_decay": lambda v: _is_number(v) and v >= 0,
        "scheduler_step": lambda v: v is None or (_is_int(v) and v >= 1),
        "scheduler_gamma": lambda v: _is_number(v) and 0 < v <= 1,
        "monitor": lambda v: v in ("val_accuracy", "val_loss"),
        "loss": lambda v: v in ("elbo", "cross_entropy"),
        "optimizer_state": lambda v: v in OPTIMIZER_STATE_POLICIES,
        "weight_prior_std": lambda v: _is_number(v) and v > 0,
        "n_observations": lambda v: v is None or (_is_int(v) and v >= 1),
        "rate_prior_mean": lambda v: v is None or (_is_number(v) and v > 0),
        "rate_prior_std": lambda v: v is None or (_is_number(v) and v > 0),
        "rate_lr": lambda v: v is None or (_is_number(v) and v > 0),
        "width_prior_centre": lambda v: _is_int(v) and v >= 2,
        "width_prior_std": lambda v: v is None or (_is_number(v) and v > 0),
        "growth": lambda v: v is None or v in GROWTH_METHODS,
        "growth_warmup": lambda v: _is_int(v) and v >= 0,
        "growth_interval": lambda v: _is_int(v) and v >= 1,
        "growth_stop": lambda v: v is None or (_is_int(v) and v >= 1),
        "growth_neurons": lambda v: v is None or (_is_int(v) and v >= 1),
        "growth_fraction": lambda v: v is None or (_is_number(v) and 0 < v <= 1),
        "growth_eps": lambda v: _is_number(v) and v > 0 and v != float("inf"),
        "growth_offset_ratio": lambda v: v is None or (_is_number(v) and v > 0 and v != float("inf")),
        "growth_threshold": lambda v: _is_number(v) and v > 0 and v != float("inf"),
        "growth_selection": lambda v: v in GROWTH_SELECTIONS,
        "width_control": lambda v: v is None or v in WIDTH_CONTROLS,
        "neuron_cost": lambda v: _is_number(v) and 0 < v < float("inf"),
        "width_window": lambda v: _is_number(v) and 0 < v <= 1,
        "width_settle_steps": lambda v: _is_int(v) and v >= 0,
        "width_measured_examples": lambda v: _is_int(v) and v >= 1,
        "gate_slope": lambda v: _is_number(v) and 0 < v < float("inf"),
    }
    if not checks[key](value):
        raise ConfigError(f"{reader.source}: {where}: expected {expected}, got {value!r}")


def training_settings(point: dict[str, Any], adaptive: bool | None) -> dict[str, Any]:
    """The training keys of a grid point, with defaults filled in.

    The loss defaults to the ELBO for a model whose rates learn its widths, to
    cross-entropy otherwise (fixed widths, grown or set by ``width_control``);
    ``adaptive`` ``None`` (a class named by path) leaves it ``None`` unless the
    point sets it, for the training to decide from the built model
    (:func:`default_loss`).
    """
    settings = {key: point.get(key, default) for key, (_, default) in TRAINING_KEYS.items()}
    if settings["loss"] is None and adaptive is not None:
        settings["loss"] = default_loss(adaptive, settings["width_control"])
    return settings


def default_loss(adaptive: bool, width_control: str | None) -> str:
    """The loss a grid point trains on when it sets none: the ELBO where the rates learn the widths."""
    return "elbo" if adaptive and width_control is None else "cross_entropy"


def model_arguments(point: dict[str, Any]) -> dict[str, Any]:
    """The model-constructor keys of a grid point: every key that is not a training key."""
    return {key: value for key, value in point.items() if key not in TRAINING_KEYS}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


class _Reader:
    """Type checks that raise one-line errors naming the file and the key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, expected: str, value: Any) -> ConfigError:
        return ConfigError(f"{self.source}: {where or 'top level'}: expected {expected}, got {value!r}")

    def mapping(
        self, value: Any, where: str, allowed: set[str] | None, required: set[str] = frozenset()
    ) -> dict[str, Any]:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise self.fail(where, "a mapping of keys to values", value)
        if allowed is not None:
            unknown = sorted(set(map(str, value)) - allowed)
            if unknown:
                prefix = f"{where}." if where else ""
                raise ConfigError(
                    f"{self.source}: {prefix}{unknown[0]}: unknown key; expected one of {', '.join(sorted(allowed))}"
                )
        missing = sorted(required - set(value))
        if missing:
            prefix = f"{where}." if where else ""
            raise ConfigError(f"{self.source}: {prefix}{missing[0]}: missing required key")
        return value

    def string(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(where, "a non-empty string", value)
        return value

    def integer(self, value: Any, where: str, minimum: int) -> int:
        if not _is_int(value) or value < minimum:
            raise self.fail(where, f"an integer >= {minimum}", value)
        return value

    def fraction(self, value: Any, where: str) -> float:
        if not _is_number(value) or not 0 < value < 1:
            raise self.fail(where, "a number in the open interval (0, 1)", value)
        return float(value)

    def choice(self, value: Any, where: str, choices: tuple[str, ...]) -> str:
        if value not in choices:
            raise self.fail(where, f"one of {', '.join(map(repr, choices))}", value)
        return value
