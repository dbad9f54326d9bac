"""The documentation: a configuration reference that covers the checker's schema, and a short, durable README."""

import dataclasses
import importlib.util
import inspect
import re
from pathlib import Path

import pytest

from awgnn.harness.config import TRAINING_KEYS, DatasetConfig, ExperimentConfig, ProtocolConfig, SplitConfig
from awgnn.harness.data import OGB_DATASETS, TU_DATASETS
from awgnn.harness.presets import PRESETS
from awgnn.harness.registry import MODEL_CLASSES

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _load_reference_module():
    """docs/_ext/awgnn_config_reference.py, the generator the Sphinx build renders the tables with (no Sphinx)."""
    path = ROOT / "docs" / "_ext" / "awgnn_config_reference.py"
    spec = importlib.util.spec_from_file_location("awgnn_config_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference() -> str:
    return _load_reference_module().configuration_reference()


def _literals(text: str) -> set[str]:
    return set(re.findall(r"``([^`]+)``", text))


def test_every_training_key_is_in_the_configuration_reference(reference):
    literals = _literals(reference)
    missing = [key for key in TRAINING_KEYS if key not in literals]
    assert not missing, f"training keys missing from the generated reference: {missing}"


def test_every_section_key_is_in_the_configuration_reference(reference):
    literals = _literals(reference)
    sections = {
        "top": [f.name for f in dataclasses.fields(ExperimentConfig) if f.name != "source"],
        "dataset": [f.name for f in dataclasses.fields(DatasetConfig)],
        "splits": [f.name for f in dataclasses.fields(SplitConfig)],
        "protocol": [f.name for f in dataclasses.fields(ProtocolConfig)],
        "model": ["class", "grid", "preset"],
    }
    missing = [f"{section}.{key}" for section, keys in sections.items() for key in keys if key not in literals]
    assert not missing, f"section keys missing from the generated reference: {missing}"


def test_every_model_class_argument_preset_and_dataset_is_in_the_configuration_reference(reference):
    literals = _literals(reference)
    for name, spec in MODEL_CLASSES.items():
        package = "awgnn.nn.models" if spec.node_level else "awgnn.models"
        assert f"`{name} <{package}.{name}>`" in reference, name
        defaults = inspect.signature(spec.cls.__init__).parameters
        for argument in spec.arguments:
            assert any(literal.split("=")[0] == argument for literal in literals), (name, argument)
            # A node-level model's pooling is the harness's readout, not a constructor argument.
            assert argument in defaults or (spec.node_level and argument == "pooling"), (name, argument)
    for preset, values in PRESETS.items():
        assert preset in literals, preset
        assert all(any(literal.startswith(f"{key}: ") for literal in literals) for key in values), preset
    for dataset in [*TU_DATASETS, *OGB_DATASETS]:
        assert dataset in literals, dataset


def test_the_reference_shows_the_checker_s_defaults(reference):
    module = _load_reference_module()
    table = module.table("training")
    for key, (_, default) in TRAINING_KEYS.items():
        assert f"   * - ``{key}``\n" in table
        row = table.split(f"   * - ``{key}``\n", 1)[1].split("   * - ", 1)[0]
        assert row.rstrip().endswith(f"``{module.yaml_value(default)}``"), (key, row)


def test_a_section_field_without_a_description_stops_the_build():
    module = _load_reference_module()
    module.SECTION_DESCRIPTIONS = {**module.SECTION_DESCRIPTIONS, "splits": {"outer_folds": "folds"}}
    with pytest.raises(KeyError, match="no description for holdout, seed"):
        module.table("splits")


def test_the_readme_is_short_and_durable():
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    assert "../" not in text, "a path outside the repository"
    assert not re.search(r"#\d", text), "an issue number"
    assert not re.search(r"20\d\d-\d\d-\d\d", text), "a dated state of the code"


def test_the_readme_links_only_to_files_that_exist():
    for target in re.findall(r"\]\(([^)#]+)\)", README.read_text()):
        if "://" not in target:
            assert (ROOT / target).exists(), target
