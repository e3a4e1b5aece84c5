"""Every params file the project ships validates against the schema (a stale one would fail only when run)."""

import pytest

from privevo.config.params import load_params

from conftest import ROOT

SHIPPED = sorted([ROOT / "params.yaml", *(ROOT / "config").glob("*.yaml"), *(ROOT / "benchmarks").rglob("*.yaml")])


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_params_file_validates(path):
    params = load_params(path)
    assert params["pe"]["num_iterations"] >= 1
