"""The configuration reference, generated from the configuration checker's own tables.

``awgnn bench`` validates a configuration against :mod:`awgnn.harness.config` (the training keys with
what each expects and its default, the protocol's dataclasses), :mod:`awgnn.harness.registry` (the model
classes and their constructor arguments) and :mod:`awgnn.harness.presets`. The tables of the
documentation's configuration reference are rendered from the same objects at build time, so they
cannot drift from what the checker accepts. Only the sections' own keys (``splits.*``, ``protocol.*``,
...) carry a description written here, because the checker keeps none for them: a field added to one
of those dataclasses without a description below stops the documentation build.

This module imports no Sphinx, so the tests can call :func:`configuration_reference` directly.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from awgnn.harness.config import (
    TRAINING_KEYS,
    DatasetConfig,
    ExperimentConfig,
    ProtocolConfig,
    SplitConfig,
)
from awgnn.harness.data import OGB_DATASETS, TU_DATASETS
from awgnn.harness.presets import PRESETS
from awgnn.harness.registry import DEFAULT_POOLING, MODEL_CLASSES, ModelSpec

# The keys of the sections that the checker reads from dataclasses (which carry no descriptions).
SECTION_DESCRIPTIONS: Mapping[str, Mapping[str, str]] = {
    "top": {
        "name": "the experiment's name (a non-empty string); default: the file name without its extension",
        "dataset": "the dataset: its name as a string, or a mapping with the keys below (required)",
        "splits": "the outer folds and inner hold-out (a mapping, keys below)",
        "protocol": "the protocol's settings (a mapping, keys below)",
        "models": "one or more models, each a mapping from the model's name to the keys below (required)",
    },
    "dataset": {
        "name": "the dataset, one of the table of datasets below (required)",
        "features": "the node-feature variant, one of the dataset's variants in the table of datasets; null for "
        "its default, the first listed",
    },
    "splits": {
        "outer_folds": "outer cross-validation folds (an integer >= 1); the official split file is used when "
        "the data root has one",
        "holdout": "the inner validation share of each outer-training part (a number in the open interval (0, 1))",
        "seed": "the seed of generated stratified splits (an integer >= 0)",
    },
    "protocol": {
        "final_runs": "how often the selected configuration is retrained per fold; the fold's score is their "
        "mean (an integer >= 1)",
        "tie_break": "which configuration wins equal validation scores: 'first' or 'last' in grid order",
        "max_epochs": "the most epochs a run trains (an integer >= 1)",
        "patience": "epochs without a better validation score before a run stops early (an integer >= 1)",
        "seed": "the seed every run's own seed is derived from (an integer >= 0)",
        "device": "'auto' (CUDA when available), 'cpu' or 'cuda'",
        "loader": "'memory' (awgnn's in-memory batcher) or 'pyg' (PyG's DataLoader); the batches are equal",
    },
    "model": {
        "class": "the model class (required): one of the classes in the table of model classes, or the dotted "
        "path of any model class that follows the harness's contract (package.module.Class)",
        "grid": "a mapping from training keys and constructor arguments to candidate values; a scalar is one "
        "candidate, and a value that is itself a list is written as a list of lists",
        "preset": "a preset's name; its values fill every grid key the section leaves unset (adaptive classes only)",
    },
}

_SECTION_FIELDS: Mapping[str, Callable[[], list[str]]] = {
    "top": lambda: [f.name for f in dataclasses.fields(ExperimentConfig) if f.name != "source"],
    "dataset": lambda: [f.name for f in dataclasses.fields(DatasetConfig)],
    "splits": lambda: [f.name for f in dataclasses.fields(SplitConfig)],
    "protocol": lambda: [f.name for f in dataclasses.fields(ProtocolConfig)],
    "model": lambda: ["class", "grid", "preset"],
}
_SECTION_DEFAULTS: Mapping[str, Any] = {
    "dataset": DatasetConfig(name=""),
    "splits": SplitConfig(),
    "protocol": ProtocolConfig(),
}

TABLES = ("top", "dataset", "datasets", "splits", "protocol", "model", "training", "classes", "presets")


def yaml_value(value: Any) -> str:
    """A default as it is written in a configuration file."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    return repr(value)


def escape(text: str) -> str:
    """Plain text made safe inside reStructuredText: no character starts markup."""
    for character in "\\*`_|":
        text = text.replace(character, "\\" + character)
    return text


def literal(text: str) -> str:
    return f"``{text}``"


# A quoted value in the checker's descriptions, such as 'carry' (not an apostrophe, as in "GIN's").
_QUOTED = re.compile(r"(?<![A-Za-z])'([A-Za-z0-9_.\-]+)'(?![A-Za-z])")


def describe(text: str) -> str:
    """A description as reStructuredText: quoted values become literals, the rest is plain text."""
    parts = _QUOTED.split(text)
    return "".join(literal(part) if index % 2 else escape(part) for index, part in enumerate(parts))


def list_table(header: Iterable[str], rows: Iterable[Iterable[str]], widths: Iterable[int]) -> str:
    """A ``list-table`` directive; cells are reStructuredText already."""
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {' '.join(map(str, widths))}", ""]
    for row in [list(header), *map(list, rows)]:
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    return "\n".join(lines) + "\n"


def section_table(section: str) -> str:
    """The keys of one section of the file, with what each means and its default."""
    fields = _SECTION_FIELDS[section]()
    descriptions = SECTION_DESCRIPTIONS[section]
    missing = [name for name in fields if name not in descriptions]
    if missing:
        raise KeyError(f"configuration section {section!r}: no description for {', '.join(missing)}")
    defaults = _SECTION_DEFAULTS.get(section)
    rows = []
    for name in fields:
        default = "–" if defaults is None else literal(yaml_value(getattr(defaults, name)))
        if section == "dataset" and name == "name":
            default = "(required)"
        rows.append([literal(name), describe(descriptions[name]), default])
    return list_table(["key", "meaning", "default"], rows, [20, 60, 20])


def training_table() -> str:
    """Every training key a grid may set, as the checker describes it."""
    rows = [
        [literal(key), describe(expected), literal(yaml_value(default))]
        for key, (expected, default) in TRAINING_KEYS.items()
    ]
    return list_table(["key", "expected value", "default"], rows, [22, 60, 18])


def _arguments(spec: ModelSpec) -> list[str]:
    """A class's grid arguments as the reference lists them, with their defaults."""
    parameters = inspect.signature(spec.cls).parameters
    arguments = []
    for name in spec.arguments:
        default = DEFAULT_POOLING if name not in parameters else parameters[name].default
        arguments.append(literal(name if default is inspect.Parameter.empty else f"{name}={yaml_value(default)}"))
    return arguments


def classes_table() -> str:
    """The model classes a configuration may name, how the harness trains each, and its grid arguments."""
    rows = []
    for name, spec in MODEL_CLASSES.items():
        kind = "learned widths" if spec.adaptive else "grown widths" if spec.grows else "fixed widths"
        extras = []
        if spec.node_level:
            extras.append("node-level, pooled")
        if spec.adaptive:
            extras.append("presets")
        if spec.controllable:
            extras.append(literal("width_control"))
        if spec.grows:
            extras.append(literal("growth") + " keys")
        package = "awgnn.nn.models" if spec.node_level else "awgnn.models"
        rows.append(
            [
                f":class:`{name} <{package}.{name}>`",
                kind + (" (" + ", ".join(extras) + ")" if extras else ""),
                ", ".join(_arguments(spec)),
            ]
        )
    return list_table(["class", "widths", "constructor arguments a grid may set (default)"], rows, [22, 20, 58])


def datasets_table() -> str:
    """The datasets a configuration may name, with their node-feature variants."""
    rows = [
        [
            literal(name),
            f"TU, {spec.kind}",
            ", ".join(literal(variant) for variant in spec.feature_variants),
            str(spec.num_graphs),
            str(spec.num_classes),
        ]
        for name, spec in TU_DATASETS.items()
    ]
    rows += [
        [literal(name), f"OGB, metric {literal(metric)}", "(its own atom features; null)", "–", "–"]
        for name, metric in OGB_DATASETS.items()
    ]
    return list_table(
        ["dataset", "kind", "feature variants (default first)", "graphs", "classes"], rows, [24, 22, 30, 12, 12]
    )


def presets_table() -> str:
    """Every preset and the grid values it fills in."""
    rows = [
        [literal(name), ", ".join(literal(f"{key}: {yaml_value(value)}") for key, value in values.items())]
        for name, values in PRESETS.items()
    ]
    return list_table(["preset", "values it fills in (where the grid sets none)"], rows, [15, 85])


def table(name: str) -> str:
    """One table of the reference, by name (one of :data:`TABLES`)."""
    if name in _SECTION_FIELDS:
        return section_table(name)
    if name == "datasets":
        return datasets_table()
    if name == "training":
        return training_table()
    if name == "classes":
        return classes_table()
    if name == "presets":
        return presets_table()
    raise ValueError(f"unknown configuration table {name!r}; expected one of {', '.join(TABLES)}")


def configuration_reference() -> str:
    """Every table of the reference, in reStructuredText."""
    return "\n".join(table(name) for name in TABLES)
