"""Imports point down: every privevo module imports only from its own layer and the layers it may use
(docs/architecture.md), and every subpackage states its job in a one-line docstring."""

import ast
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "src" / "privevo"
BASE = {"core", "io"}
ALLOWED = {
    "core": {"core"},
    "io": {"core", "io"},
    "accountants": {"core", "accountants"},
    "apis": BASE | {"apis"},
    "embedders": BASE | {"embedders"},
    "data": BASE | {"data"},
    "pe": BASE | {"pe"},
    "config": BASE | {"accountants", "apis", "embedders", "data", "pe", "config"},
    "models": BASE | {"accountants", "apis", "models"},
    "evaluation": BASE | {"accountants", "apis", "embedders", "data", "pe", "config", "models", "evaluation"},
    "reports": BASE | {"accountants", "apis", "embedders", "data", "pe", "config", "models", "evaluation", "reports"},
    "steps": BASE | {"accountants", "apis", "embedders", "data", "pe", "config", "models", "evaluation", "reports",
                     "steps"},
    "cli": set(),  # the top: may import anything
}


def privevo_imports(path: Path) -> set[str]:
    layers = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("privevo"):
            parts = node.module.split(".")
            layers.add(parts[1] if len(parts) > 1 else node.names[0].name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("privevo."):
                    layers.add(alias.name.split(".")[1])
    return layers


def test_every_module_sits_in_a_known_layer():
    top_level = {p.name for p in PACKAGE.iterdir() if p.suffix == ".py"}
    assert top_level == {"__init__.py", "__main__.py"}, f"modules outside the layers: {top_level}"
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(ALLOWED)


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_point_down(layer):
    if layer == "cli":
        return
    offenders = {}
    for path in (PACKAGE / layer).rglob("*.py"):
        bad = privevo_imports(path) - ALLOWED[layer]
        if bad:
            offenders[str(path.relative_to(PACKAGE))] = sorted(bad)
    assert not offenders, f"{layer} imports layers above it: {offenders}"


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_subpackage_states_its_job_in_one_line(layer):
    docstring = ast.get_docstring(ast.parse((PACKAGE / layer / "__init__.py").read_text()))
    assert docstring and "\n" not in docstring.strip(), layer
