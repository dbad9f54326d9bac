"""Sphinx configuration of the awgnn documentation.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` from the repository root.
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
# awgnn_docs: the configuration reference and the API checks. awgnn itself is imported as installed
# (pip install -e ".[docs]").
sys.path.insert(0, str(DOCS / "_ext"))

import awgnn  # noqa: E402

project = "awgnn"
author = "The awgnn contributors"
copyright = "The awgnn contributors"
release = awgnn.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "awgnn_docs",
]

templates_path = ["_templates"]
exclude_patterns = ["_build"]
root_doc = "index"

# API reference: one page per public name, generated from the docstrings at build time.
autosummary_generate = True
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_class_signature = "mixed"
# A method without its own docstring (forward, say) would show torch.nn.Module's; leave it out instead.
autodoc_inherit_docstrings = False
# Optional extras are imported inside the functions that need them; nothing to mock.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

html_theme = "furo"
html_title = f"awgnn {release}"
html_static_path = []
# ":func:`update_widths`\ ``(model, optimizer)``" reads as a call, not as "update_widths() (model, optimizer)".
add_function_parentheses = False
