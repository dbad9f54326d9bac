"""What a maintainer expects of the package: one version, a licence, type information, honest dependencies."""

import ast
import sys
from pathlib import Path

import pytest

import awgnn
from awgnn.harness.cli import main

tomllib = pytest.importorskip("tomllib")  # Python 3.11 on
ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# The distribution that provides each top-level module the library imports.
DISTRIBUTIONS = {
    "torch": "torch",
    "torch_geometric": "torch-geometric",
    "numpy": "numpy",
    "yaml": "pyyaml",
    "matplotlib": "matplotlib",
    "tqdm": "tqdm",
}
# Imported only inside a function that needs the optional extra it belongs to.
OPTIONAL = {"ogb", "ray", "gromo", "torch_scatter", "onnx", "onnxruntime", "onnxscript"}


def test_the_version_is_written_once_and_every_reader_agrees(capsys):
    assert awgnn.__version__ == PYPROJECT["project"]["version"]
    citation = (ROOT / "CITATION.cff").read_text()
    assert f"\nversion: {awgnn.__version__}\n" in citation
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"awgnn {awgnn.__version__}"


def test_the_licence_file_is_the_one_the_metadata_names():
    assert PYPROJECT["project"]["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_the_package_says_it_is_typed():
    assert (ROOT / "awgnn" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["awgnn"]


def _imported_top_level_modules(folder: Path) -> set[str]:
    modules = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules


def test_the_core_dependencies_are_what_the_library_imports():
    third_party = _imported_top_level_modules(ROOT / "awgnn") - set(sys.stdlib_module_names) - {"awgnn"} - OPTIONAL
    assert third_party <= DISTRIBUTIONS.keys(), f"imported but not a known core dependency: {third_party}"
    declared = {
        requirement.split(">")[0].split("=")[0].split("<")[0].strip()
        for requirement in PYPROJECT["project"]["dependencies"]
    }
    assert declared == {DISTRIBUTIONS[module] for module in third_party}
