"""Params files that extend another: what merges, what replaces, and the one-line errors."""

import subprocess
import sys

import pytest
import yaml

from privevo.config.params import ParamsError, load_params, merge_params, read_params_file
from privevo.config.schedule import population_sizes

from conftest import ROOT

ABLATION = ROOT / "benchmarks" / "ablation"


def _write(path, text):
    path.write_text(text)
    return path


@pytest.fixture
def base(tmp_path):
    return _write(tmp_path / "base.yaml", (ROOT / "config" / "smoke.yaml").read_text())


def test_merge_params_merges_mappings_and_replaces_everything_else():
    base = {"pe": {"num_iterations": 8, "variation_degrees": [0.8, 0.4], "rank_top": 3}, "seed": 0}
    changes = {"pe": {"variation_degrees": [0.5], "rank_top": None}, "seed": 1}
    merged = merge_params(base, changes)
    assert merged == {"pe": {"num_iterations": 8, "variation_degrees": [0.5], "rank_top": None}, "seed": 1}
    assert base["pe"]["variation_degrees"] == [0.8, 0.4]  # the base is not modified


def test_an_overlay_changes_only_what_it_states(tmp_path, base):
    overlay = _write(tmp_path / "lever.yaml", "extends: base.yaml\nrun_name: lever\n"
                     "pe:\n  num_iterations: 3\n  variation_degrees: [0.9, 0.7, 0.5]\n")
    expected = load_params(base)
    expected["run_name"] = "lever"
    expected["pe"]["num_iterations"] = 3
    expected["pe"]["variation_degrees"] = [0.9, 0.7, 0.5]
    assert load_params(overlay) == expected


def test_a_chain_resolves_from_the_root_and_paths_are_relative_to_each_file(tmp_path, base):
    (tmp_path / "levers").mkdir()
    _write(tmp_path / "levers" / "a.yaml", "extends: ../base.yaml\nseed: 7\n")
    b = _write(tmp_path / "levers" / "b.yaml", "extends: a.yaml\nprivacy:\n  epsilon: 4\n")
    params = load_params(b)
    assert params["seed"] == 7 and params["privacy"]["epsilon"] == 4
    assert params["pe"] == load_params(base)["pe"]


def test_an_unknown_key_in_an_overlay_names_the_key(tmp_path, base):
    overlay = _write(tmp_path / "lever.yaml", "extends: base.yaml\npe:\n  num_iteration: 3\n")
    with pytest.raises(ParamsError, match=r"unknown key\(s\) in params: pe\.num_iteration$"):
        load_params(overlay)


def test_a_missing_base_is_one_line_naming_extends(tmp_path):
    overlay = _write(tmp_path / "lever.yaml", "extends: nowhere.yaml\nseed: 1\n")
    with pytest.raises(ParamsError, match=r"params key extends in .*lever\.yaml: nowhere\.yaml not found"):
        load_params(overlay)


def test_a_cycle_is_refused(tmp_path):
    _write(tmp_path / "a.yaml", "extends: b.yaml\nseed: 1\n")
    b = _write(tmp_path / "b.yaml", "extends: a.yaml\nseed: 2\n")
    with pytest.raises(ParamsError, match=r"params key extends in .*a\.yaml: b\.yaml is already in the chain "
                                          r"\(a cycle: b\.yaml -> a\.yaml -> b\.yaml\)"):
        load_params(b)


def test_extends_must_name_a_file(tmp_path):
    overlay = _write(tmp_path / "lever.yaml", "extends: [a.yaml]\n")
    with pytest.raises(ParamsError, match=r"params key extends in .*: expected the path of a params file"):
        load_params(overlay)


def test_a_file_without_extends_reads_as_written(base):
    assert read_params_file(base) == yaml.safe_load(base.read_text())


def test_every_ablation_lever_resolves_and_validates():
    levers = sorted(ABLATION.glob("*.yaml"))
    assert len(levers) >= 17
    for path in levers:
        params = load_params(path)
        # The protocol at the root of every chain: validation split, no test-split reads, 3 PE seeds.
        assert params["evaluation"]["split"] == "validation", path.name
        assert params["data"]["validation_fraction"] == 0.0833, path.name  # about 5,000 of the 60,000
        assert params["sweep"]["seeds"] == [0, 1, 2], path.name
        assert params["run_name"].startswith("ablation-"), path.name


def test_the_pop1000_lever_resolves_to_its_settings():
    params = load_params(ABLATION / "simulator-pop1000-then-diffusion.yaml")
    assert population_sizes(params) == [1000] * 5 + [200] * 4
    assert params["embedding"]["name"] == "pixels"  # from simulator-pixels.yaml, two files up its chain
    assert params["pe"]["num_nearest_neighbours"] == 10 and params["pe"]["release_size"] == 500
    assert params["pe"]["histogram_threshold"] == 21.0 and params["pe"]["histogram_threshold_unit"] == "count"
    assert params["model"] == load_params(ROOT / "config" / "ddpm.yaml")["model"]


def test_validate_params_cli_reads_an_overlay(tmp_path, base):
    overlay = _write(tmp_path / "lever.yaml", "extends: base.yaml\npe:\n  num_iteration: 3\n")
    result = subprocess.run([sys.executable, "-m", "privevo", "validate-params", "--params", str(overlay)],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "pe.num_iteration" in result.stderr and "Traceback" not in result.stderr
