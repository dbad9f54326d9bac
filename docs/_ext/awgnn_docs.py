"""Sphinx extension of the awgnn documentation.

* ``.. awgnn-config-table:: NAME`` renders one table of the configuration reference from the
  configuration checker's own tables (:mod:`awgnn_config_reference`), at build time.
* Every name in the ``__all__`` of a public module must be documented in the API reference, under
  its own name or as the same object under another public name; a name documented nowhere is a
  warning, so ``-W`` fails the build.
* A cross-reference to a public name through another module that exports the same object (say
  ``awgnn.width.AdaptiveMLP`` where the reference documents ``awgnn.AdaptiveMLP``) resolves to the
  documented object.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import awgnn_config_reference as reference
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import make_refnode

logger = logging.getLogger(__name__)

# The modules whose ``__all__`` is the public API.
PUBLIC_MODULES = (
    "awgnn",
    "awgnn.width",
    "awgnn.nn",
    "awgnn.nn.models",
    "awgnn.models",
    "awgnn.growth",
    "awgnn.harness",
)
# The sources the configuration reference is rendered from: a change to one rebuilds its page.
REFERENCE_SOURCES = ("harness/config.py", "harness/registry.py", "harness/presets.py", "harness/data.py")
OBJECT_TYPES = ("class", "exception", "function", "method", "data", "attribute", "property", "module")


class ConfigTable(SphinxDirective):
    """``.. awgnn-config-table:: NAME``: one generated table of the configuration reference."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        if name not in reference.TABLES:
            raise self.error(f"unknown configuration table {name!r}; expected one of {', '.join(reference.TABLES)}")
        package = Path(importlib.import_module("awgnn").__file__).parent
        for source in REFERENCE_SOURCES:
            self.env.note_dependency(str(package / source))
        return self.parse_text_to_nodes(reference.table(name))


def resolve(name: str) -> Any:
    """The object a dotted name stands for, or ``None``."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attribute in parts[split:]:
                obj = getattr(obj, attribute)
        except AttributeError:
            return None
        return obj
    return None


def documented_objects(env: BuildEnvironment) -> dict[str, tuple[str, str]]:
    """Every documented awgnn name of the Python domain: name -> (docname, node id)."""
    objects = env.get_domain("py").objects
    return {
        name: (entry.docname, entry.node_id)
        for name, entry in objects.items()
        if name.split(".")[0] == "awgnn" and entry.objtype in OBJECT_TYPES
    }


# Documented objects by identity, rebuilt once the environment is read (never pickled with it).
_BY_IDENTITY: dict[int, str] = {}


def _by_identity(env: BuildEnvironment) -> dict[int, str]:
    """Documented classes, functions and modules by object identity (values have no identity worth using)."""
    if not _BY_IDENTITY:
        for name in sorted(documented_objects(env)):
            obj = resolve(name)
            if obj is not None and (callable(obj) or isinstance(obj, type(importlib))):
                _BY_IDENTITY.setdefault(id(obj), name)
    return _BY_IDENTITY


def check_public_names(app: Sphinx, env: BuildEnvironment) -> None:
    """Warn about every public name that the API reference leaves out."""
    documented = documented_objects(env)
    by_identity = _by_identity(env)
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            full = f"{module_name}.{name}"
            if full in documented:
                continue
            obj = getattr(module, name)
            if callable(obj) and id(obj) in by_identity:
                continue
            logger.warning(
                "API reference: %s is public (in %s.__all__) but documented nowhere; add it to docs/api/",
                full,
                module_name,
                type="awgnn",
                subtype="api",
            )


def resolve_alias(app: Sphinx, env: BuildEnvironment, node: nodes.Element, contnode: nodes.Element) -> Any:
    """Resolve ``awgnn.x.Name`` to the documented page of the same object under another public name."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not target.startswith("awgnn."):
        return None
    obj = resolve(target)
    if obj is None or not callable(obj):
        return None
    name = _by_identity(env).get(id(obj))
    if name is None:
        return None
    docname, node_id = documented_objects(env)[name]
    return make_refnode(app.builder, node["refdoc"], docname, node_id, contnode, name)


def reset_cache(app: Sphinx, env: BuildEnvironment) -> None:
    _BY_IDENTITY.clear()


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("awgnn-config-table", ConfigTable)
    app.connect("env-updated", reset_cache)
    app.connect("env-check-consistency", check_public_names)
    app.connect("missing-reference", resolve_alias)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
